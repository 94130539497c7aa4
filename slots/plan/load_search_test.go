package plan_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// withinTol is the test RebalanceLoad's Summary.Load.Within uses.
func withinTol(load, fair, tol float64) bool {
	return math.Abs(load-fair)/fair <= tol+1e-12
}

// bruteFeasible reports whether some assignment of the heavy slots (the
// only loaded ones) puts every node within tol of its fair share.
func bruteFeasible(heavy []float64, fair []float64, tol float64) bool {
	k := len(fair)
	acc := make([]float64, k)
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(heavy) {
			for j := range acc {
				if !withinTol(acc[j], fair[j], tol) {
					return false
				}
			}
			return true
		}
		for j := range acc {
			acc[j] += heavy[i]
			ok := rec(i + 1)
			acc[j] -= heavy[i]
			if ok {
				return true
			}
		}
		return false
	}
	return rec(0)
}

// smallLoadCase is a random layout of 3-4 primaries where 8-12 slots carry
// integer loads and the rest 0.
func smallLoadCase(r *rand.Rand) (*plan.Layout, []float64, []float64, float64) {
	k := 3 + r.IntN(2)
	m := 8 + r.IntN(5)
	if k == 4 {
		m = 8 + r.IntN(2)
	}
	var l *plan.Layout
	if r.IntN(2) == 0 {
		l = CreateLayout(k)
	} else {
		l = &plan.Layout{}
		for i := 0; i < k; i++ {
			l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i)})
		}
		for s := 0; s < slots.Count; {
			e := min(slots.Count-1, s+r.IntN(3000))
			o := r.IntN(k)
			l.Nodes[o].Slots = append(l.Nodes[o].Slots, slots.Range{Start: slots.Slot(s), End: slots.Slot(e)})
			s = e + 1
		}
	}
	weights := make([]float64, k)
	W := 0.0
	for i := range l.Nodes {
		weights[i] = 1
		if r.IntN(3) == 0 {
			weights[i] = 2
			l.Nodes[i].Weight = plan.Weight(2)
		}
		W += weights[i]
	}
	per := make([]float64, slots.Count)
	var heavy []float64
	for len(heavy) < m {
		s := r.IntN(slots.Count)
		if per[s] == 0 {
			per[s] = float64(1 + r.IntN(100))
			heavy = append(heavy, per[s])
		}
	}
	total := 0.0
	for _, v := range per {
		total += v
	}
	fair := make([]float64, k)
	for i := range fair {
		fair[i] = total * weights[i] / W
	}
	tol := []float64{0.05, 0.1, 0.2}[r.IntN(3)]
	l.Loads = plan.LoadsOf(per)
	return l, per, fair, tol
}

// TestLoadReachesToleranceWhenPossible checks, against brute force, that
// RebalanceLoad reaches the tolerance on every small case where some
// assignment of the slots does, and explains itself in Notes on the rest.
func TestLoadReachesToleranceWhenPossible(t *testing.T) {
	start := time.Now()
	r := rand.New(rand.NewPCG(7, 8))
	feasible, infeasible, reached, oldReached, moved := 0, 0, 0, 0, 0
	for c := 0; c < 250; c++ {
		l, per, fair, tol := smallLoadCase(r)
		var heavy []float64
		for _, v := range per {
			if v > 0 {
				heavy = append(heavy, v)
			}
		}
		ok := bruteFeasible(heavy, fair, tol)
		p, err := plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: tol})
		require.NoError(t, err)
		require.NoError(t, p.Validate())
		got := loadsAfter(t, l, p, per)
		all := true
		for i := range fair {
			all = all && withinTol(got[i], fair[i], tol)
		}
		require.Equal(t, all, p.Summary.Load.Within, "case %d", c)
		if ok {
			feasible++
			if assert.True(t, all, "case %d: feasible (brute force) but not reached: %v, notes %q", c, p.Summary.Load, p.Notes) {
				reached++
			}
			if op, err := plan.OldRebalanceLoad(l, plan.LoadOptions{Tolerance: tol}); err == nil && op.Summary.Load.Within {
				oldReached++
			}
		} else {
			infeasible++
			assert.False(t, all, "case %d", c)
			notes := strings.Join(p.Notes, "\n")
			assert.Contains(t, notes, "not every primary is within the tolerance", "case %d", c)
			assert.True(t, strings.Contains(notes, "no assignment of the slots") || strings.Contains(notes, "hot slot"),
				"case %d: an infeasible case says why: %q", c, p.Notes)
		}
		if withinAlready(per, l, fair, tol) {
			assert.Zero(t, p.Summary.SlotsMoved, "case %d: already within, nothing moves", c)
		}
		moved += p.Summary.SlotsMoved
	}
	t.Logf("%d feasible cases: %d reached (old greedy %d); %d infeasible; %d slots moved in all; %v",
		feasible, reached, oldReached, infeasible, moved, time.Since(start))
	assert.Equal(t, feasible, reached)
	assert.Positive(t, infeasible)
	assert.Less(t, oldReached, feasible, "the cases include some the old greedy misses")
}

