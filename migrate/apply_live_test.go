package migrate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// writeKeys writes n keys k:<prefix>:i = v<i> through a router client.
func writeKeys(t *testing.T, ctx context.Context, rc *router.Client, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := rc.Do(ctx, "SET", fmt.Sprintf("k:%s:%d", prefix, i), fmt.Sprintf("v%d", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func readKeys(t *testing.T, ctx context.Context, rc *router.Client, prefix string, n int) {
	t.Helper()
	for i := range n {
		v, err := rc.Do(ctx, "GET", fmt.Sprintf("k:%s:%d", prefix, i))
		require.NoError(t, err)
		s, err := v.ToString()
		require.NoError(t, err, "key k:%s:%d", prefix, i)
		require.Equal(t, fmt.Sprintf("v%d", i), s)
	}
}

func newRouter(t *testing.T, ctx context.Context, c *clustertest.Cluster) *router.Client {
	t.Helper()
	rc, err := router.New(ctx, router.Options{Seeds: c.Addrs()})
	require.NoError(t, err)
	t.Cleanup(rc.Close)
	return rc
}

// TestApplyReshardResumeIdempotent moves 300 slots holding keys to one
// primary, checks every key, then applies the same plan again: nothing is
// left to do and nothing moves.
func TestApplyReshardResumeIdempotent(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc := newRouter(t, ctx, c)
	writeKeys(t, ctx, rc, "a", 3000)
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Slots: 300})
	require.NoError(t, err)
	var events []Event
	var mu sync.Mutex
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], KeysPerBatch: 7, Observer: func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	require.NoError(t, err)
	require.Equal(t, 300, res.Slots)
	require.Zero(t, res.AlreadyDone)
	require.Positive(t, res.Keys)
	require.Empty(t, res.Open)
	require.Equal(t, EventStart, events[0].Kind)
	require.Equal(t, EventDone, events[len(events)-1].Kind)
	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	readKeys(t, ctx, rc, "a", 3000)

	res, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
	require.NoError(t, err)
	require.Zero(t, res.Slots)
	require.Equal(t, 300, res.AlreadyDone)
}
