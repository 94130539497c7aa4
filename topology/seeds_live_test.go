package topology

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// silentSeed returns the address of a loopback listener that accepts
// connections, reads what it is sent and never answers. Its cleanup closes
// the listener and every connection.
func silentSeed(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				_ = c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// patient returns options whose node and dial timeouts are long (10 s),
// so that waiting for a silent node would show.
func patient(seeds ...string) Options {
	o := Options{Seeds: seeds, NodeTimeout: 10 * time.Second, Period: NoPeriodicRefresh, MinInterval: time.Millisecond}
	o.ClientOption.Dialer.Timeout = 10 * time.Second
	return o
}

// TestLiveNewSilentSeed: a seed that accepts and never answers costs
// nothing when another seed answers, whichever comes first; the silent
// node's dial does not hold Close up either.
func TestLiveNewSilentSeed(t *testing.T) {
	c := clustertest.Need(t, cluster)
	good := c.Addrs()[0]
	for _, goodFirst := range []bool{false, true} {
		name := "silent,good"
		if goodFirst {
			name = "good,silent"
		}
		t.Run(name, func(t *testing.T) {
			ctx := liveCtx(t, 30*time.Second)
			silent := silentSeed(t)
			seeds := []string{silent, good}
			if goodFirst {
				seeds = []string{good, silent}
			}
			rec := &eventRecorder{}
			opts := patient(seeds...)
			opts.Observer = rec
			start := time.Now()
			r, err := New(ctx, opts)
			took := time.Since(start)
			require.NoError(t, err)
			t.Logf("New with seeds %v (NodeTimeout %v) returned in %v", name, opts.NodeTimeout, took)
			assert.Less(t, took, opts.NodeTimeout/2, "New waited for the silent seed")
			assert.True(t, r.Current().Covered())
			evs := rec.all()
			require.Len(t, evs, 1)
			assert.ElementsMatch(t, seeds, evs[0].Asked, "both seeds asked")
			assert.Equal(t, []string{good}, evs[0].Answered)

			start = time.Now()
			r.Close()
			took = time.Since(start)
			t.Logf("Close returned in %v", took)
			assert.Less(t, took, opts.NodeTimeout/2, "Close waited for the silent seed's dial")
		})
	}
}

// TestLiveNewSilentSeedGroups: seeds asked one at a time (NodesPerRefresh
// 1), three of four silent: the next seed is asked SeedGroupDelay after the
// previous one, without giving up the slow ones, so New does not wait
// NodeTimeout per silent seed.
func TestLiveNewSilentSeedGroups(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	good := c.Addrs()[0]
	rec := &eventRecorder{}
	opts := patient(silentSeed(t), silentSeed(t), silentSeed(t), good)
	opts.NodesPerRefresh = 1
	opts.Observer = rec
	start := time.Now()
	r, err := New(ctx, opts)
	took := time.Since(start)
	require.NoError(t, err)
	t.Logf("New with 3 silent seeds and a good one, one per group (NodeTimeout %v) returned in %v", opts.NodeTimeout, took)
	assert.Less(t, took, opts.NodeTimeout/2, "New waited for the silent seeds")
	evs := rec.all()
	require.Len(t, evs, 1)
	assert.Equal(t, []string{good}, evs[0].Answered)
	assert.Contains(t, evs[0].Asked, good)
	r.Close()
}

// TestLiveNewAllSeedsSilent: when no seed answers, New fails with
// ErrNoNodeAnswered once NodeTimeout ends (the seeds are not asked one
// group after the other), or once ctx ends.
func TestLiveNewAllSeedsSilent(t *testing.T) {
	clustertest.Need(t, cluster)
	t.Run("NodeTimeout", func(t *testing.T) {
		ctx := liveCtx(t, 30*time.Second)
		opts := patient(silentSeed(t), silentSeed(t), silentSeed(t))
		opts.NodeTimeout = 2 * time.Second
		opts.NodesPerRefresh = 1
		start := time.Now()
		_, err := New(ctx, opts)
		took := time.Since(start)
		t.Logf("New with 3 silent seeds, one per group (NodeTimeout %v) failed after %v: %v", opts.NodeTimeout, took, err)
		require.ErrorIs(t, err, ErrNoNodeAnswered)
		assert.GreaterOrEqual(t, took, opts.NodeTimeout)
		// Asked one after the other, the seeds would take 3*NodeTimeout.
		assert.Less(t, took, opts.NodeTimeout+2*SeedGroupDelay+1500*time.Millisecond, "the seeds were asked one after the other")
	})
	t.Run("ctx", func(t *testing.T) {
		opts := patient(silentSeed(t), silentSeed(t))
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := New(ctx, opts)
		took := time.Since(start)
		t.Logf("New with 2 silent seeds (ctx 500ms, NodeTimeout %v) failed after %v: %v", opts.NodeTimeout, took, err)
		require.ErrorIs(t, err, ErrNoNodeAnswered)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, took, opts.NodeTimeout/2, "New (or its Close) waited for the silent seeds")
	})
}

// TestLiveRefreshFrozenNode: a refresh that asks every node, one of them
// frozen (SIGSTOP), ends long before NodeTimeout with the views of the
// others; so does the digest probe of the periodic refresh.
func TestLiveRefreshFrozenNode(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	opts := patient()
	opts.Observer = rec
	opts.NodesPerRefresh = len(c.Nodes()) // every known node is asked
	r := newLive(ctx, t, c, opts)
	require.NoError(t, r.Refresh(ctx)) // connect to every node
	loader := r.src.(*Loader)

	// A replica: a frozen primary would be failed over.
	_, frozen := primaryWithReplica(ctx, t, c)
	require.NoError(t, c.Pause(frozen))
	t.Cleanup(func() {
		if err := c.Resume(frozen); err != nil {
			t.Errorf("resume %s: %v", frozen, err)
		}
		require.NoError(t, c.WaitHealthy(liveCtx(t, 60*time.Second)))
	})

	var all []string // c.Addrs() leaves paused nodes out
	for _, nd := range c.Nodes() {
		all = append(all, nd.Addr)
	}
	require.Contains(t, all, frozen.Addr)
	n := len(rec.all())
	start := time.Now()
	require.NoError(t, r.Refresh(ctx))
	took := time.Since(start)
	t.Logf("refresh asking %d nodes, %s frozen (NodeTimeout %v): %v", opts.NodesPerRefresh, frozen, opts.NodeTimeout, took)
	assert.Less(t, took, opts.NodeTimeout/2, "the refresh waited for the frozen node")
	ev, ok := rec.find(n, func(e RefreshEvent) bool { return e.New != nil })
	require.True(t, ok)
	assert.Contains(t, ev.Asked, frozen.Addr)
	assert.NotContains(t, ev.Answered, frozen.Addr)
	assert.NotEmpty(t, ev.Answered)
	assert.False(t, ev.FromSeeds)
	assert.True(t, r.Current().Covered())

	start = time.Now()
	replies := loader.Probe(ctx, all)
	took = time.Since(start)
	t.Logf("probe of %d nodes, one frozen: %v", len(replies), took)
	assert.Less(t, took, opts.NodeTimeout/2, "the probe waited for the frozen node")
	require.Len(t, replies, len(all))
	for _, rep := range replies {
		if rep.Addr == frozen.Addr {
			assert.Error(t, rep.Err, "the frozen node answered")
		}
	}
	assert.True(t, slices.ContainsFunc(replies, func(r NodeReply) bool { return r.Err == nil }))
}
