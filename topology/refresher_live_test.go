package topology

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLiveTriggerStorm: 1,000 goroutines calling Trigger at once return at
// once, and the servers receive at most 2 topology fetches per minimum gap,
// counted by the servers themselves (INFO commandstats).
func TestLiveTriggerStorm(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	const gap = 300 * time.Millisecond
	rec := &eventRecorder{}
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh, MinInterval: gap, Observer: rec})
	perFetch := int64(min(DefaultNodesPerRefresh, len(c.Nodes())))

	// One burst: 1,000 goroutines, released together.
	before := shardsCalls(ctx, t, c)
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	var slowest atomic.Int64
	for range 1000 {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-release
			t0 := time.Now()
			r.Trigger("storm")
			if d := int64(time.Since(t0)); d > slowest.Load() {
				slowest.Store(d) // racy max: good enough for a loose bound
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(release)
	done.Wait()
	burst := time.Since(t0)
	assert.Less(t, burst, gap, "1,000 triggers must return well within one gap")
	assert.Less(t, time.Duration(slowest.Load()), gap, "no single Trigger may wait")
	// Let every fetch the burst may cause finish: at most 2 (one for the
	// burst, one for triggers that landed while it ran).
	time.Sleep(3 * gap)
	calls := sumDelta(before, shardsCalls(ctx, t, c))
	t.Logf("burst of 1,000 triggers: %v, CLUSTER SHARDS received: %d (%d per fetch)", burst, calls, perFetch)
	assert.GreaterOrEqual(t, calls, perFetch, "the burst must cause a fetch")
	assert.LessOrEqual(t, calls, 2*perFetch, "at most 2 fetches for one burst")

	// A sustained storm: 1,000 goroutines triggering for a while.
	before = shardsCalls(ctx, t, c)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.Trigger("sustained")
				time.Sleep(time.Millisecond)
			}
		})
	}
	window := 1500 * time.Millisecond
	start := time.Now()
	time.Sleep(window)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(3 * gap)
	elapsed += 3 * gap
	calls = sumDelta(before, shardsCalls(ctx, t, c))
	gaps := int64(elapsed/gap) + 1
	t.Logf("sustained storm over %v: CLUSTER SHARDS received: %d (limit %d)", elapsed, calls, 2*perFetch*gaps)
	assert.GreaterOrEqual(t, calls, perFetch)
	assert.LessOrEqual(t, calls, 2*perFetch*gaps, "at most 2 fetches per gap")
	for _, e := range rec.all() {
		assert.NoError(t, e.Err)
	}
}

