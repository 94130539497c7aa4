package plan_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// randomLayout makes n primaries: contiguous random partition (frag=false)
// or slots dealt in random runs (frag=true); some nodes empty, random
// weights when weighted (some 0, never all 0).
func randomLayout(r *rand.Rand, n int, frag, weighted bool) *plan.Layout {
	l := &plan.Layout{}
	for i := 0; i < n; i++ {
		nd := plan.Node{ID: nodeID(i)}
		if weighted {
			switch r.IntN(5) {
			case 0:
				nd.Weight = plan.Weight(0)
			case 1:
				nd.Weight = plan.Weight(float64(1 + r.IntN(4)))
			default:
				nd.Weight = plan.Weight(0.25 + r.Float64()*3)
			}
		}
		l.Nodes = append(l.Nodes, nd)
	}
	if weighted {
		l.Nodes[r.IntN(n)].Weight = plan.Weight(1)
	}
	owners := n
	if n > 1 && r.IntN(2) == 0 {
		owners = 1 + r.IntN(n) // the rest start empty
	}
	if !frag {
		cuts := map[int]bool{}
		for len(cuts) < owners-1 {
			cuts[1+r.IntN(slots.Count-1)] = true
		}
		start, k := 0, 0
		for s := 1; s <= slots.Count; s++ {
			if s == slots.Count || cuts[s] {
				l.Nodes[k].Slots = append(l.Nodes[k].Slots, slots.Range{Start: slots.Slot(start), End: slots.Slot(s - 1)})
				k++
				start = s
			}
		}
		return l
	}
	for s := 0; s < slots.Count; {
		ln := 1 + r.IntN(200)
		if r.IntN(3) == 0 {
			ln = 1 + r.IntN(3)
		}
		e := min(slots.Count-1, s+ln-1)
		k := r.IntN(owners)
		rs := &l.Nodes[k].Slots
		if m := len(*rs); m > 0 && int((*rs)[m-1].End)+1 == s {
			(*rs)[m-1].End = slots.Slot(e)
		} else {
			*rs = append(*rs, slots.Range{Start: slots.Slot(s), End: slots.Slot(e)})
		}
		s = e + 1
	}
	return l
}

// bruteMinMoves computes the least number of slots any balanced plan must
// move, independently of the planner: every node must end at floor(q) or
// ceil(q) of its quota q (weight 0: 0), with 16384 in total; it tries every
// choice of which nodes round up and returns the least
// sum max(0, current - target).
func bruteMinMoves(l *plan.Layout) int {
	n := len(l.Nodes)
	W := 0.0
	for _, nd := range l.Nodes {
		W += weightOf(nd)
	}
	floor := make([]int, n)
	cur := make([]int, n)
	var frac []int // nodes whose quota is not an integer
	base := 0
	for i, nd := range l.Nodes {
		q := float64(slots.Count) * weightOf(nd) / W
		floor[i] = int(math.Floor(q))
		if q-math.Floor(q) > 1e-9 {
			frac = append(frac, i)
		}
		base += floor[i]
		cur[i] = nd.Slots.Len()
	}
	left := slots.Count - base
	best := math.MaxInt
	for mask := 0; mask < 1<<len(frac); mask++ {
		if popcount(mask) != left {
			continue
		}
		moved := 0
		for i := range n {
			t := floor[i]
			for b, j := range frac {
				if j == i && mask&(1<<b) != 0 {
					t++
				}
			}
			moved += max(0, cur[i]-t)
		}
		best = min(best, moved)
	}
	return best
}

