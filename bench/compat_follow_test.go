package bench_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidiscompat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// resubRecorder records the EventResubscribed events and moves the
// test's phase from even to odd on each (the phase then says whether a
// message was published after the resubscription was reported).
type resubRecorder struct {
	router.Counters
	phase *atomic.Int32

	mu  sync.Mutex
	evs []router.Event
}

func (r *resubRecorder) OnEvent(e router.Event) {
	if e.Kind != router.EventResubscribed {
		return
	}
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	p := r.phase.Load()
	if p%2 == 0 {
		r.phase.CompareAndSwap(p, p+1)
	}
}

func (r *resubRecorder) events() []router.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]router.Event(nil), r.evs...)
}

// dedicateCounter counts the dedicated connections rueidiscompat takes.
type dedicateCounter struct {
	rueidis.Client
	n atomic.Int64
}

func (d *dedicateCounter) Dedicate() (rueidis.DedicatedClient, func()) {
	d.n.Add(1)
	return d.Client.Dedicate()
}

// TestCompatSSubscribeFollows: go-redis's SSubscribe through
// rueidiscompat (a dedicated connection with pub/sub hooks) keeps
// receiving while a publisher SPUBLISHes a numbered message every 2 ms:
// after a live reshard of the channel's slot (the old owner's
// SUNSUBSCRIBE ends the hooks; rueidiscompat subscribes again on a new
// dedicated connection, pinned to the new owner), then after a kill -9
// of the new owner (the connection drops; the new dedicated connection
// waits for the promoted replica, instead of failing against the dead
// node over and over). Between the two, a client whose topology still
// has the slot at its old owner SSubscribes: its SSUBSCRIBE is answered
// MOVED, and it ends up subscribed at the new owner. Each
// resubscription is reported once (EventResubscribed, at the new owner),
// every message published after it is received, and the messages arrive
// in order.
func TestCompatSSubscribeFollows(t *testing.T) {
	clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1, ExtraConfig: []string{"cluster-require-full-coverage no"}})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })

	var phase atomic.Int32
	rec := &resubRecorder{phase: &phase}
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs(), Observer: rec})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	pub, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
	require.NoError(t, err)
	t.Cleanup(pub.Close)
	counted := &dedicateCounter{Client: c.Rueidis()}
	rdb := rueidiscompat.NewAdapter(counted)
	// A client that will not see the reshard by itself (no periodic
	// refresh, nothing sent before its SSubscribe).
	stale, err := router.New(ctx, router.Options{Seeds: cl.Addrs(), Topology: topology.Options{Period: topology.NoPeriodicRefresh}})
	require.NoError(t, err)
	t.Cleanup(stale.Close)

	ch := "{" + compatPrefix(t) + "}ch"
	slot := uint16(slots.Of(ch))
	from, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	var to *clustertest.Node
	for _, p := range ps {
		if p.Addr != from.Addr {
			to = p
			break
		}
	}
	require.NotNil(t, to)

	// The subscriber: every message's number, in arrival order.
	sub := rdb.SSubscribe(ctx, ch)
	t.Cleanup(func() { assert.NoError(t, sub.Close()) })
	var (
		rmu      sync.Mutex
		got      = map[int]bool{}
		order    []int
		confirms atomic.Int64
		rwg      sync.WaitGroup
	)
	all := sub.ChannelWithSubscriptions()
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for m := range all {
			switch m := m.(type) {
			case *rueidiscompat.Subscription:
				if m.Kind == "ssubscribe" {
					confirms.Add(1)
				}
			case *rueidiscompat.Message:
				n, err := strconv.Atoi(m.Payload)
				if err != nil {
					continue
				}
				rmu.Lock()
				got[n] = true
				order = append(order, n)
				rmu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = sub.Close(); rwg.Wait() })
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return confirms.Load() >= 1 }), "no subscription confirmation")

	// The publisher: one SPUBLISH every 2 ms from another client, each
	// noted with the phase it began in (only those known published).
	type published struct {
		seq   int
		phase int32
	}
	var (
		pmu   sync.Mutex
		pubs  []published
		after [4]atomic.Int64
		stop  = make(chan struct{})
		pwg   sync.WaitGroup
	)
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p := phase.Load()
			if _, err := pub.Do(ctx, "SPUBLISH", ch, strconv.Itoa(i)); err != nil {
				continue
			}
			after[p].Add(1)
			pmu.Lock()
			pubs = append(pubs, published{seq: i, phase: p})
			pmu.Unlock()
		}
	}()
	var stopOnce sync.Once
	stopPub := func() { stopOnce.Do(func() { close(stop) }); pwg.Wait() }
	t.Cleanup(stopPub)
	received := func() int {
		rmu.Lock()
		defer rmu.Unlock()
		return len(order)
	}
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return received() >= 50 }), "messages before the reshard")

	// 1. Live reshard: the old owner unsubscribes the channel.
	before := received()
	require.NoError(t, cl.MoveSlotList(ctx, from, to, []uint16{slot}))
	moved := received()
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return phase.Load() >= 1 }),
		"no resubscription after the reshard (received %d messages before it, %d during it, %d in the 10 s after it)", before, moved-before, received()-moved)
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return after[1].Load() >= 100 }), "messages after the reshard")

	// The stale client's SSubscribe: its SSUBSCRIBE goes to the old owner,
	// which answers MOVED; the hooks end, and rueidiscompat subscribes
	// again, at the new owner.
	ssub := rueidiscompat.NewAdapter(stale.Rueidis()).SSubscribe(ctx, ch)
	t.Cleanup(func() { assert.NoError(t, ssub.Close()) })
	sall := ssub.ChannelWithSubscriptions()
	var staleGot atomic.Int64
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for m := range sall {
			if _, ok := m.(*rueidiscompat.Message); ok {
				staleGot.Add(1)
			}
		}
	}()
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return staleGot.Load() >= 20 }),
		"the stale client's subscriber (MOVED from the old owner) receives nothing")
	assert.NoError(t, ssub.Close())

	// 2. kill -9 of the new owner: its replica takes over.
	phase.Store(2)
	dedicatesBefore := counted.n.Load()
	require.NoError(t, cl.Kill(to))
	promoted, err := cl.WaitFailover(ctx, to)
	require.NoError(t, err)
	require.True(t, pollUntil(ctx, 20*time.Second, func() bool { return phase.Load() >= 3 }), "no resubscription after the failover")
	// rueidiscompat retries at once, without bound, while SSUBSCRIBE
	// fails: the new dedicated connection waits for the promotion instead
	// of failing against the dead node over and over.
	dedicates := counted.n.Load() - dedicatesBefore
	assert.LessOrEqual(t, dedicates, int64(10), "dedicated connections taken from the kill to the resubscription")
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return after[3].Load() >= 100 }), "messages after the failover")
	stopPub()

	pmu.Lock()
	sent := append([]published(nil), pubs...)
	pmu.Unlock()
	missing := func(phases ...int32) (out []int) {
		rmu.Lock()
		defer rmu.Unlock()
		for _, p := range sent {
			for _, ph := range phases {
				if p.phase == ph && !got[p.seq] {
					out = append(out, p.seq)
				}
			}
		}
		return out
	}
	assert.True(t, pollUntil(ctx, 10*time.Second, func() bool { return len(missing(1, 3)) == 0 }))
	assert.Empty(t, missing(1, 3), "messages published after EventResubscribed and lost")
	rmu.Lock()
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Errorf("message %d arrived after %d", order[i], order[i-1])
			break
		}
	}
	rmu.Unlock()
	t.Logf("published %d before the reshard's resubscription (%d lost in the gap), %d after it, %d from the kill to the resubscription (%d lost), %d after it; received %d",
		after[0].Load(), len(missing(0)), after[1].Load(), after[2].Load(), len(missing(2)), after[3].Load(), received())

	evs := rec.events()
	require.Len(t, evs, 2, "one resubscription per move: %v", evs)
	assert.Equal(t, to.Addr, evs[0].Addr)
	assert.Equal(t, slots.Slot(slot), evs[0].Slot)
	assert.ErrorIs(t, evs[0].Err, router.ErrSlotMoved, "the server's SUNSUBSCRIBE")
	assert.Equal(t, promoted.Addr, evs[1].Addr)
	assert.Equal(t, slots.Slot(slot), evs[1].Slot)
	assert.Error(t, evs[1].Err)
	t.Logf("causes: reshard %v; kill -9 %v; dedicated connections taken from the kill to the resubscription: %d", evs[0].Err, evs[1].Err, dedicates)
}
