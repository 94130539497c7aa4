package plan

import (
	"cmp"
	"slices"

	"github.com/slotrouter/slotrouter/slots"
)

// RedisCLIRebalance simulates `redis-cli --cluster rebalance
// --cluster-use-empty-masters` (redis 7.x, clusterManagerCommandRebalance)
// as the baseline the planner is measured against. owner[s] is the index
// of the node holding slot s (-1: nobody), weights[i] node i's weight. It
// returns the slots redis-cli would move and the owners afterwards:
//
//	expected = (int)(((float)CLUSTER_MANAGER_SLOTS / total_weight) * n->weight);
//	n->balance = n->slots_count - expected;
//	while (total_balance > 0) for each node in list order:
//	    if (n->balance <= 0 && total_balance > 0) { n->balance--; total_balance--; }
//	sort by balance; pair the most negative (dst) with the most positive (src);
//	src gives min(|db|,|sb|) slots, lowest-numbered first
//	(clusterManagerComputeReshardTable with one source).
//
// The threshold check is skipped: the simulation always balances. owner
// is not modified.
func RedisCLIRebalance(owner []int, weights []float64) (moved int, after []int) {
	after = slices.Clone(owner)
	n := len(weights)
	if n == 0 {
		return 0, after
	}
	tw := float32(0)
	for _, w := range weights {
		tw += float32(w)
	}
	count := make([]int, n)
	for _, o := range after {
		if o >= 0 && o < n {
			count[o]++
		}
	}
	bal := make([]int, n)
	total := 0
	for i := range n {
		exp := int(float32(slots.Count) / tw * float32(weights[i]))
		bal[i] = count[i] - exp
		total += bal[i]
	}
	for round := 0; total > 0 && round < slots.Count; round++ {
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
	dst, src := 0, n-1
	for dst < src {
		d, s := order[dst], order[src]
		num := min(-bal[d], bal[s])
		if num > 0 {
			k := 0
			for x := 0; x < len(after) && k < num; x++ {
				if after[x] == s {
					after[x] = d
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
	return moved, after
}

// RedisCLIBaseline runs RedisCLIRebalance on the primaries of l, in layout
// order with their weights, and returns the slots redis-cli would move and
// the number of slot ranges summed over primaries afterwards (0 and 0
// for a nil layout).
func RedisCLIBaseline(l *Layout) (moved, ranges int) {
	if l == nil {
		return 0, 0
	}
	owner := make([]int, slots.Count)
	for i := range owner {
		owner[i] = -1
	}
	var weights []float64
	for _, n := range l.Nodes {
		if n.IsReplica() {
			continue
		}
		i := len(weights)
		weights = append(weights, n.weight())
		for _, r := range n.Slots {
			for s := int(r.Start); s <= int(r.End); s++ {
				owner[s] = i
			}
		}
	}
	moved, after := RedisCLIRebalance(owner, weights)
	for s, o := range after {
		if o >= 0 && (s == 0 || after[s-1] != o) {
			ranges++
		}
	}
	return moved, ranges
}
