package router

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// snapshotOf builds a one-shard snapshot: primary p (health ph) and
// replica r.
func snapshotOf(t *testing.T, p, r string, ph topology.Health) *topology.Snapshot {
	t.Helper()
	s, err := topology.NewSnapshot([]topology.Shard{{
		Primary:  &topology.Node{ID: "id-" + p, Addr: p, Role: topology.RolePrimary, Health: ph},
		Replicas: []*topology.Node{{ID: "id-" + r, Addr: r, Role: topology.RoleReplica, Health: topology.HealthOnline, PrimaryID: "id-" + p}},
		Ranges:   []slots.Range{{Start: 0, End: slots.Max}},
	}}, topology.SnapshotOptions{})
	require.NoError(t, err)
	return s
}

// TestTopologyFeedsBreakers: a node the cluster flags failed trips its
// breaker; when the cluster says it is back, the breaker is reset.
func TestTopologyFeedsBreakers(t *testing.T) {
	p := newPool(rueidis.ClientOption{}, retry.BreakerOptions{})
	defer p.close()
	const a, b = "127.0.0.1:7000", "127.0.0.1:7001"
	healthy := snapshotOf(t, a, b, topology.HealthOnline)
	failed := snapshotOf(t, a, b, topology.HealthFailed)

	p.topologyChanged(topology.RefreshEvent{Old: healthy, New: failed, Changes: topology.Diff(healthy, failed)})
	require.Equal(t, retry.Open, p.breaker(a).State(), "flagged failed: tripped")
	require.Equal(t, retry.Closed, p.breaker(b).State())

	p.topologyChanged(topology.RefreshEvent{Old: failed, New: failed})
	require.Equal(t, retry.Open, p.breaker(a).State(), "still flagged: still open")

	p.topologyChanged(topology.RefreshEvent{Old: failed, New: healthy, Changes: topology.Diff(failed, healthy)})
	require.Equal(t, retry.Closed, p.breaker(a).State(), "back: reset")
	require.NoError(t, p.breaker(a).Allow())

	p.topologyChanged(topology.RefreshEvent{Old: healthy}) // a failed refresh
	require.Equal(t, retry.Closed, p.breaker(a).State())
}

// TestBreakerCallbackPanicRecovered: a panic in the user's
// Breaker.OnStateChange (run here by the topology's news, on the
// refresher's goroutine in a client) is recovered and reported with the
// node's address; the breaker changed state all the same.
func TestBreakerCallbackPanicRecovered(t *testing.T) {
	var calls int
	p := newPool(rueidis.ClientOption{}, retry.BreakerOptions{OnStateChange: func(from, to retry.State) {
		calls++
		panic("user breaker callback")
	}})
	defer p.close()
	var reported []string
	p.onPanic = func(addr string, err error) {
		require.ErrorIs(t, err, ErrPanic)
		reported = append(reported, addr)
	}
	const a, b = "127.0.0.1:7000", "127.0.0.1:7001"
	healthy := snapshotOf(t, a, b, topology.HealthOnline)
	failed := snapshotOf(t, a, b, topology.HealthFailed)
	p.topologyChanged(topology.RefreshEvent{Old: healthy, New: failed, Changes: topology.Diff(healthy, failed)})
	require.True(t, p.breakerOpen(a))
	require.Equal(t, 1, calls)
	require.Equal(t, []string{a}, reported)
}

// panickySlog is a slog.Handler whose Handle panics.
type panickySlog struct{}

func (panickySlog) Enabled(context.Context, slog.Level) bool  { return true }
func (panickySlog) Handle(context.Context, slog.Record) error { panic("user logger") }
func (h panickySlog) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h panickySlog) WithGroup(string) slog.Handler           { return h }

// panickyTopoObserver is a user's topology Observer that panics, and
// records what its OnPanic hears.
type panickyTopoObserver struct{ calls, panics atomic.Int64 }

func (o *panickyTopoObserver) OnRefresh(topology.RefreshEvent) {
	o.calls.Add(1)
	panic("user topology observer")
}
func (o *panickyTopoObserver) OnPanic(err error) {
	if errors.Is(err, ErrPanic) {
		o.panics.Add(1)
	}
}

// panicCount is an Observer that counts OnPanic calls.
type panicCount struct {
	Counters
	n atomic.Int64
}

func (p *panicCount) OnPanic(PanicEvent) { p.n.Add(1) }

// TestRefreshedUserCodeLast: the router's topology Observer does the
// client's work on a refresh (breakers, waiters woken) whatever the
// user's Logger and topology Observer do after it; their panics are
// reported to the PanicObserver, and the Observer's also to its own
// OnPanic (it is a topology.PanicObserver).
func TestRefreshedUserCodeLast(t *testing.T) {
	obs := &panicCount{}
	c := &Client{
		pool:  newPool(rueidis.ClientOption{}, retry.BreakerOptions{}),
		watch: newWatch(),
		obs:   obs,
		log:   slog.New(panickySlog{}),
	}
	defer c.pool.close()
	const a, b = "127.0.0.1:7000", "127.0.0.1:7001"
	failed := snapshotOf(t, a, b, topology.HealthFailed)
	woken := c.watch.begin()
	defer c.watch.end()
	user := &panickyTopoObserver{}
	c.refreshed(topology.RefreshEvent{New: failed, Changes: topology.Diff(nil, failed)}, user)
	select {
	case <-woken:
	default:
		t.Fatal("the waiting commands were not woken")
	}
	assert.True(t, c.pool.breakerOpen(a), "the failed node's breaker was not tripped")
	assert.EqualValues(t, 1, user.calls.Load(), "the user's Observer was not called")
	assert.EqualValues(t, 1, user.panics.Load(), "its OnPanic did not hear of its panic")
	assert.EqualValues(t, 2, obs.n.Load(), "the Logger's and the Observer's panics reported")
}

// panickyEvents is an Observer whose OnEvent panics and whose OnPanic
// records what it is told.
type panickyEvents struct {
	Counters
	panics []PanicEvent
}

func (p *panickyEvents) OnEvent(Event)        { panic("user OnEvent") }
func (p *panickyEvents) OnPanic(e PanicEvent) { p.panics = append(p.panics, e) }

// TestEventObserverPanicRecovered: a panic in the user's OnEvent is
// recovered where every event is reported (Client.event: it runs on the
// client's and rueidis's goroutines too) and reported to OnPanic.
func TestEventObserverPanicRecovered(t *testing.T) {
	obs := &panickyEvents{}
	c := &Client{obs: obs}
	assert.NotPanics(t, func() { c.event(Event{Kind: EventStall, Addr: "127.0.0.1:1"}) })
	require.Len(t, obs.panics, 1)
	assert.ErrorIs(t, obs.panics[0].Err, ErrPanic)
	assert.Equal(t, "127.0.0.1:1", obs.panics[0].Addr)
}