func withinAlready(per []float64, l *plan.Layout, fair []float64, tol float64) bool {
	cur := make([]float64, len(l.Nodes))
	for i, nd := range l.Nodes {
		for _, rg := range nd.Slots {
			for s := int(rg.Start); s <= int(rg.End); s++ {
				cur[i] += per[s]
			}
		}
	}
	for i := range cur {
		if !withinTol(cur[i], fair[i], tol) {
			return false
		}
	}
	return true
}

// TestLoadSparseFewRanges: on sparse loads (most slots 0) the planner
// moves blocks, not scattered slots: ranges after <= ranges before + 2 ×
// moves, and less than half the ranges the old single-slot greedy adds.
func TestLoadSparseFewRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	newRanges, oldRanges, newMoved, oldMoved, within, oldWithin := 0, 0, 0, 0, 0, 0
	before := 0
	newLoad, oldLoad := 0.0, 0.0
	cheapMoved, cheapRanges := 0, 0 // RangeCost 1: few slots over few ranges
	const cases = 40
	for c := 0; c < cases; c++ {
		n := 3 + r.IntN(8)
		l := CreateLayout(n)
		if r.IntN(2) == 0 {
			l = addEmpty(l, 1+r.IntN(2))
		}
		per := make([]float64, slots.Count)
		hot := 20 + r.IntN(400)
		for k := 0; k < hot; k++ {
			per[r.IntN(slots.Count)] = math.Floor(1 + r.ExpFloat64()*1000)
		}
		l.Loads = plan.LoadsOf(per)
		p, err := plan.RebalanceLoad(l, plan.LoadOptions{})
		require.NoError(t, err)
		require.NoError(t, p.Validate())
		o, err := plan.OldRebalanceLoad(l, plan.LoadOptions{})
		require.NoError(t, err)
		cheap, err := plan.RebalanceLoad(l, plan.LoadOptions{RangeCost: 1})
		require.NoError(t, err)
		require.NoError(t, cheap.Validate())
		assert.Equal(t, p.Summary.Load.Within, cheap.Summary.Load.Within, "case %d: RangeCost changes the shape, not the balance", c)
		cheapMoved += cheap.Summary.SlotsMoved
		cheapRanges += cheap.Summary.RangesAfter
		assert.LessOrEqual(t, p.Summary.RangesAfter, p.Summary.RangesBefore+2*len(p.Moves),
			"case %d: %d nodes, %d loaded slots: ranges %d -> %d with %d moves", c, len(l.Nodes), hot, p.Summary.RangesBefore, p.Summary.RangesAfter, len(p.Moves))
		if o.Summary.Load.Within {
			assert.True(t, p.Summary.Load.Within, "case %d: the old greedy reached the tolerance", c)
		}
		newLoad += movedLoad(p, per)
		oldLoad += movedLoad(o, per)
		before += p.Summary.RangesBefore
		newRanges += p.Summary.RangesAfter
		oldRanges += o.Summary.RangesAfter
		newMoved += p.Summary.SlotsMoved
		oldMoved += o.Summary.SlotsMoved
		if p.Summary.Load.Within {
			within++
		}
		if o.Summary.Load.Within {
			oldWithin++
		}
		if c < 5 {
			t.Logf("case %d: %d nodes, %d loaded slots: ranges %d -> %d (old greedy %d); moves %d (old %d); slots moved %d (old %d)",
				c, len(l.Nodes), hot, p.Summary.RangesBefore, p.Summary.RangesAfter, o.Summary.RangesAfter,
				len(p.Moves), len(o.Moves), p.Summary.SlotsMoved, o.Summary.SlotsMoved)
		}
	}
	t.Logf("%d sparse cases: ranges %d before, %d after (old greedy %d); slots moved %d (old %d); load moved %.0f (old %.0f); within tolerance %d (old %d)",
		cases, before, newRanges, oldRanges, newMoved, oldMoved, newLoad, oldLoad, within, oldWithin)
	t.Logf("with RangeCost 1: slots moved %d, ranges after %d", cheapMoved, cheapRanges)
	assert.Less(t, cheapMoved, newMoved, "RangeCost 1 moves fewer slots than the default")
	assert.GreaterOrEqual(t, cheapRanges, newRanges, "and pays for it in ranges")
	assert.Less(t, 2*(newRanges-before), oldRanges-before, "less than half the ranges the old greedy adds")
	assert.GreaterOrEqual(t, within, oldWithin)
	assert.LessOrEqual(t, newLoad, oldLoad, "no more load moved than by the old greedy")
}

