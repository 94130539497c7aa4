package plan

// The greedy RebalanceLoad used before the block transfers, the improvement
// phase and the exhaustive search; kept for comparison in tests.

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/slotrouter/slotrouter/slots"
)

// OldRebalanceLoad is the previous greedy planner, exported to the tests.
func OldRebalanceLoad(l *Layout, opt LoadOptions) (*Plan, error) { return oldRebalanceLoad(l, opt) }

func oldRebalanceLoad(l *Layout, opt LoadOptions) (*Plan, error) {
	in, err := prepareLoad(l, opt)
	if err != nil {
		return nil, err
	}
	st, load, tol, total, W := in.st, in.load, in.tol, in.total, in.weight
	n := len(st.nodes)
	fair := make([]float64, n)
	cur := make([]float64, n)
	cnt := make([]int, n)
	for _, i := range st.primary {
		fair[i] = total * st.nodes[i].weight() / W
	}
	owner := st.owner
	for s, o := range owner {
		cur[o] += load[s]
		cnt[o]++
	}
	before := slices.Clone(cur)
	active := []int{}
	for _, i := range st.primary {
		if fair[i] > 0 {
			active = append(active, i)
		}
	}
	var notes []string
	ratio := func(i int) float64 { return cur[i] / fair[i] }
	moveSlot := func(s int, to int) {
		from := owner[s]
		cur[from] -= load[s]
		cnt[from]--
		cur[to] += load[s]
		cnt[to]++
		owner[s] = int32(to)
	}
	// Drain weight-0 primaries: loaded slots heaviest first to the node
	// with the lowest ratio afterwards; runs of load-0 slots whole to a
	// neighbour that stays, else to the node with the fewest slots per
	// weight.
	drained := make([]bool, n)
	for _, i := range st.primary {
		drained[i] = fair[i] == 0
	}
	var hot []int
	for s, o := range owner {
		if drained[o] && load[s] > 0 {
			hot = append(hot, s)
		}
	}
	slices.SortStableFunc(hot, func(a, b int) int { return cmp.Compare(load[b], load[a]) })
	for _, s := range hot {
		best := -1
		for _, j := range active {
			if best < 0 || (cur[j]+load[s])/fair[j] < (cur[best]+load[s])/fair[best] {
				best = j
			}
		}
		moveSlot(s, best)
	}
	for s := 0; s < slots.Count; {
		o := owner[s]
		e := s
		for e+1 < slots.Count && owner[e+1] == o {
			e++
		}
		if drained[o] {
			to := -1
			if s > 0 && !drained[owner[s-1]] {
				to = int(owner[s-1])
			} else if e+1 < slots.Count && !drained[owner[e+1]] {
				to = int(owner[e+1])
			} else {
				for _, j := range active {
					if to < 0 || float64(cnt[j])/fair[j] < float64(cnt[to])/fair[to] {
						to = j
					}
				}
			}
			for x := s; x <= e; x++ {
				moveSlot(x, to)
			}
		}
		s = e + 1
	}
	// Per-node loaded slots, sorted by load ascending then slot.
	held := make([][]int, n)
	for s, o := range owner {
		if load[s] > 0 {
			held[o] = append(held[o], s)
		}
	}
	less := func(a, b int) int { return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(a, b)) }
	for i := range held {
		slices.SortFunc(held[i], less)
	}
	pinned := make([]bool, n)
	excluded := make([]bool, n)
	// poolFair recomputes fair shares over the non-pinned nodes.
	poolFair := func() {
		t, w := total, 0.0
		for _, i := range active {
			if pinned[i] {
				t -= cur[i]
			} else {
				w += st.nodes[i].weight()
			}
		}
		for _, i := range active {
			if !pinned[i] && w > 0 {
				fair[i] = t * st.nodes[i].weight() / w
			}
		}
	}
	origFair := slices.Clone(fair)
	for iter := 0; iter < 8*slots.Count+len(active); iter++ {
		d, r := -1, -1
		ok := true
		for _, i := range active {
			if pinned[i] {
				continue
			}
			if x := ratio(i); x > 1+tol || x < 1-tol {
				ok = false
			}
			if !excluded[i] && (d < 0 || ratio(i) > ratio(d)) {
				d = i
			}
			if r < 0 || ratio(i) < ratio(r) {
				r = i
			}
		}
		if ok || d < 0 || r < 0 || d == r || ratio(d) <= ratio(r) {
			break
		}
		dd, dr := cur[d]-fair[d], cur[r]-fair[r]
		ideal := (dd*fair[r] - dr*fair[d]) / (fair[d] + fair[r])
		h := held[d]
		// largest slot <= ideal, and smallest slot > ideal
		k := sort.Search(len(h), func(x int) bool { return load[h[x]] > ideal })
		pick := -1
		if k > 0 {
			pick = k - 1
		}
		if k < len(h) && load[h[k]] < 2*ideal {
			if pick < 0 || load[h[k]]-ideal < ideal-load[h[pick]] {
				pick = k
			}
		}
		if pick < 0 || ideal <= 0 {
			// Nothing d holds can even it out. When d is over its
			// allowance because of one slot, it is pinned: it keeps that
			// slot and the rest are balanced without it.
			excluded[d] = true
			if ratio(d) > 1+tol && len(h) > 0 && load[h[len(h)-1]] > fair[d]*(1+tol) {
				pinned[d] = true
				poolFair()
				clear(excluded)
			}
			continue
		}
		pick = rangeFriendly(h, pick, load, &owner, int32(d), int32(r))
		s := h[pick]
		held[d] = slices.Delete(h, pick, pick+1)
		moveSlot(s, r)
		pos, _ := slices.BinarySearchFunc(held[r], s, less)
		held[r] = slices.Insert(held[r], pos, s)
	}
	sum := &LoadSummary{Tolerance: tol, Total: total, Within: true, Nodes: map[string]NodeLoad{}}
	for _, i := range st.primary {
		f := origFair[i]
		sum.Nodes[st.nodes[i].ID] = NodeLoad{Fair: f, Before: before[i], After: cur[i]}
		if f == 0 {
			continue
		}
		db, da := math.Abs(before[i]-f)/f, math.Abs(cur[i]-f)/f
		sum.MaxDeviationBefore = max(sum.MaxDeviationBefore, db)
		sum.MaxDeviationAfter = max(sum.MaxDeviationAfter, da)
		if da > tol+1e-12 {
			sum.Within = false
		}
		if pinned[i] {
			notes = append(notes, fmt.Sprintf("node %s keeps a hot slot carrying %.4g of its fair share %.4g; slots are atomic, so it cannot be within the tolerance (its other slots were moved away)", st.nodes[i].ID, maxHeld(held[i], load), f))
		}
	}
	if !sum.Within {
		notes = append(notes, fmt.Sprintf("not every primary is within the tolerance %g: max deviation %.4g", tol, sum.MaxDeviationAfter))
	}
	p, err := buildPlan(context.Background(), KindRebalanceLoad, st.nodes, st.primary, &st.owner, &owner)
	if err != nil {
		return nil, err
	}
	p.Summary.Load = sum
	p.Notes = notes
	return p, nil
}

