package plan_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// createRanges replicates how `redis-cli --cluster create` (redis 7.x,
// src/redis-cli.c, clusterManagerCommandCreate) splits the 16384 slots
// over n masters:
//
//	float slots_per_node = CLUSTER_MANAGER_SLOTS / (float) masters_count;
//	long first = 0; float cursor = 0.0f;
//	for (i = 0; i < masters_count; i++) {
//	    long last = lround(cursor + slots_per_node - 1);
//	    if (last > CLUSTER_MANAGER_SLOTS || i == (masters_count - 1))
//	        last = CLUSTER_MANAGER_SLOTS - 1;
//	    if (last < first) last = first;
//	    ... slots first..last to master i ...
//	    first = last + 1;
//	    cursor += slots_per_node;
//	}
//
// (float is single precision; lround rounds half away from zero.)
func createRanges(n int) []slots.Range {
	per := float32(slots.Count) / float32(n)
	var cursor float32
	first := 0
	out := make([]slots.Range, n)
	for i := 0; i < n; i++ {
		x := float64(cursor + per - 1)
		last := int(x + 0.5) // lround for positive x
		if last > slots.Count || i == n-1 {
			last = slots.Count - 1
		}
		if last < first {
			last = first
		}
		out[i] = slots.Range{Start: slots.Slot(first), End: slots.Slot(last)}
		first = last + 1
		cursor += per
	}
	return out
}

// CreateLayout returns the layout `redis-cli --cluster create` makes with n
// masters, named n000, n001, … in slot order.
func CreateLayout(n int) *plan.Layout {
	l := &plan.Layout{}
	for i, r := range createRanges(n) {
		l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i), Slots: plan.Ranges{r}})
	}
	return l
}

func nodeID(i int) string { return fmt.Sprintf("n%03d", i) }

// addEmpty appends k empty primaries to l.
func addEmpty(l *plan.Layout, k int) *plan.Layout {
	n := len(l.Nodes)
	for i := 0; i < k; i++ {
		l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(n + i)})
	}
	return l
}

// ownerOf returns slot -> node index (in l.Nodes) for a layout.
func ownerOf(t testing.TB, l *plan.Layout) []int {
	t.Helper()
	o := make([]int, slots.Count)
	for i := range o {
		o[i] = -1
	}
	for i, n := range l.Nodes {
		for _, r := range n.Slots {
			for s := int(r.Start); s <= int(r.End); s++ {
				if o[s] != -1 {
					t.Fatalf("slot %d owned twice", s)
				}
				o[s] = i
			}
		}
	}
	return o
}

// rangesPerNode counts maximal runs per node of an owner array.
func rangesPerNode(owner []int, n int) []int {
	c := make([]int, n)
	for s := 0; s < len(owner); s++ {
		if owner[s] >= 0 && (s == 0 || owner[s-1] != owner[s]) {
			c[owner[s]]++
		}
	}
	return c
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// redisCliRebalance simulates `redis-cli --cluster rebalance
// --cluster-use-empty-masters` (redis 7.x, clusterManagerCommandRebalance)
// on an owner array, returning the slots moved and the new owners:
//
//	expected = (int)(((float)CLUSTER_MANAGER_SLOTS / total_weight) * n->weight);
//	n->balance = n->slots_count - expected;
//	while (total_balance > 0) for each node in list order:
//	    if (n->balance <= 0 && total_balance > 0) { n->balance--; total_balance--; }
//	sort by balance; pair the most negative (dst) with the most positive (src);
//	src gives min(|db|,|sb|) slots, lowest-numbered first
//	(clusterManagerComputeReshardTable with one source).
//
// The threshold check is skipped (the scenarios are far over it).
func redisCliRebalance(owner []int, weights []float64) (int, []int) {
	owner = slices.Clone(owner)
	n := len(weights)
	tw := float32(0)
	for _, w := range weights {
		tw += float32(w)
	}
	count := make([]int, n)
	for _, o := range owner {
		count[o]++
	}
	bal := make([]int, n)
	total := 0
	for i := range n {
		exp := int(float32(slots.Count) / tw * float32(weights[i]))
		bal[i] = count[i] - exp
		total += bal[i]
	}
	for total > 0 {
		for i := range n {
			if bal[i] <= 0 && total > 0 {
				bal[i]--
				total--
			}
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(bal[a], bal[b]) })
	moved := 0
	dst, src := 0, n-1
	for dst < src {
		d, s := order[dst], order[src]
		num := min(-bal[d], bal[s])
		if num > 0 {
			k := 0
			for x := 0; x < slots.Count && k < num; x++ {
				if owner[x] == s {
					owner[x] = d
					k++
				}
			}
			moved += num
		}
		bal[d] += num
		bal[s] -= num
		if bal[d] == 0 {
			dst++
		}
		if bal[s] == 0 {
			src--
		}
	}
	return moved, owner
}

// applyPlan returns the owner array after p (indexes as in l.Nodes).
func applyPlan(t testing.TB, l *plan.Layout, p *plan.Plan) []int {
	t.Helper()
	idx := map[string]int{}
	for i, n := range l.Nodes {
		idx[n.ID] = i
	}
	o := ownerOf(t, l)
	for _, m := range p.Moves {
		for _, r := range m.Ranges {
			for s := int(r.Start); s <= int(r.End); s++ {
				if o[s] != idx[m.Source] {
					t.Fatalf("move %s->%s: slot %d is owned by node #%d", m.Source, m.Target, s, o[s])
				}
				o[s] = idx[m.Target]
			}
		}
	}
	return o
}
