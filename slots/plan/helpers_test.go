package plan_test

import (
	"fmt"
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