func maxHeld(h []int, load *[slots.Count]float64) float64 {
	if len(h) == 0 {
		return 0
	}
	return load[h[len(h)-1]]
}

// friendlyScan bounds how many equally loaded slots rangeFriendly looks at.
const friendlyScan = 1024

// rangeFriendly picks, among the slots of h with the same load as h[pick]
// (they are adjacent in h), one that keeps ranges few: first a slot
// bordering the receiver r, then one at an end of a run of the donor d,
// else h[pick].
func rangeFriendly(h []int, pick int, load *[slots.Count]float64, owner *[slots.Count]int32, d, r int32) int {
	lo, hi := pick, pick
	for lo > 0 && pick-lo < friendlyScan && load[h[lo-1]] == load[h[pick]] {
		lo--
	}
	for hi+1 < len(h) && hi-pick < friendlyScan && load[h[hi+1]] == load[h[pick]] {
		hi++
	}
	if lo == hi {
		return pick
	}
	end := -1
	for k := lo; k <= hi; k++ {
		s := h[k]
		left, right := int32(noOwner), int32(noOwner)
		if s > 0 {
			left = owner[s-1]
		}
		if s < slots.Count-1 {
			right = owner[s+1]
		}
		if left == r || right == r {
			return k
		}
		if end < 0 && (left != d || right != d) {
			end = k
		}
	}
	if end >= 0 {
		return end
	}
	return pick
}
