package router_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// hookLog records what a dedicated connection's pub/sub hooks saw.
type hookLog struct {
	mu    sync.Mutex
	kinds []string // OnSubscription's kinds
	msgs  []string
}

func (l *hookLog) hooks() rueidis.PubSubHooks {
	return rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			l.mu.Lock()
			l.msgs = append(l.msgs, m.Message)
			l.mu.Unlock()
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			l.mu.Lock()
			l.kinds = append(l.kinds, s.Kind)
			l.mu.Unlock()
		},
	}
}

func (l *hookLog) saw(kind string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.kinds, kind)
}

func (l *hookLog) got(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

// TestDedicatedSSubscribeFollowLive: on a dedicated connection with
// pub/sub hooks, the caller's own SUNSUBSCRIBE reaches OnSubscription and
// leaves the hooks on. After a live reshard of the channel's slot, the
// old owner's SUNSUBSCRIBE does not reach OnSubscription and ends the
// hooks with an error wrapping ErrSlotMoved. A new dedicated connection
// that SSUBSCRIBEs before setting its hooks (as rueidiscompat does) is
// pinned to the new owner, and EventResubscribed is reported only once
// its hooks are set.
func TestDedicatedSSubscribeFollowLive(t *testing.T) {
	rec := &eventRecorder{}
	c := newLiveClient(t, nil, router.Options{Observer: rec})
	rc := c.Rueidis()
	ctx := liveCtx(t, 30*time.Second)
	ch := "{" + testKey(t) + "}"
	slot := uint16(slots.Of(ch))
	resubs := func() []timedEvent {
		return rec.find(func(e timedEvent) bool { return e.Kind == router.EventResubscribed })
	}

	// The caller's own SUNSUBSCRIBE.
	dc, cancel := rc.Dedicate()
	var l1 hookLog
	wait := dc.SetPubSubHooks(l1.hooks())
	require.NoError(t, dc.Do(ctx, dc.B().Ssubscribe().Channel(ch).Build()).Error())
	require.NoError(t, dc.Do(ctx, dc.B().Sunsubscribe().Channel(ch).Build()).Error())
	waitUntil(t, 5*time.Second, "the caller's SUNSUBSCRIBE in OnSubscription", func() bool { return l1.saw("sunsubscribe") })
	select {
	case err := <-wait:
		t.Fatalf("the hooks ended after the caller's SUNSUBSCRIBE: %v", err)
	default:
	}
	cancel()
	err, open := <-wait
	assert.NoError(t, err)
	assert.False(t, open, "closed when the connection is given back")

	// The server's SUNSUBSCRIBE after a reshard.
	from, err := cluster.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cluster, from)
	dc, cancel = rc.Dedicate()
	var l2 hookLog
	wait = dc.SetPubSubHooks(l2.hooks())
	require.NoError(t, dc.Do(ctx, dc.B().Ssubscribe().Channel(ch).Build()).Error())
	require.NoError(t, cluster.MoveSlotList(ctx, from, to, []uint16{slot}))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		assert.NoError(t, cluster.MoveSlotList(cctx, to, from, []uint16{slot}))
	})
	select {
	case err := <-wait:
		require.ErrorIs(t, err, router.ErrSlotMoved)
		t.Logf("hooks ended: %v", err)
	case <-ctx.Done():
		t.Fatal("the hooks did not end after the reshard")
	}
	assert.False(t, l2.saw("sunsubscribe"), "the server's SUNSUBSCRIBE is not the caller's business")
	cancel()

	// Subscribed again: SSUBSCRIBE first, hooks after.
	dc, cancel = rc.Dedicate()
	defer cancel()
	require.NoError(t, dc.Do(ctx, dc.B().Ssubscribe().Channel(ch).Build()).Error())
	assert.Empty(t, resubs(), "reported before the hooks are set")
	var l3 hookLog
	wait = dc.SetPubSubHooks(l3.hooks())
	evs := resubs()
	require.Len(t, evs, 1)
	assert.Equal(t, to.Addr, evs[0].Addr, "pinned to the new owner")
	assert.Equal(t, slots.Slot(slot), evs[0].Slot)
	assert.ErrorIs(t, evs[0].Err, router.ErrSlotMoved)
	require.NoError(t, rc.Do(ctx, rc.B().Spublish().Channel(ch).Message("after").Build()).Error())
	waitUntil(t, 5*time.Second, "the message published after the event", func() bool { return l3.got("after") })
	select {
	case err := <-wait:
		t.Fatalf("the new hooks ended: %v", err)
	default:
	}
}
