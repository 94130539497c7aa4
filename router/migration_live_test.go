package router_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// otherPrimary returns a primary of cl other than n.
func otherPrimary(ctx context.Context, t *testing.T, cl *clustertest.Cluster, n *clustertest.Node) *clustertest.Node {
	t.Helper()
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	for _, p := range ps {
		if p != n {
			return p
		}
	}
	t.Fatal("no other primary")
	return nil
}

// finishOnCleanup completes a migration the test left half done.
func finishOnCleanup(t *testing.T, cl *clustertest.Cluster, slot uint16) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := cl.FinishMigration(ctx, slot); err != nil && !errors.Is(err, clustertest.ErrNoMigration) {
			t.Errorf("finish migration of slot %d: %v", slot, err)
		}
	})
}

// TestAskDuringMigrationLive sets up a half-done migration by hand: reads
// and writes of moved and unmoved keys, and of new keys, all succeed
// through ASK.
func TestAskDuringMigrationLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 90*time.Second)
	tag := "{" + t.Name() + "}"
	slot := uint16(slots.Of(tag))
	owner, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, owner)

	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{Observer: &ctr})
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", tag, i)
		_, err := c.Do(ctx, "SET", keys[i], fmt.Sprint(i))
		require.NoError(t, err)
	}
	require.NoError(t, cl.BeginMigration(ctx, slot, to))
	finishOnCleanup(t, cl, slot)
	require.NoError(t, cl.MigrateKeys(ctx, slot, keys[:5]...))

	for i, k := range keys {
		msg, err := c.Do(ctx, "GET", k)
		require.NoError(t, err, k)
		v, _ := msg.ToString()
		assert.Equal(t, fmt.Sprint(i), v, k)
	}
	_, asked, _ := ctr.Total()
	assert.GreaterOrEqual(t, asked, int64(5), "moved keys are read through ASK")
	for i, k := range keys {
		_, err := c.Do(ctx, "SET", k, fmt.Sprint(i*10))
		require.NoError(t, err, k)
		_, err = c.Do(ctx, "INCR", k)
		require.NoError(t, err, k)
	}
	newKey := tag + ":new"
	_, err = c.Do(ctx, "SET", newKey, "n")
	require.NoError(t, err, "a new key of a migrating slot is written on the target")
	// DoMulti too: every command follows its own ASK.
	var cmds []router.Cmd
	for _, k := range keys {
		cmds = append(cmds, router.C("GET", k))
	}
	res := c.DoMulti(ctx, cmds...)
	for i, r := range res {
		require.NoError(t, r.Err, keys[i])
		v, _ := r.Msg.ToString()
		assert.Equal(t, fmt.Sprint(i*10+1), v, keys[i])
	}

	require.NoError(t, cl.FinishMigration(ctx, slot))
	for i, k := range keys {
		m, err := cl.Do(ctx, to, "GET", k)
		require.NoError(t, err)
		v, _ := m.ToString()
		assert.Equal(t, fmt.Sprint(i*10+1), v, "%s on the new owner", k)
	}
	m, err := cl.Do(ctx, to, "GET", newKey)
	require.NoError(t, err)
	v, _ := m.ToString()
	assert.Equal(t, "n", v)
	moved, _, _ := ctr.Total()
	_, err = c.Do(ctx, "GET", keys[0])
	require.NoError(t, err)
	moved2, _, _ := ctr.Total()
	assert.LessOrEqual(t, moved2-moved, int64(1), "at most one MOVED, then the slot is patched")
	_, n, err := c.Route("GET", keys[0])
	require.NoError(t, err)
	assert.Equal(t, to.Addr, n.Addr())
}

// TestTryAgainDuringMigrationLive sends an MGET of same-tag keys whose
// slot is split by a migration: it gets TRYAGAIN, is retried, and
// succeeds once another goroutine finishes the migration.
func TestTryAgainDuringMigrationLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 90*time.Second)
	tag := "{" + t.Name() + "}"
	slot := uint16(slots.Of(tag))
	owner, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, owner)

	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{
		Observer: &ctr,
		Limits:   retry.Limits{MaxAttempts: 200},
		Backoff:  retry.Backoff{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond},
	})
	keys := []string{tag + ":a", tag + ":b", tag + ":c", tag + ":d"}
	for _, k := range keys {
		_, err := c.Do(ctx, "SET", k, k)
		require.NoError(t, err)
	}
	require.NoError(t, cl.BeginMigration(ctx, slot, to))
	finishOnCleanup(t, cl, slot)
	require.NoError(t, cl.MigrateKeys(ctx, slot, keys[:2]...))

	var finished atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		assert.NoError(t, cl.FinishMigration(ctx, slot))
		finished.Store(true)
	}()
	msg, err := c.Do(ctx, append([]string{"MGET"}, keys...)...)
	wg.Wait()
	require.NoError(t, err)
	vals, err := msg.AsStrSlice()
	require.NoError(t, err)
	assert.Equal(t, keys, vals)
	assert.True(t, finished.Load())
	assert.Greater(t, ctr.Retries()[retry.KindTryAgain], int64(0), "TRYAGAIN was retried")
}

// TestReshardUnderLoadLive moves 1,000 slots behind the client's back
// while goroutines do SET/GET through the router: no error surfaces.
func TestReshardUnderLoadLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 150*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ps), 2)
	from, to := ps[0], ps[1]
	if have, _ := cl.SlotsOf(ctx, from); len(have) < 1000 {
		from, to = to, from
	}

	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{Observer: &ctr})
	stop := make(chan struct{})
	var ops, failures atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200000; i++ { // bounded; normally stopped first
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("%s:%d:%d", t.Name(), g, i%500)
				var err error
				if i%2 == 0 {
					_, err = c.Do(ctx, "SET", k, fmt.Sprint(i))
				} else {
					_, err = c.Do(ctx, "GET", k)
					if err != nil && isNil(err) {
						err = nil
					}
				}
				ops.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // pipelines too
		defer wg.Done()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var cmds []router.Cmd
			for j := range 10 {
				k := fmt.Sprintf("%s:multi:%d", t.Name(), (i*10+j)%700)
				if j%2 == 0 {
					cmds = append(cmds, router.C("SET", k, "v"))
				} else {
					cmds = append(cmds, router.C("GET", k))
				}
			}
			for _, r := range c.DoMulti(ctx, cmds...) {
				ops.Add(1)
				if r.Err != nil && !isNil(r.Err) {
					failures.Add(1)
					err := r.Err
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}
	}()
	moved, err := cl.MoveSlots(ctx, from, to, 1000)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Len(t, moved, 1000)
	m, a, r := ctr.Total()
	t.Logf("%d operations while moving 1000 slots; MOVED %d, ASK %d, retries %d", ops.Load(), m, a, r)
	if e := firstErr.Load(); e != nil {
		t.Errorf("first error: %v", *e)
	}
	assert.Zero(t, failures.Load(), "no error surfaces")
	assert.Greater(t, ops.Load(), int64(100))
	assert.Greater(t, m, int64(0), "the slots moved behind the client's back")
}
