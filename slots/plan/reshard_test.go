package plan_test

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// redisCliReshardCount is how many slots `redis-cli --cluster reshard`
// plans (clusterManagerComputeReshardTable, redis 7.x): sources sorted by
// slot count, descending; the first gives ceil(numslots/total*count), the
// others floor(...).
func redisCliReshardCount(counts []int, numslots int) int {
	counts = slices.Clone(counts)
	slices.SortStableFunc(counts, func(a, b int) int { return cmp.Compare(b, a) })
	total := 0
	for _, c := range counts {
		total += c
	}
	got := 0
	for i, c := range counts {
		n := float64(float32(numslots) / float32(total) * float32(c))
		if i == 0 {
			n = math.Ceil(n)
		} else {
			n = math.Floor(n)
		}
		got += min(int(n), numslots-got)
	}
	return got
}

func TestReshardExactly(t *testing.T) {
	for _, n := range []int{11, 2, 1, 3, 1000, 5461, 16384} {
		l := addEmpty(CreateLayout(3), 1)
		p, err := plan.Reshard(l, plan.ReshardRequest{Target: nodeID(3), Slots: n})
		require.NoError(t, err)
		require.NoError(t, p.Validate())
		assert.Equal(t, n, p.Summary.SlotsMoved, "asked %d", n)
		after := applyPlan(t, l, p)
		assert.Equal(t, n, counts(after, 4)[3])
		// Proportional: each source gives within one slot of its share.
		for i := 0; i < 3; i++ {
			give := l.Nodes[i].Slots.Len() - counts(after, 4)[i]
			share := float64(n) * float64(l.Nodes[i].Slots.Len()) / slots.Count
			assert.Less(t, math.Abs(float64(give)-share), 1.0)
		}
		// No source is split: each keeps one range.
		r := rangesPerNode(after, 4)
		for i := 0; i < 3; i++ {
			assert.LessOrEqual(t, r[i], 1)
		}
	}
	assert.Equal(t, 10, redisCliReshardCount([]int{5461, 5462, 5461}, 11))
	assert.Equal(t, 1, redisCliReshardCount([]int{5461, 5462, 5461}, 2))
}

func TestReshardSourcesAndErrors(t *testing.T) {
	l := CreateLayout(3)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: "n000", Sources: []string{"n002"}, Slots: 100})
	require.NoError(t, err)
	require.Len(t, p.Moves, 1)
	m := p.Moves[0]
	assert.Equal(t, "n002", m.Source)
	assert.Equal(t, "n000", m.Target)
	require.Len(t, m.Ranges, 1) // one block from an end of n002's range
	assert.Equal(t, 100, m.Ranges[0].Len())
	assert.True(t, m.Ranges[0].Start == 10923 || m.Ranges[0].End == slots.Max, "%v", m.Ranges)
	_, err = plan.Reshard(l, plan.ReshardRequest{Target: "n000", Sources: []string{"n002"}, Slots: 6000})
	assert.ErrorIs(t, err, plan.ErrImpossible)
	_, err = plan.Reshard(l, plan.ReshardRequest{Target: "nope", Slots: 1})
	assert.ErrorIs(t, err, plan.ErrUnknownNode)
	_, err = plan.Reshard(l, plan.ReshardRequest{Target: "n000", Sources: []string{"n000"}, Slots: 1})
	assert.ErrorIs(t, err, plan.ErrImpossible)
	_, err = plan.Reshard(l, plan.ReshardRequest{Target: "n000", Slots: 0})
	assert.ErrorIs(t, err, plan.ErrImpossible)
}

func TestThresholdAgainstTarget(t *testing.T) {
	two := func(a int) *plan.Layout {
		return &plan.Layout{Nodes: []plan.Node{
			{ID: "x", Slots: plan.Ranges{{Start: 0, End: slots.Slot(a - 1)}}},
			{ID: "y", Slots: plan.Ranges{{Start: slots.Slot(a), End: slots.Max}}},
		}}
	}
	// Balanced: nothing to do even with threshold 0.
	p, err := plan.Rebalance(two(8192), plan.Options{})
	require.NoError(t, err)
	assert.True(t, p.Summary.Skipped)
	assert.Empty(t, p.Moves)
	// One slot off: threshold 0 balances.
	p, err = plan.Rebalance(two(8193), plan.Options{})
	require.NoError(t, err)
	assert.False(t, p.Summary.Skipped)
	assert.Equal(t, 1, p.Summary.SlotsMoved)
	// 164 over a target of 8192 is 2.002% of the target: over a 2%
	// threshold (redis-cli measures against the current 8356: 1.96%, and
	// would skip).
	p, err = plan.Rebalance(two(8192+164), plan.Options{Threshold: 0.02})
	require.NoError(t, err)
	assert.False(t, p.Summary.Skipped)
	assert.Equal(t, 164, p.Summary.SlotsMoved)
	p, err = plan.Rebalance(two(8192+163), plan.Options{Threshold: 0.02})
	require.NoError(t, err)
	assert.True(t, p.Summary.Skipped)
	assert.NotEmpty(t, p.Notes)
	require.NoError(t, p.Validate())
	// A drained node is always over the threshold.
	l := CreateLayout(4)
	l.Nodes[3].Weight = plan.Weight(0)
	p, err = plan.Rebalance(l, plan.Options{Threshold: 10})
	require.NoError(t, err)
	assert.Equal(t, 4096, p.Summary.SlotsMoved)
	_, err = plan.Rebalance(l, plan.Options{Threshold: -1})
	assert.ErrorIs(t, err, plan.ErrImpossible)
}

