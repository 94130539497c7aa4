package router_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// The caller's code that rueidis runs on its reader goroutine (pub/sub
// hooks, the subscription hook, a cache store) or that the refresher
// runs (the Logger, the topology Observer) must not crash the process
// nor skip the client's own work when it panics.

// TestDedicatedHookPanicEndsHooksLive: a dedicated connection's
// OnMessage hook that panics (on rueidis's reader goroutine) ends the
// hooks with an error wrapping ErrPanic on the channel SetPubSubHooks
// returned, reported to the PanicObserver; the client still works.
func TestDedicatedHookPanicEndsHooksLive(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	obs := &panicObserver{}
	c := newLiveClient(t, nil, router.Options{Observer: obs})
	r := c.Rueidis()
	ch := testKey(t, "ch")
	d, cancel := r.Dedicate()
	defer cancel()
	errs := d.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(rueidis.PubSubMessage) { panic("user hook") }})
	require.NoError(t, d.Do(ctx, d.B().Subscribe().Channel(ch).Build()).Error())
	// PUBLISH counts only the node's own subscribers: publish until the
	// message reaches the hook, however the cluster routes it.
	var err error
	for ended := false; !ended; {
		_, perr := c.Do(ctx, "PUBLISH", ch, "m")
		require.NoError(t, perr)
		select {
		case err = <-errs:
			ended = true
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.ErrorIs(t, err, router.ErrPanic)
	assert.Positive(t, obs.panics.Load(), "the PanicObserver heard of it")
	_, err = c.Do(ctx, "PING")
	assert.NoError(t, err)
}

// TestReceiveSubscriptionHookPanicLive: rueidis.WithOnSubscriptionHook's
// hook, which rueidis calls on its reader goroutine, panics: Receive
// returns an error wrapping ErrPanic, reported to the PanicObserver —
// the face's Receive, a dedicated connection's and a node's.
func TestReceiveSubscriptionHookPanicLive(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	obs := &panicObserver{}
	c := newLiveClient(t, nil, router.Options{Observer: obs})
	r := c.Rueidis()
	hctx := rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { panic("user subscription hook") })
	d, cancel := r.Dedicate()
	defer cancel()
	var node rueidis.Client
	for _, n := range r.Nodes() {
		node = n
		break
	}
	require.NotNil(t, node)
	for name, cl := range map[string]rueidis.CoreClient{"face": r, "dedicated": d, "node": node} {
		before := obs.panics.Load()
		err := cl.Receive(hctx, cl.B().Subscribe().Channel(testKey(t, "ch", name)).Build(), func(rueidis.PubSubMessage) {})
		require.ErrorIs(t, err, router.ErrPanic, name)
		assert.Greater(t, obs.panics.Load(), before, "%s: the PanicObserver heard of it", name)
	}
}

// panicStore is a client-side cache store whose Update panics (rueidis
// calls it on its reader goroutine) and counts its calls.
type panicStore struct{ calls *atomic.Int64 }

func (s panicStore) Flight(string, string, time.Duration, time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	s.calls.Add(1)
	return rueidis.RedisMessage{}, nil
}
func (s panicStore) Update(string, string, rueidis.RedisMessage) int64 { panic("user store") }
func (s panicStore) Cancel(string, string, error)                      { s.calls.Add(1) }
func (s panicStore) Delete([]rueidis.RedisMessage)                     { s.calls.Add(1) }
func (s panicStore) Close(error)                                       {}

// TestCacheStorePanicLive: the user's cache store (NewCacheStoreFn)
// panics in Update: the DoCache fails with an error wrapping ErrPanic,
// reported to the PanicObserver; the broken store is not called again
// and the next DoCache of the connection reads the node, uncached.
func TestCacheStorePanicLive(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	obs := &panicObserver{}
	var calls atomic.Int64
	c := newLiveClient(t, nil, router.Options{
		Observer:          obs,
		ClientSideCaching: true,
		ClientOption: rueidis.ClientOption{
			NewCacheStoreFn: func(rueidis.CacheStoreOption) rueidis.CacheStore { return panicStore{calls: &calls} },
		},
	})
	k := testKey(t, "k")
	_, err := c.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	r := c.Rueidis()
	err = r.DoCache(ctx, r.B().Get().Key(k).Cache(), time.Minute).Error()
	require.ErrorIs(t, err, router.ErrPanic)
	assert.Positive(t, obs.panics.Load(), "the PanicObserver heard of it")
	before := calls.Load()
	for range 2 {
		v, err := r.DoCache(ctx, r.B().Get().Key(k).Cache(), time.Minute).ToString()
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	}
	assert.Equal(t, before, calls.Load(), "the broken store was called again")
}

// panicHandler is a slog.Handler whose Handle panics.
type panicHandler struct{}

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("user logger") }
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panicHandler) WithGroup(string) slog.Handler           { return h }

// TestLoggerPanicKeepsTopologyWorkLive: a Logger that panics when the
// first topology is logged (on the refresher's goroutine) skips neither
// the client's own work on the change nor the user's topology Observer,
// and the panic is reported to the PanicObserver.
func TestLoggerPanicKeepsTopologyWorkLive(t *testing.T) {
	var published atomic.Int64
	obs := &panicObserver{}
	c := newLiveClient(t, nil, router.Options{
		Observer: obs,
		Topology: topology.Options{Observer: topology.ObserverFunc(func(e topology.RefreshEvent) {
			if e.New != nil && !e.Changes.Empty() {
				published.Add(1)
			}
		})},
		Logger: slog.New(panicHandler{}),
	})
	ctx := liveCtx(t, 10*time.Second)
	require.Eventually(t, func() bool { return published.Load() > 0 }, 10*time.Second, 10*time.Millisecond,
		"the user's topology Observer did not see the first snapshot")
	assert.Positive(t, obs.panics.Load(), "the Logger's panic was reported to no PanicObserver")
	_, err := c.Do(ctx, "PING")
	assert.NoError(t, err)
}
