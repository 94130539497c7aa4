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

// TestDemo runs "slotctl demo -json" with small parameters against the
// real cluster it starts, and checks what it measured: every act ran,
// no error surfaced while slots moved under load, the failover was
// followed, the planning act undid its changes, and no process of the
// cluster is left.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "-json", "-duration", "1s", "-keys", "2000", "-workers", "2",
		"-reshard-slots", "200", "-apply-slots", "1"}, strings.NewReader(""), &stdout, &stderr)
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

	var res demoResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	assert.True(t, res.Keys.CrossSlotRejected)
	assert.True(t, res.Keys.TaggedMGETOK)
	assert.Positive(t, res.Traffic.Ops)
	assert.Zero(t, res.Traffic.Errors)

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
	assert.Equal(t, 1, p.Applied)
	assert.True(t, p.AppliedFollowed)
	assert.True(t, p.RemovedAgain)

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
	code, _, errOut := slotctl(t, "", "demo", "-duration", "1s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "apt-get install redis-server")
	assert.Contains(t, errOut, "REDIS_SERVER")
}

func TestDemoUsage(t *testing.T) {
	code, _, _ := slotctl(t, "", "demo", "-nosuch")
	assert.Equal(t, 2, code)
	code, _, _ = slotctl(t, "", "demo", "extra")
	assert.Equal(t, 2, code)
	code, _, errOut := slotctl(t, "", "demo", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "-skip-failover")
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
