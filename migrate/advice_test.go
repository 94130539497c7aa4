package migrate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

func TestStaleNotClaimingVersions(t *testing.T) {
	for v, want := range map[string]bool{
		"7.0.12": false, "7.0.13": true, "7.0.15": true, "7.0.16": true,
		"7.2.0": true, "7.2.3": true, "7.2.4": false, "7.4.0": false,
		"6.2.14": false, "8.0.0": false, "7.0": false, "x.y.z": false, "": false,
	} {
		assert.Equal(t, want, staleNotClaiming(Capability{Server: "redis", Version: v}), v)
	}
	assert.False(t, staleNotClaiming(Capability{Server: "valkey", Version: "7.2.3"}), "Valkey forked from the fix")
	assert.True(t, staleNotClaiming(Capability{Version: "7.0.15"}), "a server that does not name itself is Redis")
}

// TestApplyNamesReplicasToRestart: after a move into a primary with a
// replica, on the Redis versions with the stale "owner not claiming"
// mark, the Result names that replica (and only it: the source's replica
// imported nothing).
func TestApplyNamesReplicasToRestart(t *testing.T) {
	ctx, c, b, p := restartCase(t)
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
	require.NoError(t, err)
	want, affected := wantRestart(t, ctx, c, b)
	if !affected {
		assert.Empty(t, res.Restart)
		return
	}
	assert.Equal(t, want, res.Restart)
}

// TestStoppedRunNamesReplicasToRestart: a run stopped (ctx cancelled)
// after its target imported a slot still names the target's replica to
// restart, as it still lists the open slots: the mark is there all the
// same. ModeKeys, so that the server's version was not read during the
// run.
func TestStoppedRunNamesReplicasToRestart(t *testing.T) {
	ctx, c, b, p := restartCase(t)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	res, err := Apply(rctx, p, Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, SlotsPerRound: 1, Observer: func(e Event) {
		if e.Kind == EventSlotsDone {
			stop()
		}
	}})
	require.ErrorIs(t, err, ErrStopped)
	require.Positive(t, res.Slots, "the target imported a slot before the stop")
	want, affected := wantRestart(t, ctx, c, b)
	if !affected {
		t.Skip("this server does not have the bug")
	}
	assert.Equal(t, want, res.Restart)
}

// restartCase starts a 2x1 cluster and returns a plan moving 3 slots of
// its first primary to the second, b.
func restartCase(t *testing.T) (context.Context, *clustertest.Cluster, plan.Node, *plan.Plan) {
	t.Helper()
	c := startCluster(t, clustertest.Options{Primaries: 2, Replicas: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	l := layoutOf(t, ctx, c)
	a, b := l.Nodes[0], l.Nodes[1]
	s := a.Slots[0].Start
	p := handPlan(t, l, []plan.Move{{Source: a.ID, Target: b.ID, Ranges: plan.Ranges([]slots.Range{{Start: s, End: s + 2}})}})
	return ctx, c, b, p
}

// wantRestart is the Result.Restart a run that moved slots into b should
// report, and whether b's server has the bug at all.
func wantRestart(t *testing.T, ctx context.Context, c *clustertest.Cluster, b plan.Node) ([]Restart, bool) {
	t.Helper()
	target := c.NodeByAddr(b.Addr)
	require.NotNil(t, target)
	reps, err := c.ReplicasOf(ctx, target)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	m, err := c.Do(ctx, target, "INFO", "server")
	require.NoError(t, err)
	info, err := m.ToString()
	require.NoError(t, err)
	server, version := parseInfoServer(info)
	want := []Restart{{Replica: reps[0].ID, Addr: reps[0].Addr, Primary: b.ID, Version: version}}
	return want, staleNotClaiming(Capability{Server: server, Version: version})
}
