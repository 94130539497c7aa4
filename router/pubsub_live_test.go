package router_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// receiving is a Receive running on its own goroutine: the messages it
// got, the subscription confirmations it saw (through the caller's
// WithOnSubscriptionHook), and its result once it returned.
type receiving struct {
	cancel   context.CancelFunc
	confirms atomic.Int64
	done     chan struct{}
	err      error

	mu   sync.Mutex
	msgs []rueidis.PubSubMessage
}

// startReceive runs rc.Receive(cmd) until ctx ends or cancel is called.
func startReceive(ctx context.Context, t *testing.T, rc rueidis.Client, cmd rueidis.Completed) *receiving {
	t.Helper()
	r := &receiving{done: make(chan struct{})}
	ctx, r.cancel = context.WithCancel(ctx)
	ctx = rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" || s.Kind == "psubscribe" || s.Kind == "ssubscribe" {
			r.confirms.Add(1)
		}
	})
	go func() {
		defer close(r.done)
		defer func() {
			if v := recover(); v != nil {
				r.err = fmt.Errorf("Receive panicked: %v", v)
			}
		}()
		r.err = rc.Receive(ctx, cmd, func(m rueidis.PubSubMessage) {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		r.cancel()
		<-r.done
	})
	return r
}

// messages returns a copy of the messages received so far.
func (r *receiving) messages() []rueidis.PubSubMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rueidis.PubSubMessage(nil), r.msgs...)
}

// waitConfirmed waits until n confirmations were seen.
func (r *receiving) waitConfirmed(t *testing.T, n int64) {
	t.Helper()
	waitUntil(t, 10*time.Second, "subscription confirmed", func() bool { return r.confirms.Load() >= n })
}

// result waits for Receive to return and gives its error.
func (r *receiving) result(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Receive did not return")
		return nil
	}
}

// TestReceiveSubscribeLive: SUBSCRIBE through the face receives what
// PUBLISH sends; Receive returns nil after the caller's UNSUBSCRIBE
// (through the face's Do), ctx.Err() when ctx ends.
func TestReceiveSubscribeLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	ch := testKey(t, "ch")
	r := startReceive(ctx, t, rc, rc.B().Subscribe().Channel(ch, ch+"2").Build())
	r.waitConfirmed(t, 2)
	for i := range 20 {
		require.NoError(t, rc.Do(ctx, rc.B().Publish().Channel(ch).Message(strconv.Itoa(i)).Build()).Error())
	}
	require.NoError(t, rc.Do(ctx, rc.B().Publish().Channel(ch+"2").Message("other").Build()).Error())
	waitUntil(t, 10*time.Second, "21 messages", func() bool { return len(r.messages()) >= 21 })
	// PUBLISH goes to any primary: the cluster bus does not keep the
	// order of messages published on different nodes.
	want := []rueidis.PubSubMessage{{Channel: ch + "2", Message: "other"}}
	for i := range 20 {
		want = append(want, rueidis.PubSubMessage{Channel: ch, Message: strconv.Itoa(i)})
	}
	assert.ElementsMatch(t, want, r.messages())
	// UNSUBSCRIBE through the face reaches the subscription's node:
	// Receive returns nil.
	require.NoError(t, rc.Do(ctx, rc.B().Unsubscribe().Channel(ch, ch+"2").Build()).Error())
	require.NoError(t, r.result(t))

	r = startReceive(ctx, t, rc, rc.B().Subscribe().Channel(ch).Build())
	r.waitConfirmed(t, 1)
	r.cancel()
	assert.ErrorIs(t, r.result(t), context.Canceled)
}

