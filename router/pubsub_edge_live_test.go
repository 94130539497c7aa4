package router_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestReceiveUnsubscribeDuringGapLive: a caller's SUNSUBSCRIBE
// (of every channel) sent while its Receive's node is down — the
// subscription is held nowhere, Receive waits for a node to take it back
// — is forgotten: when the node comes back, Receive subscribes again and
// never returns, although the caller unsubscribed. (rueidis's Receive
// would have returned at the dropped connection; a Receive that follows
// must remember the caller's unsubscribe across the gap.)
func TestReceiveUnsubscribeDuringGapLive(t *testing.T) {
	clustertest.Need(t, cluster)
	sctx, scancel0 := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer scancel0()
	cl, err := clustertest.Start(sctx, clustertest.Options{
		Primaries:   3,
		ExtraConfig: []string{"cluster-require-full-coverage no"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })
	ctx := liveCtx(t, 60*time.Second)
	c := newLiveClient(t, cl, router.Options{FailoverWait: 45 * time.Second})
	rc := c.Rueidis()

	ch := "{" + testKey(t) + "}"
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(ch)))
	require.NoError(t, err)

	rctx, rcancel := context.WithCancel(ctx)
	var confirms atomic.Int64
	rctx = rueidis.WithOnSubscriptionHook(rctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "ssubscribe" {
			confirms.Add(1)
		}
	})
	var wg sync.WaitGroup
	var rerr error
	var returned atomic.Bool
	goSafe(t, &wg, "Receive", func() {
		rerr = rc.Receive(rctx, rc.B().Ssubscribe().Channel(ch).Build(), func(rueidis.PubSubMessage) {})
		returned.Store(true)
	})
	t.Cleanup(func() { rcancel(); wg.Wait() })
	waitUntil(t, 10*time.Second, "subscribed", func() bool { return confirms.Load() >= 1 })

	require.NoError(t, cl.Kill(owner))
	// The caller ends every sharded subscription: the live primaries
	// answer; the dead one cannot.
	_ = rc.Do(ctx, rc.B().Sunsubscribe().Build()).Error()
	require.NoError(t, cl.Restart(ctx, owner))

	waitUntil(t, 30*time.Second, "Receive returned, or subscribed again", func() bool {
		return returned.Load() || confirms.Load() >= 2
	})
	require.True(t, returned.Load(), "Receive subscribed again after the caller's SUNSUBSCRIBE")
	assert.NoError(t, rerr)
}

// TestReceiveShardedFollowsWithoutKeyACLLive: a Receive of
// SSUBSCRIBE by a user whose ACL grants the channels but no key
// matching them (a pub/sub-only user) still follows the slot through a
// reshard. The probe that tells the server's SUNSUBSCRIBE from the
// caller's (slotMoved: EXISTS of the first channel) gets NOPERM, which
// Redis checks before the cluster redirection, and is taken for "the
// node still serves the slot": Receive returns nil as if the caller had
// unsubscribed.
func TestReceiveShardedFollowsWithoutKeyACLLive(t *testing.T) {
	cl := startAvailCluster(t, 0, "user psub on >pw +@all ~nokey:* &*")
	ctx := liveCtx(t, 60*time.Second)
	c := newLiveClient(t, cl, router.Options{Username: "psub", Password: "pw"})
	pub := newLiveClient(t, cl, router.Options{})
	rc := c.Rueidis()

	ch := "{" + testKey(t) + "}"
	slot := uint16(slots.Of(ch))
	from, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, from)

	sctx, scancel := context.WithCancel(ctx)
	var confirms, received atomic.Int64
	sctx = rueidis.WithOnSubscriptionHook(sctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "ssubscribe" {
			confirms.Add(1)
		}
	})
	var wg sync.WaitGroup
	var rerr error
	var returned atomic.Bool
	goSafe(t, &wg, "Receive", func() {
		rerr = rc.Receive(sctx, rc.B().Ssubscribe().Channel(ch).Build(), func(rueidis.PubSubMessage) { received.Add(1) })
		returned.Store(true)
	})
	t.Cleanup(func() { scancel(); wg.Wait() })
	waitUntil(t, 10*time.Second, "subscribed", func() bool { return confirms.Load() >= 1 })

	require.NoError(t, cl.MoveSlotList(ctx, from, to, []uint16{slot}))
	waitUntil(t, 20*time.Second, "resubscribed after the reshard (or Receive returned)", func() bool {
		return confirms.Load() >= 2 || returned.Load()
	})
	require.False(t, returned.Load(), "Receive returned %v after the server's SUNSUBSCRIBE, as if the caller had unsubscribed", rerr)
	waitUntil(t, 10*time.Second, "a message after the reshard", func() bool {
		_, err := pub.Do(ctx, "SPUBLISH", ch, "x")
		return err == nil && received.Load() > 0
	})
	assert.Positive(t, received.Load())
}

// TestReceiveReportsProbeLive: a Receive that takes a node's
// half-open breaker pass (its node came back) reports the success once
// the server confirms the subscription, not when Receive returns: the
// breaker closes at once, and the node's other traffic is not refused
// (ErrOpen) for a cool-down while the subscription lasts.
func TestReceiveReportsProbeLive(t *testing.T) {
	clustertest.Need(t, cluster)
	sctx, scancel0 := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer scancel0()
	cl, err := clustertest.Start(sctx, clustertest.Options{
		Primaries:   3,
		ExtraConfig: []string{"cluster-require-full-coverage no"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	const cooldown = 4 * time.Second
	c := newLiveClient(t, cl, router.Options{
		Observer:     rec,
		FailoverWait: 45 * time.Second,
		Breaker:      retry.BreakerOptions{Failures: 1, Cooldown: cooldown, MaxCooldown: cooldown, Probes: 1},
	})
	rc := c.Rueidis()

	ch := "{" + testKey(t) + "}"
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(ch)))
	require.NoError(t, err)
	breaker := func(to retry.State) []timedEvent {
		return rec.find(func(e timedEvent) bool {
			return e.Kind == router.EventBreaker && e.Addr == owner.Addr && e.To == to
		})
	}

	r := startReceive(ctx, t, rc, rc.B().Ssubscribe().Channel(ch).Build())
	r.waitConfirmed(t, 1)
	require.NoError(t, cl.Kill(owner))
	waitUntil(t, 20*time.Second, "the node's breaker open", func() bool { return len(breaker(retry.Open)) > 0 })
	require.NoError(t, cl.Restart(ctx, owner))
	r.waitConfirmed(t, 2)
	confirmedAt := time.Now()
	waitUntil(t, 30*time.Second, "the node's breaker closed", func() bool { return len(breaker(retry.Closed)) > 0 })
	closed := breaker(retry.Closed)
	assert.Less(t, closed[0].at.Sub(confirmedAt), cooldown/2, "the breaker stayed half-open with the Receive's pass in flight")
}