func TestWeights(t *testing.T) {
	l := CreateLayout(3)
	l.Nodes[0].Weight = plan.Weight(2)
	tg, err := plan.Targets(l)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"n000": 8192, "n001": 4096, "n002": 4096}, tg)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	assert.Equal(t, 8192-5461, p.Summary.SlotsMoved)
	l.Nodes[1].Weight = plan.Weight(0)
	l.Nodes[2].Weight = plan.Weight(0)
	l.Nodes[0].Weight = plan.Weight(0)
	_, err = plan.Rebalance(l, plan.Options{})
	assert.ErrorIs(t, err, plan.ErrImpossible)
}

func TestLayoutErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"nodes":[{"id":""}]}`, "has no id"},
		{`{"nodes":[{"id":"a"},{"id":"a"}]}`, "duplicate node id"},
		{`{"nodes":[{"id":"a","slots":["0-10"]},{"id":"b","slots":["10"]}]}`, "slot 10 owned by both"},
		{`{"nodes":[{"id":"a","role":"boss"}]}`, "unknown role"},
		{`{"nodes":[{"id":"a","weight":-1}]}`, "weight"},
		{`{"nodes":[{"id":"a","slots":["5-2"]}]}`, "after end"},
		{`{"nodes":[{"id":"a","slots":["16384"]}]}`, "out of range"},
		{`{"nodes":[{"id":"r","role":"replica","primary":"x"}]}`, "not in the layout"},
		{`{"nodes":[{"id":"a"},{"id":"r","role":"replica","primary":"a","slots":["1"]}]}`, "owns slots"},
		{`{"nodes":[{"id":"a","colour":"red"}]}`, "unknown field"},
		{`{"nodes":[]} {}`, "trailing"},
		{`{"version":2,"nodes":[]}`, "version"},
		{`[`, "unexpected"},
	} {
		_, err := plan.ParseLayout([]byte(tc.doc))
		require.Error(t, err, tc.doc)
		assert.ErrorIs(t, err, plan.ErrInvalidLayout, tc.doc)
		assert.Contains(t, err.Error(), tc.want, tc.doc)
	}
	l, err := plan.ParseLayout([]byte(`{"nodes":[{"id":"a","slots":"0-8191"},{"id":"b","slots":[8192,"8193-16383"],"weight":0}]}`))
	require.NoError(t, err)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	assert.Equal(t, 8192, p.Summary.SlotsMoved)
	_, err = plan.Rebalance(&plan.Layout{Nodes: []plan.Node{{ID: "a", Slots: plan.Ranges{{Start: 0, End: 100}}}}}, plan.Options{})
	assert.ErrorIs(t, err, plan.ErrUncovered)
	assert.Contains(t, err.Error(), "101-16383")
}

func TestPlanJSONRoundTrip(t *testing.T) {
	l := addEmpty(CreateLayout(5), 2)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	b, err := p.Marshal()
	require.NoError(t, err)
	q, err := plan.ParsePlan(b)
	require.NoError(t, err)
	assert.Equal(t, p, q)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	assert.EqualValues(t, plan.FormatVersion, generic["version"])
	assert.NotContains(t, generic, "after", "version 2 lists the final layout only")
	assert.Contains(t, generic, "final")
	assert.Equal(t, "rebalance", generic["kind"])
	// Moves within a batch have disjoint nodes, and there are as many
	// batches as the most moves one node takes part in (the least possible).
	deg := map[string]int{}
	most := 0
	for _, m := range p.Moves {
		deg[m.Source]++
		deg[m.Target]++
		most = max(most, deg[m.Source], deg[m.Target])
	}
	assert.Len(t, p.Batches, most)
	for _, batch := range p.Batches {
		seen := map[string]bool{}
		for _, mi := range batch {
			m := p.Moves[mi]
			assert.False(t, seen[m.Source] || seen[m.Target])
			seen[m.Source], seen[m.Target] = true, true
		}
	}
}

func TestValidateErrors(t *testing.T) {
	l := addEmpty(CreateLayout(2), 3)
	good, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	b, err := good.Marshal()
	require.NoError(t, err)
	mutate := func(f func(p *plan.Plan)) error {
		p, err := plan.ParsePlan(b)
		require.NoError(t, err)
		f(p)
		return p.Validate()
	}
	for _, tc := range []struct {
		want string
		f    func(p *plan.Plan)
	}{
		{"version", func(p *plan.Plan) { p.Version = 3 }},
		{"unknown kind", func(p *plan.Plan) { p.Kind = "shuffle" }},
		{"missing \"before\"", func(p *plan.Plan) { p.Before = nil }},
		{"not in \"before\"", func(p *plan.Plan) { p.Moves[0].Source = "ghost" }},
		{"source and target are both", func(p *plan.Plan) { p.Moves[0].Target = p.Moves[0].Source }},
		{"\"slots\" is", func(p *plan.Plan) { p.Moves[0].Slots++ }},
		{"no ranges", func(p *plan.Plan) { p.Moves[0].Ranges = nil }},
		{"moved twice", func(p *plan.Plan) { p.Moves[1].Ranges = p.Moves[0].Ranges; p.Moves[1].Slots = p.Moves[0].Slots }},
		{"in no batch", func(p *plan.Plan) { p.Batches = p.Batches[:len(p.Batches)-1] }},
		{"out of range", func(p *plan.Plan) { p.Batches[0][0] = 99 }},
		{"more than one batch", func(p *plan.Plan) { p.Batches = append(p.Batches, []int{0}) }},
		{"disjoint nodes", func(p *plan.Plan) {
			// Merge all batches into one.
			var all []int
			for _, b := range p.Batches {
				all = append(all, b...)
			}
			p.Batches = [][]int{all}
		}},
		{"missing \"final\"", func(p *plan.Plan) { p.FinalLayout = nil }},
		{"should own", func(p *plan.Plan) { p.FinalLayout = p.Before }},
		{"not in \"before\"", func(p *plan.Plan) { p.FinalLayout["ghost"] = plan.Ranges{} }},
		{"not by source", func(p *plan.Plan) {
			m := p.Moves[p.Batches[0][0]] // Before already gives its first slot to the target
			x := m.Ranges[0].Start
			src, dst := slots.SetOf(p.Before[m.Source]...), slots.SetOf(p.Before[m.Target]...)
			src.Remove(x)
			dst.Add(x)
			p.Before[m.Source], p.Before[m.Target] = src.Ranges(), dst.Ranges()
		}},
		{"slots_moved", func(p *plan.Plan) { p.Summary.SlotsMoved = 1 }},
		{"owned by both", func(p *plan.Plan) { p.Before["n004"] = plan.Ranges{{Start: 0, End: 0}} }},
	} {
		err := mutate(tc.f)
		require.Error(t, err, tc.want)
		assert.ErrorIs(t, err, plan.ErrInvalidPlan)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err = plan.ParsePlan([]byte(strings.Replace(string(b), `"kind"`, `"kinds"`, 1)))
	assert.ErrorIs(t, err, plan.ErrInvalidPlan)
}

func TestReshardTake(t *testing.T) {
	l := addEmpty(CreateLayout(3), 1)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: "n003", Take: map[string]int{"n000": 7, "n002": 5}})
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.Equal(t, 12, p.Summary.SlotsMoved)
	got := map[string]int{}
	for _, m := range p.Moves {
		got[m.Source] += m.Slots
	}
	assert.Equal(t, map[string]int{"n000": 7, "n002": 5}, got)
	for _, bad := range []plan.ReshardRequest{
		{Target: "n003", Take: map[string]int{"n000": 7}, Slots: 8},
		{Target: "n003", Take: map[string]int{"n000": 99999}},
		{Target: "n003", Take: map[string]int{"n000": -1}},
		{Target: "n003", Take: map[string]int{"n003": 1}},
		{Target: "n003", Take: map[string]int{"n000": 0}},
	} {
		_, err := plan.Reshard(l, bad)
		assert.ErrorIs(t, err, plan.ErrImpossible, "%+v", bad)
	}
	_, err = plan.Reshard(l, plan.ReshardRequest{Target: "n003", Take: map[string]int{"zz": 1}})
	assert.ErrorIs(t, err, plan.ErrUnknownNode)
}