// TestReceivePSubscribeLive: PSUBSCRIBE receives the messages of the
// channels its pattern matches, with the pattern.
func TestReceivePSubscribeLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	pat := testKey(t, "news") + ".*"
	r := startReceive(ctx, t, rc, rc.B().Psubscribe().Pattern(pat).Build())
	r.waitConfirmed(t, 1)
	for _, ch := range []string{"a", "b", "c"} {
		_, err := c.Do(ctx, "PUBLISH", testKey(t, "news")+"."+ch, ch)
		require.NoError(t, err)
	}
	_, err := c.Do(ctx, "PUBLISH", testKey(t, "sports"), "no")
	require.NoError(t, err)
	waitUntil(t, 10*time.Second, "3 messages", func() bool { return len(r.messages()) >= 3 })
	var got []string
	for _, m := range r.messages() {
		assert.Equal(t, pat, m.Pattern)
		assert.Equal(t, testKey(t, "news")+"."+m.Message, m.Channel)
		got = append(got, m.Message)
	}
	assert.ElementsMatch(t, []string{"a", "b", "c"}, got) // any order: PUBLISH goes to any primary
	require.NoError(t, rc.Do(ctx, rc.B().Punsubscribe().Build()).Error())
	require.NoError(t, r.result(t))
}

// TestReceiveSSubscribeLive: SSUBSCRIBE subscribes on the channels'
// slot's primary and receives what SPUBLISH (routed by channel, through
// the face and through Do) sends; the caller's own SUNSUBSCRIBE on that
// node ends Receive with nil, and is not mistaken for a slot move.
func TestReceiveSSubscribeLive(t *testing.T) {
	rec := &eventRecorder{}
	c := newLiveClient(t, nil, router.Options{Observer: rec})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	ch := "{" + testKey(t) + "}ch"
	slot, node, err := c.Route("SPUBLISH", ch, "m") // the table learned from COMMAND
	require.NoError(t, err)
	assert.Equal(t, slots.Of(ch), slot, "SPUBLISH routes by its channel")
	slot, _, err = router.Route(c.Topology().Current(), router.DefaultTable(), router.ReadPrimary, "SPUBLISH", ch, "m")
	require.NoError(t, err)
	assert.Equal(t, slots.Of(ch), slot, "SPUBLISH routes by its channel (static table)")
	r := startReceive(ctx, t, rc, rc.B().Ssubscribe().Channel(ch, ch+"2").Build())
	r.waitConfirmed(t, 2)

	n, err := rc.Do(ctx, rc.B().Spublish().Channel(ch).Message("typed").Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "one subscriber")
	msg, err := c.Do(ctx, "SPUBLISH", ch+"2", "plain")
	require.NoError(t, err)
	n, _ = msg.AsInt64()
	assert.Equal(t, int64(1), n)
	waitUntil(t, 10*time.Second, "2 messages", func() bool { return len(r.messages()) >= 2 })
	assert.Equal(t, []rueidis.PubSubMessage{{Channel: ch, Message: "typed"}, {Channel: ch + "2", Message: "plain"}}, r.messages())

	// The caller's SUNSUBSCRIBE (through the face, routed by channel to
	// the subscription's connection): Receive returns nil, nothing is
	// followed. The same through the node's client.
	require.NoError(t, rc.Do(ctx, rc.B().Sunsubscribe().Channel(ch, ch+"2").Build()).Error())
	require.NoError(t, r.result(t))
	r = startReceive(ctx, t, rc, rc.B().Ssubscribe().Channel(ch).Build())
	r.waitConfirmed(t, 1)
	nc := rc.Nodes()[node.Addr()]
	require.NotNil(t, nc)
	require.NoError(t, nc.Do(ctx, nc.B().Sunsubscribe().Channel(ch).Build()).Error())
	require.NoError(t, r.result(t))
	assert.Empty(t, rec.find(func(e timedEvent) bool { return e.Kind == router.EventResubscribed }))
	err = rc.Do(ctx, rc.B().Sunsubscribe().Channel("user:1", "user:2").Build()).Error()
	assert.ErrorIs(t, err, router.ErrCrossSlot)
}

