package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

var cluster *clustertest.Cluster

// TestMain starts the cluster TestApplyPlan works on (TestDemo starts
// its own) and checks for leaked goroutines.
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster)
}

func slotdemo(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestDemo runs "slotdemo -json" with small parameters against the real
// cluster it starts, and checks what it measured: every act ran, no
// error surfaced while slots moved under load (act 4) nor while the
// rebalance plan was applied under load (act 6), the failover was
// followed, every key held its last acknowledged value, the layout
// became the plan's, and no process of the cluster is left.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-json", "-duration", "1s", "-keys", "2000", "-workers", "2",
		"-reshard-slots", "200"}, &stdout, &stderr)
	if code != 0 && strings.Contains(stderr.String(), clustertest.ErrServerNotFound.Error()) {
		if os.Getenv(clustertest.RequireEnv) == "1" {
			t.Fatalf("%s=1 and no redis-server: %s", clustertest.RequireEnv, stderr.String())
		}
		t.Skipf("no redis-server (set %s=1 to fail instead): %s", clustertest.RequireEnv, stderr.String())
	}
	narration := stderr.String()
	t.Log(narration)
	require.Equal(t, 0, code, narration)
	for _, h := range []string{headCluster, headKeys, headTraffic, headReshard, headFailover, headPlanning, headSummary} {
		assert.Contains(t, narration, "== "+h+" ==")
	}
	assert.NotContains(t, narration, "\x1b[K", "no live line when the narration is not a terminal")

	var res result
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	assert.True(t, res.Keys.CrossSlotRejected)
	assert.True(t, res.Keys.TaggedMGETOK)
	assert.Positive(t, res.Traffic.Ops)
	assert.Zero(t, res.Traffic.Errors)
	assert.Positive(t, res.Traffic.P50)
	assert.GreaterOrEqual(t, res.Traffic.P999, res.Traffic.P99)

	rs := res.Reshard
	assert.Equal(t, 200, rs.SlotsMoved)
	assert.Positive(t, rs.Ops)
	assert.Zero(t, rs.Errors, "no error surfaces while slots move: %s", rs.FirstErrorText)
	assert.Positive(t, rs.Moved+rs.Asked, "the slots moved behind the client's back")
	assert.Positive(t, rs.KeysVerified)
	assert.Zero(t, rs.KeysWrong)

	f := res.Failover
	require.NotNil(t, f)
	assert.NotEqual(t, f.Killed, f.Promoted)
	assert.Positive(t, f.ClientSaw, "the client's topology named the new primary")
	assert.Positive(t, f.IncrOK)
	assert.Equal(t, f.Errors, f.ReadsFailed+f.IdemFailed+f.IncrUnknown+f.IncrFailed)

	p := res.Planning
	assert.Equal(t, p.MinimumSlotsMove, p.SlotsMoved, "the plan moves the fewest slots")
	assert.Positive(t, p.RedisCLIMoved)
	a := p.Apply
	require.NotNil(t, a, "the plan was applied")
	assert.Equal(t, p.SlotsMoved, a.SlotsApplied)
	assert.Positive(t, a.Ops)
	assert.Zero(t, a.Errors, "no error surfaces while the plan is applied: %s", a.FirstErrorText)
	assert.Positive(t, a.Moved+a.Asked, "the slots moved behind the client's back")
	assert.True(t, a.LayoutMatches, "the live layout is the plan's final one")
	assert.Positive(t, a.KeysVerified)
	assert.Zero(t, a.KeysWrong)

	assert.True(t, res.Stopped)
	require.Len(t, res.PIDs, 8, "6 nodes, the restarted primary and the added node")
	for _, pid := range res.PIDs {
		err := syscall.Kill(pid, 0)
		assert.True(t, errors.Is(err, syscall.ESRCH), "pid %d still exists after Stop (%v)", pid, err)
	}
}