func weightOf(n plan.Node) float64 {
	if n.Weight == nil {
		return 1
	}
	return *n.Weight
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

// checkRebalance asserts the properties every rebalance plan must have.
func checkRebalance(t *testing.T, l *plan.Layout, p *plan.Plan, frag bool) {
	t.Helper()
	require.NoError(t, p.Validate())
	n := len(l.Nodes)
	before := ownerOf(t, l)
	after := applyPlan(t, l, p)
	// Covers every slot exactly once, and equals the plan's final layout.
	final := &plan.Layout{}
	for _, nd := range l.Nodes {
		final.Nodes = append(final.Nodes, plan.Node{ID: nd.ID, Slots: p.Final()[nd.ID]})
	}
	fo := ownerOf(t, final)
	require.Equal(t, after, fo)
	for s, o := range fo {
		if o < 0 {
			t.Fatalf("slot %d uncovered", s)
		}
	}
	// Balanced: within one slot of the weight-proportional quota.
	W := 0.0
	for _, nd := range l.Nodes {
		W += weightOf(nd)
	}
	c := counts(after, n)
	cb := counts(before, n)
	minMoves := 0
	for i, nd := range l.Nodes {
		q := float64(slots.Count) * weightOf(nd) / W
		assert.Less(t, math.Abs(float64(c[i])-q), 1.0, "node %s has %d, quota %.3f", nd.ID, c[i], q)
		assert.Equal(t, p.Targets[nd.ID], c[i])
		minMoves += max(0, cb[i]-c[i])
	}
	// Each slot moved at most once, and exactly the necessary ones.
	assert.Equal(t, minMoves, p.Summary.SlotsMoved)
	changed := 0
	for s := range before {
		if before[s] != after[s] {
			changed++
		}
	}
	assert.Equal(t, changed, p.Summary.SlotsMoved)
	// Range guarantees.
	rb, ra := rangesPerNode(before, n), rangesPerNode(after, n)
	donors := make([]map[int]bool, n)
	for s := range before {
		if before[s] != after[s] {
			if donors[after[s]] == nil {
				donors[after[s]] = map[int]bool{}
			}
			donors[after[s]][before[s]] = true
		}
	}
	for i := range n {
		if c[i] < cb[i] {
			assert.LessOrEqual(t, ra[i], rb[i], "donor %s gained ranges", l.Nodes[i].ID)
		}
		if !frag && c[i] > cb[i] {
			assert.LessOrEqual(t, ra[i], rb[i]+len(donors[i]), "receiver %s: %d ranges from %d with %d donors", l.Nodes[i].ID, ra[i], rb[i], len(donors[i]))
		}
	}
}

func TestRebalanceProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(12)
		frag := iter%3 == 0
		weighted := iter%2 == 1
		l := randomLayout(r, n, frag, weighted)
		p, err := plan.Rebalance(l, plan.Options{})
		require.NoError(t, err)
		checkRebalance(t, l, p, frag)
		assert.Equal(t, bruteMinMoves(l), p.Summary.SlotsMoved, "iteration %d", iter)
		if t.Failed() {
			t.Fatalf("iteration %d failed: layout %+v", iter, l)
		}
	}
}

func TestRebalancePropertiesLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 20; iter++ {
		n := 20 + r.IntN(300)
		frag := iter%2 == 0
		l := randomLayout(r, n, frag, iter%4 < 2)
		p, err := plan.Rebalance(l, plan.Options{})
		require.NoError(t, err)
		checkRebalance(t, l, p, frag)
	}
}

func TestRebalanceDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	l := randomLayout(r, 50, true, true)
	a, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	b, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	ja, err := a.Marshal()
	require.NoError(t, err)
	jb, err := b.Marshal()
	require.NoError(t, err)
	assert.Equal(t, string(ja), string(jb))
}

// The lowest-slots rule of redis-cli against the planner, on random
// contiguous layouts with empty nodes added.
func TestRangesVersusRedisCli(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	better, worse := 0, 0
	for iter := 0; iter < 50; iter++ {
		old := 2 + r.IntN(20)
		l := addEmpty(CreateLayout(old), 1+r.IntN(5))
		n := len(l.Nodes)
		p, err := plan.Rebalance(l, plan.Options{})
		require.NoError(t, err)
		ours := sum(rangesPerNode(applyPlan(t, l, p), n))
		moved, cli := plan.RedisCLIRebalance(ownerOf(t, l), ones(n))
		theirs := sum(rangesPerNode(cli, n))
		assert.LessOrEqual(t, p.Summary.SlotsMoved, moved)
		if ours < theirs {
			better++
		} else if ours > theirs {
			worse++
		}
	}
	t.Logf("fewer ranges than redis-cli in %d of 50 layouts, more in %d", better, worse)
	assert.Zero(t, worse)
}