// TestReceiveInputLive: bad input is refused with a typed error before
// anything is sent; Receive after Close, and Close during Receive, end
// with rueidis.ErrClosing (and router.ErrClosed).
func TestReceiveInputLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	fn := func(rueidis.PubSubMessage) {}
	var nilCtx context.Context
	err := rc.Receive(nilCtx, rc.B().Subscribe().Channel("a").Build(), fn)
	assert.ErrorIs(t, err, router.ErrBadCommand)
	assert.ErrorIs(t, rc.Receive(ctx, rc.B().Subscribe().Channel("a").Build(), nil), router.ErrBadCommand)
	assert.ErrorIs(t, rc.Receive(ctx, rueidis.Completed{}, fn), router.ErrBadCommand)
	err = rc.Receive(ctx, rc.B().Get().Key("a").Build(), fn)
	assert.ErrorIs(t, err, router.ErrBadCommand)
	assert.Contains(t, err.Error(), "GET")
	err = rc.Receive(ctx, rc.B().Ssubscribe().Channel().Build(), fn)
	assert.ErrorIs(t, err, router.ErrBadCommand)
	assert.Contains(t, err.Error(), "without a channel")

	err = rc.Receive(ctx, rc.B().Ssubscribe().Channel("user:1", "user:2").Build(), fn)
	var cse *router.CrossSlotError
	require.ErrorAs(t, err, &cse)
	assert.ErrorIs(t, err, router.ErrCrossSlot)
	assert.Contains(t, err.Error(), "user:1")
	assert.Contains(t, err.Error(), "user:2")

	ch := testKey(t, "ch")
	r := startReceive(ctx, t, rc, rc.B().Subscribe().Channel(ch).Build())
	r.waitConfirmed(t, 1)
	_, err = c.Do(ctx, "PUBLISH", ch, "x")
	require.NoError(t, err)
	waitUntil(t, 10*time.Second, "a message", func() bool { return len(r.messages()) == 1 })

	c.Close()
	err = r.result(t)
	assert.ErrorIs(t, err, rueidis.ErrClosing)
	assert.ErrorIs(t, err, router.ErrClosed)
	err = rc.Receive(ctx, rc.B().Subscribe().Channel("a").Build(), fn)
	assert.ErrorIs(t, err, rueidis.ErrClosing)
	assert.ErrorIs(t, err, router.ErrClosed)
}

// TestReceiveConnDropLive: when the server drops the subscription's
// connection (CLIENT KILL TYPE pubsub), SUBSCRIBE and SSUBSCRIBE
// subscribe again — reported as EventResubscribed — and keep receiving;
// the caller's WithOnReceiveReturnHook runs once, at the end.
func TestReceiveConnDropLive(t *testing.T) {
	rec := &eventRecorder{}
	c := newLiveClient(t, nil, router.Options{Observer: rec})
	rc := c.Rueidis()
	ctx := liveCtx(t, 30*time.Second)
	ch := "{" + testKey(t) + "}"
	var returns atomic.Int64
	rctx := rueidis.WithOnReceiveReturnHook(ctx, func(err error, _ rueidis.CommandClient) error {
		returns.Add(1)
		return err
	})
	shard := startReceive(rctx, t, rc, rc.B().Ssubscribe().Channel(ch+"s").Build())
	classic := startReceive(rctx, t, rc, rc.B().Subscribe().Channel(ch+"c").Build())
	shard.waitConfirmed(t, 1)
	classic.waitConfirmed(t, 1)

	cl := clustertest.Need(t, cluster)
	for _, n := range cl.Nodes() {
		_, err := cl.Do(ctx, n, "CLIENT", "KILL", "TYPE", "pubsub")
		require.NoError(t, err)
	}
	shard.waitConfirmed(t, 2)
	classic.waitConfirmed(t, 2)
	// A classic subscription may have moved to a node killed next: it
	// follows again. Publish until both receive.
	waitUntil(t, 10*time.Second, "messages after the drop", func() bool {
		_, err := c.Do(ctx, "SPUBLISH", ch+"s", "after")
		require.NoError(t, err)
		_, err = c.Do(ctx, "PUBLISH", ch+"c", "after")
		require.NoError(t, err)
		return len(shard.messages()) > 0 && len(classic.messages()) > 0
	})
	evs := rec.find(func(e timedEvent) bool { return e.Kind == router.EventResubscribed })
	var sharded, classics int
	for _, e := range evs {
		assert.Error(t, e.Err, "the cause")
		if e.Slot == router.NoSlot {
			classics++
			continue
		}
		sharded++
		assert.Equal(t, slots.Of(ch), e.Slot)
		_, owner, err := c.Route("SPUBLISH", ch+"s", "m")
		require.NoError(t, err)
		assert.Equal(t, owner.Addr(), e.Addr)
	}
	assert.Equal(t, 1, sharded, "the sharded subscription followed once: %v", evs)
	assert.GreaterOrEqual(t, classics, 1, "the classic subscription followed: %v", evs)
	assert.Zero(t, returns.Load(), "no return hook while following")
	shard.cancel()
	classic.cancel()
	assert.ErrorIs(t, shard.result(t), context.Canceled)
	assert.ErrorIs(t, classic.result(t), context.Canceled)
	assert.Equal(t, int64(2), returns.Load(), "one return hook per Receive")
}