// TestLoadDeterministic: the same layout gives byte-identical plan JSON.
func TestLoadDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for c := 0; c < 6; c++ {
		var l *plan.Layout
		var tol float64
		if c%2 == 0 {
			l, _, _, tol = smallLoadCase(r)
		} else {
			l = randomLayout(r, 3+r.IntN(10), c%3 == 0, true)
			per := make([]float64, slots.Count)
			for k := 0; k < 300; k++ {
				per[r.IntN(slots.Count)] = math.Floor(1 + r.ExpFloat64()*1000)
			}
			l.Loads = plan.LoadsOf(per)
		}
		p, err := plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: tol})
		require.NoError(t, err)
		want, err := p.Marshal()
		require.NoError(t, err)
		for k := 0; k < 3; k++ {
			q, err := plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: tol})
			require.NoError(t, err)
			got, err := q.Marshal()
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "case %d run %d", c, k)
		}
	}
}

// TestLoadWithinMovesNothing: uneven slot counts and loads, but every
// node within the tolerance: the plan is empty.
func TestLoadWithinMovesNothing(t *testing.T) {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 99}}},
		{ID: "b", Slots: plan.Ranges{{Start: 100, End: 9999}}, Weight: plan.Weight(2)},
		{ID: "c", Slots: plan.Ranges{{Start: 10000, End: 16383}}},
	}}
	// a: 1000, b: 2080, c: 960 of 4040 (fair 1010, 2020, 1010): all
	// within 5%.
	l.Loads = plan.Loads{"0-9": 100, "100-107": 260, "10000-10007": 120}
	p, err := plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: 0.05})
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.True(t, p.Summary.Load.Within)
	assert.Zero(t, p.Summary.SlotsMoved)
	assert.Empty(t, p.Moves)
	assert.Empty(t, p.Notes)
	// Just outside on one node: something moves.
	p, err = plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: 0.04})
	require.NoError(t, err)
	assert.True(t, p.Summary.Load.Within)
	assert.Positive(t, p.Summary.SlotsMoved)
}

// movedLoad is the load of the slots p moves.
func movedLoad(p *plan.Plan, per []float64) float64 {
	t := 0.0
	for _, m := range p.Moves {
		for _, r := range m.Ranges {
			for s := int(r.Start); s <= int(r.End); s++ {
				t += per[s]
			}
		}
	}
	return t
}

// TestLoadOneHotSlotOnly: all the load in one slot; no layout is within
// the tolerance, the plan says so and keeps the slot where it is.
func TestLoadOneHotSlotOnly(t *testing.T) {
	l := CreateLayout(3)
	l.Loads = plan.Loads{"7": 100}
	p, err := plan.RebalanceLoad(l, plan.LoadOptions{})
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.False(t, p.Summary.Load.Within)
	assert.Zero(t, p.Summary.SlotsMoved)
	notes := strings.Join(p.Notes, "\n")
	assert.Contains(t, notes, "hot slot")
	assert.Contains(t, notes, "no assignment of the slots")
}