// TestLivePeriodicDigest: a periodic refresh whose digests did not change
// skips the rebuild; once the cluster changed behind the refresher's back,
// the next periodic refresh rebuilds (on a cluster of its own,
// reshapeCluster).
func TestLivePeriodicDigest(t *testing.T) {
	c := reshapeCluster(t)
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	r := newLive(ctx, t, c, Options{Period: 200 * time.Millisecond, Observer: rec})
	start := r.Current()

	eventually(ctx, t, "a skipped periodic refresh", func() bool {
		_, ok := rec.find(0, func(e RefreshEvent) bool { return e.Cause == CausePeriodic && e.Skipped })
		return ok
	})
	ev, _ := rec.find(0, func(e RefreshEvent) bool { return e.Skipped })
	assert.True(t, ev.Probed)
	assert.Nil(t, ev.New)
	assert.NotEmpty(t, ev.Answered)
	// Skipped refreshes publish nothing: the snapshot is the same pointer
	// unless a non-skipped refresh happened.
	rebuilt := false
	for _, e := range rec.all() {
		if e.New != nil && e.Cause != CauseInitial {
			rebuilt = true
		}
	}
	if !rebuilt {
		assert.Same(t, start, r.Current())
	}

	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	owned, err := c.SlotsOf(ctx, ps[0])
	require.NoError(t, err)
	slot := owned[len(owned)-1]
	n := len(rec.all())
	require.NoError(t, c.MoveSlot(ctx, slot, ps[1]))
	eventually(ctx, t, "a periodic rebuild after the change", func() bool {
		p, ok := r.Current().Primary(slots.Slot(slot))
		return ok && p.Addr == ps[1].Addr
	})
	// A periodic tick may also land between SETSLOT IMPORTING and SETSLOT
	// NODE: the CLUSTER NODES digest includes the [slot->-id] markers, so
	// it rebuilds with nothing moved. Look for the rebuild that moved the
	// slot. The snapshot is published before the observer hears of it:
	// wait for the event too.
	movedSlot := func(e RefreshEvent) bool {
		if e.Cause != CausePeriodic || e.New == nil {
			return false
		}
		for _, m := range e.Changes.Moved {
			if m.Range.Start <= slots.Slot(slot) && slots.Slot(slot) <= m.Range.End {
				return true
			}
		}
		return false
	}
	eventually(ctx, t, "the change found by a periodic refresh", func() bool {
		_, ok := rec.find(n, movedSlot)
		return ok
	})
	ev, ok := rec.find(n, movedSlot)
	require.True(t, ok, "the change was found by a periodic refresh")
	assert.True(t, ev.Probed)
	assert.False(t, ev.Skipped)
	// And it settles again.
	m := len(rec.all())
	eventually(ctx, t, "skipping again", func() bool {
		_, ok := rec.find(m, func(e RefreshEvent) bool { return e.Skipped })
		return ok
	})
	require.NoError(t, c.MoveSlot(ctx, slot, ps[0]))
}

// TestLiveNoNodeAnswers: every seed is a closed loopback port. New fails;
// with StartUnavailable the Refresher keeps trying with exponential
// backoff, Refresh returns the error, and the dial attempts over a window
// stay few (no busy loop).
func TestLiveNoNodeAnswers(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	seeds := closedAddrs(t, 2)

	_, err := New(ctx, Options{Seeds: seeds})
	require.ErrorIs(t, err, ErrNoNodeAnswered)

	var dials atomic.Int64
	rec := &eventRecorder{}
	opts := Options{
		Seeds:            seeds,
		StartUnavailable: true,
		MinInterval:      20 * time.Millisecond,
		MaxBackoff:       400 * time.Millisecond,
		Observer:         rec,
	}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, "tcp", addr)
	}
	r, err := New(ctx, opts)
	require.NoError(t, err)
	defer r.Close()
	assert.False(t, r.Current().Covered())
	assert.Empty(t, r.Current().Nodes())

	err = r.Refresh(ctx)
	require.ErrorIs(t, err, ErrNoNodeAnswered)
	assert.ErrorContains(t, err, seeds[0])

	before := dials.Load()
	window := 2 * time.Second
	time.Sleep(window)
	attempts := dials.Load() - before
	// Waits (half fixed): >= 20ms, 40, 80, 160, 200, 200... so at most
	// about 2s/200ms + 4 attempts of 2 dials each in the window.
	t.Logf("%d dials in %v", attempts, window)
	assert.LessOrEqual(t, attempts, int64(2*(int(window/(200*time.Millisecond))+5)), "busy loop")
	assert.GreaterOrEqual(t, attempts, int64(2), "it keeps retrying")

	evs := rec.all()
	require.GreaterOrEqual(t, len(evs), 3)
	for i, e := range evs {
		require.ErrorIs(t, e.Err, ErrNoNodeAnswered)
		assert.True(t, e.FromSeeds)
		assert.Equal(t, i+1, e.Failures)
		assert.LessOrEqual(t, e.Backoff, opts.MaxBackoff)
		if i > 0 {
			assert.Contains(t, []Cause{CauseRetry, CauseRefresh}, e.Cause)
		}
	}
	assert.Greater(t, evs[len(evs)-1].Backoff, evs[0].Backoff, "the backoff grows")
}