// seqRecorder is the EventObserver of the follow test: it counts the
// resubscriptions, and moves the phase on at each (see
// TestReceiveShardedFollowsSlotLive).
type seqRecorder struct {
	eventRecorder
	phase *atomic.Int32
}

func (r *seqRecorder) OnEvent(e router.Event) {
	if e.Kind == router.EventResubscribed {
		// 0 -> 1: resubscribed after the reshard; 2 -> 3: after the
		// kill; 4 -> 5: after the manual failover.
		if p := r.phase.Load(); p%2 == 0 {
			r.phase.CompareAndSwap(p, p+1)
		}
	}
	r.eventRecorder.OnEvent(e)
}

// TestReceiveShardedFollowsSlotLive is the test: a sharded
// subscription keeps receiving every message published after its slot
// moves in a live reshard (the server's SUNSUBSCRIBE), after a kill -9
// failover of its new shard, and after a manual failover back — counted:
// every message whose SPUBLISH began after the EventResubscribed of each
// move, and succeeded, is received.
// A client that has not seen the reshard subscribes through the MOVED.
func TestReceiveShardedFollowsSlotLive(t *testing.T) {
	cl := startAvailCluster(t, 0)
	ctx := liveCtx(t, 90*time.Second)
	var phase atomic.Int32
	rec := &seqRecorder{phase: &phase}
	c := newLiveClient(t, cl, router.Options{Observer: rec})
	pub := newLiveClient(t, cl, router.Options{})
	staleMoved := &router.Counters{}
	stale := newLiveClient(t, cl, router.Options{Observer: staleMoved, Topology: topology.Options{Period: topology.NoPeriodicRefresh}})
	rc := c.Rueidis()

	ch := "{" + testKey(t) + "}"
	slot := uint16(slots.Of(ch))
	from, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, from)

	var got sync.Map // seq -> true
	var received atomic.Int64
	sctx, scancel := context.WithCancel(ctx)
	var confirms atomic.Int64
	sctx = rueidis.WithOnSubscriptionHook(sctx, func(rueidis.PubSubSubscription) { confirms.Add(1) })
	var wg sync.WaitGroup
	var rerr error
	goSafe(t, &wg, "Receive", func() {
		rerr = rc.Receive(sctx, rc.B().Ssubscribe().Channel(ch).Build(), func(m rueidis.PubSubMessage) {
			got.Store(m.Message, true)
			received.Add(1)
		})
	})
	t.Cleanup(func() { scancel(); wg.Wait() })
	waitUntil(t, 10*time.Second, "subscribed", func() bool { return confirms.Load() >= 1 })

	// The publisher: a separate client, one SPUBLISH every 2 ms, each
	// noted with the phase it began in.
	type published struct {
		seq   string
		phase int32
	}
	var (
		pmu  sync.Mutex
		pubs []published
		stop = make(chan struct{})
		pwg  sync.WaitGroup
	)
	var after [6]atomic.Int64 // successful publishes per phase
	goSafe(t, &pwg, "publisher", func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p := phase.Load()
			seq := strconv.Itoa(i)
			if _, err := pub.Do(ctx, "SPUBLISH", ch, seq); err != nil {
				continue // not published (or not known to be): not counted
			}
			after[p].Add(1)
			pmu.Lock()
			pubs = append(pubs, published{seq: seq, phase: p})
			pmu.Unlock()
		}
	})
	stopPub := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		pwg.Wait()
	}
	t.Cleanup(stopPub)
	waitUntil(t, 10*time.Second, "messages before the reshard", func() bool { return received.Load() >= 50 })

	// 1. Reshard: the slot moves to another primary; its old owner
	// unsubscribes the channel.
	require.NoError(t, cl.MoveSlotList(ctx, from, to, []uint16{slot}))
	waitUntil(t, 20*time.Second, "resubscribed after the reshard", func() bool { return phase.Load() >= 1 })
	waitUntil(t, 10*time.Second, "messages after the reshard", func() bool { return after[1].Load() >= 100 })

	// A client whose topology still has the slot at its old owner (no
	// periodic refresh, nothing sent since): its SSUBSCRIBE gets MOVED
	// and follows.
	srecv := startReceive(ctx, t, stale.Rueidis(), stale.Rueidis().B().Ssubscribe().Channel(ch).Build())
	srecv.waitConfirmed(t, 1)
	assert.Positive(t, staleMoved.Moved()[from.Addr], "the subscription followed a MOVED from the old owner")
	waitUntil(t, 10*time.Second, "the stale client's subscriber receives", func() bool { return len(srecv.messages()) > 0 })
	srecv.cancel()
	assert.ErrorIs(t, srecv.result(t), context.Canceled)

	// 2. kill -9 of the slot's new owner: its replica takes over.
	reps, err := cl.ReplicasOf(ctx, to)
	require.NoError(t, err)
	require.NotEmpty(t, reps)
	// Redis 7.0.13-7.0.15 may have left the replica with the slot just
	// imported flagged "owner not claiming" (a stale message of to); the
	// flag would survive its promotion, and when to comes back (Restart
	// below) its old claim would take the slot from the new primary for
	// good. The flag lives in memory only: restart the replica first (see
	// clustertest's TestReshapes).
	for _, r := range reps {
		require.NoError(t, cl.Kill(r))
		require.NoError(t, cl.Restart(ctx, r))
	}
	phase.Store(2)
	require.NoError(t, cl.Kill(to))
	promoted, err := cl.WaitFailover(ctx, to)
	require.NoError(t, err)
	waitUntil(t, 30*time.Second, "resubscribed after the failover", func() bool { return phase.Load() >= 3 })
	waitUntil(t, 10*time.Second, "messages after the failover", func() bool { return after[3].Load() >= 100 })

	// 3. The killed node comes back as a replica and takes its slots
	// back (CLUSTER FAILOVER): the demoted node unsubscribes the channel.
	require.NoError(t, cl.Restart(ctx, to))
	phase.Store(4)
	require.NoError(t, cl.Failover(ctx, to))
	waitUntil(t, 20*time.Second, "resubscribed after the manual failover", func() bool { return phase.Load() >= 5 })
	waitUntil(t, 10*time.Second, "messages after the manual failover", func() bool { return after[5].Load() >= 100 })
	stopPub()

	// Every message published after a resubscription was reported
	// arrives (poll: the subscriber may still be reading the last ones).
	pmu.Lock()
	all := append([]published(nil), pubs...)
	pmu.Unlock()
	missing := func(phases ...int32) (out []string) {
		for _, p := range all {
			for _, ph := range phases {
				if p.phase == ph {
					if _, ok := got.Load(p.seq); !ok {
						out = append(out, p.seq)
					}
				}
			}
		}
		return out
	}
	assert.Eventually(t, func() bool { return len(missing(1, 3, 5)) == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, missing(1, 3, 5), "messages published after EventResubscribed and lost")
	t.Logf("published: %d before the reshard's resubscription (%d of them lost in its gap), %d after it, %d from the kill to its resubscription (%d lost), %d after it, %d from the manual failover to its resubscription (%d lost), %d after it; received %d",
		after[0].Load(), len(missing(0)), after[1].Load(), after[2].Load(), len(missing(2)), after[3].Load(), after[4].Load(), len(missing(4)), after[5].Load(), received.Load())

	evs := rec.find(func(e timedEvent) bool { return e.Kind == router.EventResubscribed })
	require.Len(t, evs, 3, "one resubscription per move")
	assert.Equal(t, to.Addr, evs[0].Addr)
	assert.Equal(t, slots.Slot(slot), evs[0].Slot)
	assert.ErrorIs(t, evs[0].Err, router.ErrSlotMoved, "the server's SUNSUBSCRIBE")
	assert.Equal(t, promoted.Addr, evs[1].Addr)
	assert.Equal(t, slots.Slot(slot), evs[1].Slot)
	assert.Error(t, evs[1].Err)
	assert.Equal(t, to.Addr, evs[2].Addr)
	assert.Equal(t, slots.Slot(slot), evs[2].Slot)
	assert.Error(t, evs[2].Err)
	t.Logf("causes: reshard %v; kill -9 %v; manual failover %v", evs[0].Err, evs[1].Err, evs[2].Err)

	scancel()
	wg.Wait()
	assert.ErrorIs(t, rerr, context.Canceled)
}

