package router

import (
	"testing"

	"github.com/redis/rueidis"
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