// TestDemoServerMissing checks the message when redis-server is missing.
func TestDemoServerMissing(t *testing.T) {
	t.Setenv("REDIS_SERVER", "/nonexistent/redis-server")
	code, _, errOut := slotdemo(t, "-duration", "1s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "apt-get install redis-server")
	assert.Contains(t, errOut, "REDIS_SERVER")
}

func TestDemoUsage(t *testing.T) {
	code, _, _ := slotdemo(t, "-nosuch")
	assert.Equal(t, 2, code)
	code, _, _ = slotdemo(t, "extra")
	assert.Equal(t, 2, code)
	code, _, errOut := slotdemo(t, "-live", "sometimes")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-live")
	code, _, errOut = slotdemo(t, "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "-skip-failover")
	assert.Contains(t, errOut, "-plan-only")
}

// TestApplyPlan applies a reshard plan with applyPlan on a real cluster:
// progress is reported per move, the slots end where the plan says, a
// plan whose Before is no longer the cluster's is refused, and the
// reverse plan puts everything back.
func TestApplyPlan(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := cl.Addrs()[0]
	l0, err := liveLayout(ctx, addr, 5*time.Second)
	require.NoError(t, err)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	target := ps[0].ID
	p, err := plan.Reshard(l0, plan.ReshardRequest{Target: target, Slots: 20})
	require.NoError(t, err)
	require.Equal(t, 20, p.Summary.SlotsMoved)

	var events []applyProgress
	res, err := applyPlan(ctx, cl, p, func(e applyProgress) { events = append(events, e) })
	require.NoError(t, err)
	assert.Equal(t, 20, res.Slots)
	require.Len(t, events, len(p.Moves))
	last := events[len(events)-1]
	assert.Equal(t, 20, last.Done)
	assert.Equal(t, 20, last.Total)
	l1, err := liveLayout(ctx, addr, 5*time.Second)
	require.NoError(t, err)
	assert.True(t, layoutMatches(l1, p.Final()))
	assert.False(t, layoutMatches(l0, p.Final()))

	// The executor resumes from the cluster's state: the same plan again
	// finds every slot at its target and moves nothing.
	res, err = applyPlan(ctx, cl, p, nil)
	require.NoError(t, err)
	assert.Zero(t, res.Slots)
	assert.Equal(t, 20, res.AlreadyDone)
	_, err = applyPlan(ctx, cl, nil, nil)
	require.Error(t, err)

	// And back: every source takes its slots again.
	take := map[string]int{}
	for _, m := range p.Moves {
		take[m.Source] += m.Slots
	}
	for src, n := range take {
		l, err := liveLayout(ctx, addr, 5*time.Second)
		require.NoError(t, err)
		back, err := plan.Reshard(l, plan.ReshardRequest{Target: src, Take: map[string]int{target: n}})
		require.NoError(t, err)
		_, err = applyPlan(ctx, cl, back, nil)
		require.NoError(t, err)
	}
	l2, err := liveLayout(ctx, addr, 5*time.Second)
	require.NoError(t, err)
	counts := func(l *plan.Layout) map[string]int {
		m := map[string]int{}
		for _, n := range l.Nodes {
			if !n.IsReplica() {
				m[n.ID] = n.Slots.Len()
			}
		}
		return m
	}
	assert.Equal(t, counts(l0), counts(l2), "every primary has as many slots as before")
}

// TestRedisCliRebalance checks the simulation of redis-cli's rebalance
// against the figures the planner's scenario tests give: three primaries
// as `redis-cli --cluster create` makes them plus three empty ones, where
// redis-cli moves 8194 slots and the planner 8191.
func TestRedisCliRebalance(t *testing.T) {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 5460}}},
		{ID: "b", Slots: plan.Ranges{{Start: 5461, End: 10922}}},
		{ID: "c", Slots: plan.Ranges{{Start: 10923, End: slots.Max}}},
		{ID: "d"}, {ID: "e"}, {ID: "f"},
	}}
	moved, ranges := plan.RedisCLIBaseline(l)
	assert.Equal(t, 8194, moved)
	assert.Positive(t, ranges)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	assert.Equal(t, 8191, p.Summary.SlotsMoved)
	assert.Equal(t, 8191, minimumMoves(p))

	four := &plan.Layout{Nodes: l.Nodes[:4]}
	moved, _ = plan.RedisCLIBaseline(four)
	assert.Equal(t, 4096, moved)
}
