package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

const layout3plus1 = `{"nodes":[
 {"id":"a","addr":"10.0.0.1:7000","slots":["0-5460"]},
 {"id":"b","addr":"10.0.0.2:7000","slots":["5461-10922"]},
 {"id":"c","addr":"10.0.0.3:7000","slots":["10923-16383"]},
 {"id":"d","addr":"10.0.0.4:7000"}]}`

const layout3 = `{"nodes":[
 {"id":"a","addr":"10.0.0.1:7000","slots":["0-5460"]},
 {"id":"b","addr":"10.0.0.2:7000","slots":["5461-10922"]},
 {"id":"c","addr":"10.0.0.3:7000","slots":["10923-16383"]}]}`

func parsePlanOut(t *testing.T, out string) *plan.Plan {
	t.Helper()
	p, err := plan.ParsePlan([]byte(out))
	require.NoError(t, err, out)
	return p
}

func TestPlanRebalanceStdin(t *testing.T) {
	code, out, errOut := slotctl(t, layout3plus1, "plan", "rebalance")
	require.Equal(t, 0, code, errOut)
	p := parsePlanOut(t, out)
	assert.Equal(t, plan.KindRebalance, p.Kind)
	assert.Equal(t, 4096, p.Summary.SlotsMoved)
	assert.Contains(t, errOut, "rebalance: 4096 slots in 3 moves")
	// Deterministic, byte for byte.
	_, out2, _ := slotctl(t, layout3plus1, "plan", "rebalance")
	assert.Equal(t, out, out2)
}