// TestLiveDNSSeedsAndAddrHook: seeds given as DNS names are resolved (by
// the injected resolver) again on every fall-back to the seeds, and the
// address hook is applied to every address the library dials.
func TestLiveDNSSeedsAndAddrHook(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)

	// Announced "127.0.0.1:P" becomes "node-P.test:P"; the dialer (the only
	// place that sees it) sends it back to 127.0.0.1:P. Everything the
	// library dials after the seeds must be a mapped address.
	hook := func(a string) string {
		h, p, err := net.SplitHostPort(a)
		if err != nil || h != "127.0.0.1" {
			return a
		}
		return "node-" + p + ".test:" + p
	}
	var mu sync.Mutex
	dialed := map[string]int{}
	var lookups atomic.Int64
	opts := Options{
		Seeds:       []string{"seed.test:" + strings.Split(c.Addrs()[0], ":")[1]},
		MapAddr:     hook,
		Period:      NoPeriodicRefresh,
		MinInterval: 10 * time.Millisecond,
		LookupHost: func(ctx context.Context, host string) ([]string, error) {
			lookups.Add(1)
			if host != "seed.test" {
				return nil, errors.New("no such host")
			}
			return []string{"127.0.0.1"}, nil
		},
	}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		mu.Lock()
		dialed[addr]++
		mu.Unlock()
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", p))
	}
	r := newLive(ctx, t, c, opts)
	assert.Equal(t, int64(1), lookups.Load(), "the seed name was resolved once")
	s := r.Current()
	require.True(t, s.Covered())
	for _, n := range s.Nodes() {
		assert.Equal(t, hook(n.Announced), n.Addr)
		assert.True(t, strings.HasPrefix(n.Announced, "127.0.0.1:"), n.Announced)
		got, ok := s.NodeByAddr(n.Announced)
		assert.True(t, ok && got == n)
	}
	assert.Equal(t, "node-7000.test:7000", r.MapAddr("127.0.0.1:7000"))

	require.NoError(t, r.Refresh(ctx))
	mu.Lock()
	for a := range dialed {
		assert.True(t, strings.HasPrefix(a, "node-") || strings.HasPrefix(a, "127.0.0.1:"), "dialed %s", a)
	}
	mapped := 0
	for a := range dialed {
		if strings.HasPrefix(a, "node-") {
			mapped++
		}
	}
	mu.Unlock()
	assert.Positive(t, mapped, "known nodes are dialed by their mapped address")

	// A MOVED target goes through the hook too (ApplyMoved maps unknown
	// targets with the snapshot's hook).
	x := slots.Slot(100)
	owner, _ := s.Primary(x)
	var other *Node
	for _, sh := range r.Current().Shards() {
		if sh.Primary.ID != owner.ID && len(sh.Ranges) > 0 {
			other = sh.Primary
		}
	}
	require.NotNil(t, other)
	res := r.ApplyMoved(x, other.Announced)
	require.NotNil(t, res.To)
	assert.Equal(t, hook(other.Announced), res.To.Addr)
	p, _ := r.Current().Primary(x)
	assert.Equal(t, hook(other.Announced), p.Addr)

	// Known nodes that never answer (the hook now sends every node to a
	// closed port) make every refresh fall back to the seeds, resolved again.
	dead := closedAddrs(t, 1)[0]
	_, deadPort, _ := net.SplitHostPort(dead)
	opts.MapAddr = func(a string) string { return "node-" + deadPort + ".test:" + deadPort }
	rec := &eventRecorder{}
	opts.Observer = rec
	lookups.Store(0)
	r2 := newLive(ctx, t, c, opts)
	require.NoError(t, r2.Refresh(ctx))
	require.NoError(t, r2.Refresh(ctx))
	assert.Equal(t, int64(3), lookups.Load(), "resolved again on every fall-back")
	for _, e := range rec.all() {
		assert.True(t, e.FromSeeds)
		assert.NoError(t, e.Err)
	}
}