// TestReceiveShardedFreezeLive: the slot's primary freezes (SIGSTOP) and
// its replica takes over: the subscription's connection neither drops
// nor hears a SUNSUBSCRIBE, and the client has no other traffic that
// would show the failover. rueidis's keepalive fails the connection
// within CommandTimeout (2 s here), and the subscription follows to the
// promoted replica and receives what is published there.
func TestReceiveShardedFreezeLive(t *testing.T) {
	cl := startAvailCluster(t, 0)
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	c := newLiveClient(t, cl, router.Options{Observer: rec, CommandTimeout: 2 * time.Second})
	pub := newLiveClient(t, cl, router.Options{})
	rc := c.Rueidis()
	ch := "{" + testKey(t) + "}"
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(ch)))
	require.NoError(t, err)
	r := startReceive(ctx, t, rc, rc.B().Ssubscribe().Channel(ch).Build())
	r.waitConfirmed(t, 1)

	require.NoError(t, cl.Pause(owner))
	t.Cleanup(func() { _ = cl.Resume(owner) })
	promoted, err := cl.WaitFailover(ctx, owner)
	require.NoError(t, err)
	r.waitConfirmed(t, 2)
	evs := rec.find(func(e timedEvent) bool { return e.Kind == router.EventResubscribed })
	require.Len(t, evs, 1)
	assert.Equal(t, promoted.Addr, evs[0].Addr)
	assert.Equal(t, slots.Of(ch), evs[0].Slot)
	// The publisher had not seen the failover either: its first SPUBLISH
	// may go to the frozen node and end with an unknown outcome when the
	// client cuts that node's connections. Publish each until it is
	// known published (a message may then arrive twice).
	for i := range 10 {
		waitUntil(t, 10*time.Second, "SPUBLISH "+strconv.Itoa(i), func() bool {
			_, err := pub.Do(ctx, "SPUBLISH", ch, strconv.Itoa(i))
			return err == nil
		})
	}
	waitUntil(t, 10*time.Second, "10 messages", func() bool {
		seen := map[string]bool{}
		for _, m := range r.messages() {
			seen[m.Message] = true
		}
		return len(seen) == 10
	})
	t.Logf("cause: %v", evs[0].Err)
}