func TestPlanSubcommands(t *testing.T) {
	dir := t.TempDir()
	lf := filepath.Join(dir, "layout.json")
	require.NoError(t, os.WriteFile(lf, []byte(layout3), 0o644))

	code, out, errOut := slotctl(t, "", "plan", "add", "-layout", lf, "d", "e", "f")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 8191, parsePlanOut(t, out).Summary.SlotsMoved)

	code, out, errOut = slotctl(t, "", "plan", "remove", "-layout", lf, "c")
	require.Equal(t, 0, code, errOut)
	p := parsePlanOut(t, out)
	assert.Equal(t, 5461, p.Summary.SlotsMoved)
	assert.Empty(t, p.Final()["c"])

	code, out, errOut = slotctl(t, "", "plan", "reshard", "-layout", lf, "-to", "a", "-from", "b,c", "-slots", "11")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 11, parsePlanOut(t, out).Summary.SlotsMoved)
	code, out, errOut = slotctl(t, "", "plan", "reshard", "-layout", lf, "-to", "a", "-take", "b=3,c=4")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 7, parsePlanOut(t, out).Summary.SlotsMoved)
	code, _, _ = slotctl(t, "", "plan", "reshard", "-layout", lf, "-to", "a", "-take", "b:3")
	assert.Equal(t, 2, code)

	code, out, errOut = slotctl(t, "", "plan", "rebalance", "-layout", lf, "-threshold", "0.02")
	require.Equal(t, 0, code, errOut)
	assert.True(t, parsePlanOut(t, out).Summary.Skipped)
	assert.Contains(t, errOut, "nothing to move")

	loads := filepath.Join(dir, "loads.json")
	require.NoError(t, os.WriteFile(loads, []byte(`{"100-16383": 1, "0-99": 50}`), 0o644))
	code, out, errOut = slotctl(t, "", "plan", "load", "-layout", lf, "-loads", loads, "-tolerance", "0.02")
	require.Equal(t, 0, code, errOut)
	p = parsePlanOut(t, out)
	assert.True(t, p.Summary.Load.Within)
	assert.Contains(t, errOut, "load deviation")

	nodes := filepath.Join(dir, "nodes.json")
	require.NoError(t, os.WriteFile(nodes, []byte(`{"nodes":[
		{"id":"a","host":"big"},{"id":"b","host":"big"},{"id":"c","host":"big"},{"id":"d","host":"big"},
		{"id":"e","host":"h2"},{"id":"f","host":"h2"},{"id":"g","host":"h3"},{"id":"h","host":"h3"}]}`), 0o644))
	code, out, errOut = slotctl(t, "", "plan", "place", "-layout", nodes, "-primaries", "2")
	require.Equal(t, 0, code, errOut)
	var pl plan.Placement
	require.NoError(t, json.Unmarshal([]byte(out), &pl))
	assert.Equal(t, 4, pl.Score.Total)
	assert.Contains(t, errOut, "score 4")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"nodes":[
		{"id":"a","host":"h0","slots":["0-16383"]},{"id":"b","host":"h0","role":"replica","primary":"a"},
		{"id":"c","host":"h1"},{"id":"d","host":"h2","role":"replica","primary":"c"}]}`), 0o644))
	code, out, errOut = slotctl(t, "", "plan", "score", "-layout", bad)
	require.Equal(t, 0, code, errOut)
	var sc plan.Score
	require.NoError(t, json.Unmarshal([]byte(out), &sc))
	assert.Equal(t, plan.WeightReplicaSameHost, sc.Total)
	code, out, errOut = slotctl(t, "", "plan", "repair", "-layout", bad)
	require.Equal(t, 0, code, errOut)
	var rp plan.RepairPlan
	require.NoError(t, json.Unmarshal([]byte(out), &rp))
	assert.Equal(t, 0, rp.After.Total)
	assert.Contains(t, errOut, "CLUSTER REPLICATE")
}

func TestPlanValidate(t *testing.T) {
	dir := t.TempDir()
	_, out, _ := slotctl(t, layout3plus1, "plan", "rebalance")
	pf := filepath.Join(dir, "plan.json")
	require.NoError(t, os.WriteFile(pf, []byte(out), 0o644))
	code, _, errOut := slotctl(t, "", "plan", "validate", pf)
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "valid plan")
	tampered := strings.Replace(out, `"slots_moved": 4096`, `"slots_moved": 4095`, 1)
	require.NotEqual(t, out, tampered)
	require.NoError(t, os.WriteFile(pf, []byte(tampered), 0o644))
	code, _, errOut = slotctl(t, "", "plan", "validate", pf)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "slots_moved is 4095")
}

func TestPlanUsageAndErrors(t *testing.T) {
	for _, args := range [][]string{
		{"plan"},
		{"plan", "shuffle"},
		{"plan", "reshard", "-slots", "3"},
		{"plan", "add"},
		{"plan", "remove"},
		{"plan", "place"},
		{"plan", "validate"},
		{"plan", "rebalance", "-nosuchflag"},
		{"plan", "rebalance", "extra"},
	} {
		code, _, _ := slotctl(t, layout3, args...)
		assert.Equal(t, 2, code, "%v", args)
	}
	code, _, errOut := slotctl(t, `{"nodes":[{"id":"a"},{"id":"a"}]}`, "plan", "rebalance")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "duplicate node id")
	code, _, errOut = slotctl(t, layout3, "plan", "reshard", "-to", "a", "-from", "b", "-slots", "99999")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cannot be satisfied")
	code, _, errOut = slotctl(t, layout3, "plan", "remove", "zz")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unknown node")
	code, _, errOut = slotctl(t, "", "plan", "rebalance", "-layout", "/nonexistent/file.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")
	code, out, _ := slotctl(t, "", "plan", "help")
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
	code, out, _ = slotctl(t, "", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "plan SUBCOMMAND")
	assert.Contains(t, out, "check -nodes")
}

// Layout and key counts read from a real cluster.
func TestPlanLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := startCluster(ctx, t)

	owner := map[slots.Slot]*clustertest.Node{}
	for _, n := range c.Nodes() {
		ss, err := c.SlotsOf(ctx, n)
		require.NoError(t, err)
		for _, s := range ss {
			owner[slots.Slot(s)] = n
		}
	}
	require.Len(t, owner, slots.Count)
	const keys = 300
	for i := range keys {
		k := fmt.Sprintf("key:%d", i)
		_, err := c.Do(ctx, owner[slots.Of(k)], "SET", k, "v")
		require.NoError(t, err)
	}
	fresh, err := c.AddNode(ctx, nil)
	require.NoError(t, err)

	addr := c.Nodes()[0].Addr
	code, out, errOut := slotctl(t, "", "plan", "rebalance", "-addr", addr)
	require.Equal(t, 0, code, errOut)
	p := parsePlanOut(t, out)
	assert.Equal(t, 4096, p.Summary.SlotsMoved)
	assert.Equal(t, 4096, p.Targets[fresh.ID])
	assert.Len(t, p.Before, 4)

	code, out, errOut = slotctl(t, "", "plan", "load", "-addr", addr, "-tolerance", "0.5")
	require.Equal(t, 0, code, errOut)
	p = parsePlanOut(t, out)
	require.NotNil(t, p.Summary.Load)
	assert.InDelta(t, keys, p.Summary.Load.Total, 0)
	assert.True(t, p.Summary.Load.Within, errOut)
	t.Logf("live load plan: %s", errOut)

	// Redis 7 has no CLUSTER SLOT-STATS: a clear failure.
	code, _, errOut = slotctl(t, "", "plan", "load", "-addr", addr, "-metric", "cpu-usec")
	if code != 0 {
		assert.Contains(t, errOut, "SLOT-STATS")
	}
	code, _, errOut = slotctl(t, "", "plan", "load", "-addr", addr, "-metric", "bogus")
	assert.Equal(t, 2, code, "a usage error, refused before reading the cluster")
	assert.Contains(t, errOut, "unknown metric")
}
