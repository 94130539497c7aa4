package plan

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/slotrouter/slotrouter/slots"
)

// DefaultTolerance is the load tolerance RebalanceLoad uses when
// LoadOptions.Tolerance is zero.
const DefaultTolerance = 0.05

// LoadOptions tunes RebalanceLoad.
type LoadOptions struct {
	// Tolerance is how far a primary's load may be from its fair share,
	// as a fraction of that share (0.05 means ±5%). Zero means
	// DefaultTolerance.
	Tolerance float64
	// RangeCost is how many more slots the planner moves to add one slot
	// range fewer (fragmented ranges make CLUSTER SLOTS replies long;
	// moving a slot migrates its keys). Zero means DefaultRangeCost;
	// small values (1) favour moving few slots, large ones few ranges.
	// The bound Summary.RangesAfter <= RangesBefore + 2 × len(Moves) is
	// checked by the tests for the default.
	RangeCost int
}

// DefaultRangeCost is the RangeCost RebalanceLoad uses when
// LoadOptions.RangeCost is zero.
const DefaultRangeCost = 1024

// NodeLoad is one primary's load before and after a load-aware plan.
type NodeLoad struct {
	Fair   float64 `json:"fair"`
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

// LoadSummary reports how balanced a load-aware plan is.
type LoadSummary struct {
	Tolerance float64 `json:"tolerance"`
	Total     float64 `json:"total"`
	// MaxDeviationBefore/After are the largest |load - fair| / fair over
	// primaries of weight > 0.
	MaxDeviationBefore float64 `json:"max_deviation_before"`
	MaxDeviationAfter  float64 `json:"max_deviation_after"`
	// Within reports whether every primary ends within the tolerance.
	Within bool                `json:"within_tolerance"`
	Nodes  map[string]NodeLoad `json:"nodes"`
}

// RebalanceLoad plans slot moves that balance per-slot loads (the layout's
// Loads: key counts, bytes, ops) instead of slot counts: every primary of
// weight > 0 should end with load within Tolerance of its
// weight-proportional fair share (|load - fair| <= Tolerance × fair).
// Slots are atomic: a hot slot is never split. Weight-0 primaries are
// drained (their loaded slots heaviest first to the node left with the
// lowest load/fair, their load-0 runs whole to a neighbour that stays).
//
// What is guaranteed:
//
//   - Nothing moves when every primary of weight > 0 is already within
//     the tolerance and no weight-0 primary holds slots.
//   - The tolerance is reached whenever the search can find a layout that
//     reaches it: if the first two phases (below) miss it, an exhaustive
//     search over the assignments of the loaded slots (heaviest first,
//     pruned, at most 2^20 steps) either finds such a layout, or proves
//     that none exists, or gives up at its step cap; Notes say which. On
//     small instances the search always finishes (the tests check every
//     random case of 3–4 primaries and 8–12 loaded slots against brute
//     force: the tolerance is reached on each case where some assignment
//     reaches it).
//   - When no layout reaches it because a slot is hotter than its owner's
//     whole allowance, that node keeps the slot and sheds its other load,
//     and the rest are balanced among the remaining nodes; Notes name it.
//     Summary.Load.Within is false and Notes explain whenever a primary
//     ends outside the tolerance.
//   - Few ranges: the first phase moves, per transfer, one block of the
//     donor's slots: a prefix or suffix of one of its ranges (or a whole
//     range), which adds at most one range to the cluster and none when it
//     borders the receiver, or a window inside a range, which adds two and
//     is taken only when it moves more than RangeCost fewer slots than the best
//     end block of the same closeness (below). A donor never gains a range
//     from an end block. Slots moved by the later phases (run only when
//     the first misses the tolerance) take their load-0 neighbours up to
//     an end of the donor's range when that end borders the receiver.
//     Zero-load slots are moved only inside such blocks, so plans move
//     more slots than single-slot plans, but far fewer ranges: the tests
//     check, on random sparse loads, Summary.RangesAfter <= RangesBefore +
//     2 × len(Moves).
//   - Deterministic: the same layout and options give the same plan.
//
// The phases (exact load balancing is bin packing, NP-hard, hence the
// caps):
//
//  1. Greedy block transfers. Each primary gets a target: its load clamped
//     to half the tolerance around its fair share, then levelled until the
//     targets add up to the total, so that nodes already near their share
//     keep their load. The node with the largest surplus over its target
//     gives to the one with the largest deficit an amount close to the
//     smaller of the two (within a quarter of the tolerance counts as
//     equal); among such blocks it takes the cheapest (slots moved plus
//     RangeCost per range added), then the one that best evens slot counts per
//     weight, then the closest amount.
//  2. If a primary is still outside the tolerance, a local search (at most
//     4096 + 4 per primary steps) of single-slot moves and two-slot swaps
//     between the primary furthest outside and each other one, minimising
//     the summed excess over the tolerance.
//  3. If one still is, the exhaustive search above, which tries each slot
//     with its owner first so that few slots move.
//
// Summary.Load reports the outcome. Slot counts are not balanced in this
// mode beyond the tie-breaker above.
func RebalanceLoad(l *Layout, opt LoadOptions) (*Plan, error) {
	return RebalanceLoadContext(context.Background(), l, opt)
}

// RebalanceLoadContext is RebalanceLoad that stops when ctx ends,
// returning ctx's error: each phase looks at ctx between steps.
func RebalanceLoadContext(ctx context.Context, l *Layout, opt LoadOptions) (*Plan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	in, err := prepareLoad(l, opt)
	if err != nil {
		return nil, err
	}
	st, load, tol, total, W := in.st, in.load, in.tol, in.total, in.weight
	rangeCost := opt.RangeCost
	if rangeCost == 0 {
		rangeCost = DefaultRangeCost
	}
	if rangeCost < 0 {
		return nil, fmt.Errorf("%w: range cost %d must be >= 0", ErrImpossible, opt.RangeCost)
	}
	n := len(st.nodes)
	lp := &loadPlanner{ctx: ctx, load: load, tol: tol, total: total, rangeCost: rangeCost, owner: st.owner,
		cur: make([]float64, n), cnt: make([]int, n), fair: make([]float64, n),
		orig: make([]float64, n), weight: make([]float64, n), pinned: make([]bool, n)}
	for _, i := range st.primary {
		lp.weight[i] = st.nodes[i].weight()
		lp.orig[i] = total * lp.weight[i] / W
		if lp.orig[i] > 0 {
			lp.active = append(lp.active, i)
		}
	}
	copy(lp.fair, lp.orig)
	lp.recount()
	before := slices.Clone(lp.cur)
	lp.drain(st.primary)
	var notes []string
	if !lp.allWithin() {
		start := lp.owner // after draining
		lp.buildHeld()
		lp.greedy()
		if !lp.stopped() && !lp.allWithin() {
			greedy := lp.owner
			pinned := slices.Clone(lp.pinned)
			copy(lp.fair, lp.orig)
			clear(lp.pinned)
			if !lp.improve(loadImproveSteps+4*len(lp.active)) && !lp.stopped() {
				found, exhausted := lp.search(&start, loadSearchSteps)
				switch {
				case found:
				case exhausted:
					notes = append(notes, fmt.Sprintf("the search gave up after %d steps without finding a layout within the tolerance; this plan is the planner's best effort", loadSearchSteps))
				default:
					notes = append(notes, "no assignment of the slots puts every primary within the tolerance (exhaustive search); this plan is the planner's best effort")
				}
				if !found && slices.Contains(pinned, true) {
					lp.owner = greedy
					lp.recount()
					copy(lp.pinned, pinned)
				}
			}
		}
	}
	if lp.err != nil {
		return nil, lp.err
	}
	sum := &LoadSummary{Tolerance: tol, Total: total, Within: true, Nodes: map[string]NodeLoad{}}
	var hotNotes []string
	for _, i := range st.primary {
		f := lp.orig[i]
		sum.Nodes[st.nodes[i].ID] = NodeLoad{Fair: f, Before: before[i], After: lp.cur[i]}
		if f == 0 {
			continue
		}
		db, da := math.Abs(before[i]-f)/f, math.Abs(lp.cur[i]-f)/f
		sum.MaxDeviationBefore = max(sum.MaxDeviationBefore, db)
		sum.MaxDeviationAfter = max(sum.MaxDeviationAfter, da)
		if da > tol+1e-12 {
			sum.Within = false
		}
		if lp.pinned[i] {
			hotNotes = append(hotNotes, fmt.Sprintf("node %s keeps a hot slot carrying %.4g of its fair share %.4g; slots are atomic, so it cannot be within the tolerance (its other slots were moved away)", st.nodes[i].ID, lp.hottest(i), f))
		}
	}
	notes = append(hotNotes, notes...)
	if !sum.Within {
		notes = append(notes, fmt.Sprintf("not every primary is within the tolerance %g: max deviation %.4g", tol, sum.MaxDeviationAfter))
	}
	p, err := buildPlan(ctx, KindRebalanceLoad, st.nodes, st.primary, &st.owner, &lp.owner)
	if err != nil {
		return nil, err
	}
	p.Summary.Load = sum
	p.Notes = notes
	return p, nil
}

const (
	// loadImproveSteps bounds the local search (plus 4 per primary).
	loadImproveSteps = 4096
	// loadSearchSteps bounds the exhaustive search.
	loadSearchSteps = 1 << 20
	// loadEps is the slack of comparisons of normalised deviations.
	loadEps = 1e-12
)

// loadPlanner is the working state of RebalanceLoad.
type loadPlanner struct {
	// ctx ends the planning early; err is its error once seen (the
	// phases then stop and RebalanceLoad returns it).
	ctx    context.Context
	err    error
	load   *[slots.Count]float64
	owner  [slots.Count]int32
	cur    []float64 // load per node index
	cnt    []int     // slots per node index
	fair   []float64 // targets: orig, or shares of the pool once nodes are pinned
	orig   []float64 // weight-proportional fair shares
	weight []float64
	active []int // primaries of weight > 0, by ID
	pinned []bool
	tol    float64
	total  float64
	// rangeCost is LoadOptions.RangeCost or its default.
	rangeCost int
	held      [][]int // slots owned per node, ascending (greedy phase)
}

// stopped reports whether ctx has ended (recording its error in lp.err).
func (lp *loadPlanner) stopped() bool {
	if lp.err == nil {
		lp.err = lp.ctx.Err()
	}
	return lp.err != nil
}

func (lp *loadPlanner) recount() {
	clear(lp.cur)
	clear(lp.cnt)
	for s, o := range lp.owner {
		lp.cur[o] += lp.load[s]
		lp.cnt[o]++
	}
}

// within reports whether node i is within the tolerance of its fair share.
func (lp *loadPlanner) within(i int) bool {
	return math.Abs(lp.cur[i]-lp.orig[i])/lp.orig[i] <= lp.tol+loadEps
}

func (lp *loadPlanner) allWithin() bool {
	for _, i := range lp.active {
		if !lp.within(i) {
			return false
		}
	}
	return true
}

// excess is how far load c is outside node i's tolerance, as a fraction of
// its fair share (0 when within).
func (lp *loadPlanner) excess(i int, c float64) float64 {
	return max(0, math.Abs(c/lp.orig[i]-1)-lp.tol)
}

func (lp *loadPlanner) hottest(i int) float64 {
	h := 0.0
	for s, o := range lp.owner {
		if int(o) == i {
			h = max(h, lp.load[s])
		}
	}
	return h
}

func (lp *loadPlanner) set(s, to int) {
	from := lp.owner[s]
	lp.cur[from] -= lp.load[s]
	lp.cnt[from]--
	lp.cur[to] += lp.load[s]
	lp.cnt[to]++
	lp.owner[s] = int32(to)
}

// drain empties weight-0 primaries: loaded slots heaviest first to the
// node with the lowest ratio afterwards; runs of load-0 slots whole to a
// neighbour that stays, else to the node with the fewest slots per weight.
func (lp *loadPlanner) drain(prim []int) {
	drained := make([]bool, len(lp.cur))
	some := false
	for _, i := range prim {
		drained[i] = lp.orig[i] == 0
		some = some || (drained[i] && lp.cnt[i] > 0)
	}
	if !some {
		return
	}
	var hot []int
	for s, o := range lp.owner {
		if drained[o] && lp.load[s] > 0 {
			hot = append(hot, s)
		}
	}
	slices.SortStableFunc(hot, func(a, b int) int { return cmp.Compare(lp.load[b], lp.load[a]) })
	for _, s := range hot {
		best := -1
		for _, j := range lp.active {
			if best < 0 || (lp.cur[j]+lp.load[s])/lp.orig[j] < (lp.cur[best]+lp.load[s])/lp.orig[best] {
				best = j
			}
		}
		lp.set(s, best)
	}
	for s := 0; s < slots.Count; {
		o := lp.owner[s]
		e := s
		for e+1 < slots.Count && lp.owner[e+1] == o {
			e++
		}
		if drained[o] {
			to := -1
			if s > 0 && !drained[lp.owner[s-1]] {
				to = int(lp.owner[s-1])
			} else if e+1 < slots.Count && !drained[lp.owner[e+1]] {
				to = int(lp.owner[e+1])
			} else {
				for _, j := range lp.active {
					if to < 0 || float64(lp.cnt[j])/lp.orig[j] < float64(lp.cnt[to])/lp.orig[to] {
						to = j
					}
				}
			}
			for x := s; x <= e; x++ {
				lp.set(x, to)
			}
		}
		s = e + 1
	}
}

func (lp *loadPlanner) buildHeld() {
	lp.held = make([][]int, len(lp.cur))
	for s, o := range lp.owner {
		lp.held[o] = append(lp.held[o], s)
	}
}

// block is a candidate transfer: slots lo..hi (a prefix, suffix or the
// whole of one of the donor's ranges) carrying load y.
type block struct {
	lo, hi int
	y      float64
	ranges int // ranges the transfer adds to the cluster
}

// greedy is the first phase: block transfers from the node with the
// largest surplus over its target to the one with the largest deficit,
// pinning a node whose one slot is hotter than its allowance.
func (lp *loadPlanner) greedy() {
	n := len(lp.cur)
	excluded := make([]bool, n)
	target := lp.targets()
	gap := func(i int) float64 { return (lp.cur[i] - target[i]) / lp.fair[i] }
	inPool := func(i int) bool { return math.Abs(lp.cur[i]-lp.fair[i])/lp.fair[i] <= lp.tol+loadEps }
	for iter := 0; iter < 2*slots.Count+4*len(lp.active); iter++ {
		if lp.stopped() {
			return
		}
		d, r := -1, -1
		ok := true
		for _, i := range lp.active {
			if lp.pinned[i] {
				continue
			}
			if !inPool(i) {
				ok = false
			}
			if !excluded[i] && (d < 0 || gap(i) > gap(d)) {
				d = i
			}
			if r < 0 || gap(i) < gap(r) {
				r = i
			}
		}
		if ok || d < 0 || r < 0 || d == r || gap(d) <= loadEps || gap(r) >= -loadEps {
			return
		}
		b, found := lp.bestBlock(d, r, target)
		if !found {
			excluded[d] = true
			hot := 0.0
			for _, s := range lp.held[d] {
				hot = max(hot, lp.load[s])
			}
			if lp.cur[d] > lp.fair[d]*(1+lp.tol) && hot > lp.fair[d]*(1+lp.tol) {
				lp.pinned[d] = true
				if !lp.poolFair() {
					return
				}
				target = lp.targets()
				clear(excluded)
			}
			continue
		}
		lp.transfer(b, d, r)
		clear(excluded)
	}
}

// targets returns the load each unpinned node aims at: its current load
// clamped to half the tolerance around its fair share, then lowered (or
// raised) level by level, from the most loaded (least loaded) down (up),
// until the targets add up to the load there is. Nodes within half the
// tolerance keep their load where the totals allow, so little moves.
func (lp *loadPlanner) targets() []float64 {
	h := lp.tol / 2
	t := make([]float64, len(lp.cur))
	var pool []int
	sum, want := 0.0, 0.0
	for _, i := range lp.active {
		if lp.pinned[i] {
			continue
		}
		pool = append(pool, i)
		t[i] = min(max(lp.cur[i], lp.fair[i]*(1-h)), lp.fair[i]*(1+h))
		sum += t[i]
		want += lp.cur[i]
	}
	level := func(down bool, L float64) float64 {
		s := 0.0
		for _, i := range pool {
			if down {
				s += max(lp.fair[i]*(1-h), min(t[i], L*lp.fair[i]))
			} else {
				s += min(lp.fair[i]*(1+h), max(t[i], L*lp.fair[i]))
			}
		}
		return s
	}
	if sum == want {
		return t
	}
	down := sum > want
	lo, hi := 1-h, 1+h
	for range 100 {
		mid := (lo + hi) / 2
		if s := level(down, mid); (s > want) == down {
			hi = mid
		} else {
			lo = mid
		}
	}
	L := lo
	if down {
		L = hi
	}
	for _, i := range pool {
		if down {
			t[i] = max(lp.fair[i]*(1-h), min(t[i], L*lp.fair[i]))
		} else {
			t[i] = min(lp.fair[i]*(1+h), max(t[i], L*lp.fair[i]))
		}
	}
	return t
}

// poolFair recomputes fair shares over the nodes that are not pinned; it
// reports false when there is no load or weight left to share.
func (lp *loadPlanner) poolFair() bool {
	t, w := lp.total, 0.0
	for _, i := range lp.active {
		if lp.pinned[i] {
			t -= lp.cur[i]
		} else {
			w += lp.weight[i]
		}
	}
	if w <= 0 || t <= 0 {
		return false
	}
	for _, i := range lp.active {
		if !lp.pinned[i] {
			lp.fair[i] = t * lp.weight[i] / w
		}
	}
	return true
}

// bestBlock chooses the block d gives r (see RebalanceLoad for the order of
// preferences) among the prefixes and suffixes of d's ranges ending at a
// loaded slot, its whole ranges, and windows inside its ranges between
// loaded slots whose load is just below or above the amount wanted; found
// is false when no block brings the two closer to their targets.
func (lp *loadPlanner) bestBlock(d, r int, target []float64) (block, bool) {
	fd, fr := lp.fair[d], lp.fair[r]
	cd, cr := lp.cur[d], lp.cur[r]
	td, tr := target[d], target[r]
	m0 := max(math.Abs(cd-td)/fd, math.Abs(cr-tr)/fr)
	x := min(cd-td, tr-cr)
	// Amounts within a quarter of the tolerance of x are equally good.
	q := lp.tol / 4 * min(fd, fr)
	// A transfer's cost: the slots it moves, and rangeCost per range it
	// adds.
	cost := func(ranges, k int) int { return ranges*lp.rangeCost + k }
	var best block
	var bestBucket, bestBal float64
	found := false
	consider := func(lo, hi int, y float64, ranges int) {
		if y <= 0 {
			return
		}
		if max(math.Abs(cd-y-td)/fd, math.Abs(cr+y-tr)/fr) >= m0-loadEps {
			return
		}
		bucket := math.Floor(math.Abs(y-x) / q)
		k := hi - lo + 1
		bal := math.Abs(float64(lp.cnt[d]-k)/lp.weight[d] - float64(lp.cnt[r]+k)/lp.weight[r])
		if found {
			switch {
			case bucket != bestBucket:
				if bucket > bestBucket {
					return
				}
			case cost(ranges, k) != cost(best.ranges, best.hi-best.lo+1):
				if cost(ranges, k) > cost(best.ranges, best.hi-best.lo+1) {
					return
				}
			case bal != bestBal:
				if bal > bestBal {
					return
				}
			default:
				if math.Abs(y-x) >= math.Abs(best.y-x) {
					return
				}
			}
		}
		best, bestBucket, bestBal, found = block{lo: lo, hi: hi, y: y, ranges: ranges}, bucket, bal, true
	}
	h := lp.held[d]
	ownerIs := func(s, i int) bool { return s >= 0 && s < slots.Count && int(lp.owner[s]) == i }
	for a := 0; a < len(h); {
		b := a
		for b+1 < len(h) && h[b+1] == h[b]+1 {
			b++
		}
		lo, hi := h[a], h[b]
		leftR, rightR := ownerIs(lo-1, r), ownerIs(hi+1, r)
		whole := 0.0
		for s := lo; s <= hi; s++ {
			whole += lp.load[s]
		}
		wr := 0
		if leftR {
			wr--
		}
		if rightR {
			wr--
		}
		consider(lo, hi, whole, wr)
		pr, sr := 1, 1 // prefix / suffix transfers
		if leftR {
			pr = 0
		}
		if rightR {
			sr = 0
		}
		y := 0.0
		for s := lo; s < hi; s++ {
			if lp.load[s] > 0 {
				y += lp.load[s]
				consider(lo, s, y, pr)
			}
		}
		y = 0
		for s := hi; s > lo; s-- {
			if lp.load[s] > 0 {
				y += lp.load[s]
				consider(s, hi, y, sr)
			}
		}
		// Windows inside the range from one loaded slot to another, with a
		// load just below and just above x: they split the range.
		var in []int
		for s := lo + 1; s < hi; s++ {
			if lp.load[s] > 0 {
				in = append(in, s)
			}
		}
		j, w := 0, 0.0
		for i := range in {
			if j < i {
				j, w = i, 0
			}
			for j < len(in) && w+lp.load[in[j]] <= x {
				w += lp.load[in[j]]
				j++
			}
			if j > i {
				consider(in[i], in[j-1], w, 2)
			}
			if j < len(in) {
				consider(in[i], in[j], w+lp.load[in[j]], 2)
			}
			if j > i {
				w -= lp.load[in[i]]
			}
		}
		a = b + 1
	}
	return best, found
}

func cmpEps(a, b float64) int {
	switch {
	case a < b-loadEps:
		return -1
	case a > b+loadEps:
		return 1
	}
	return 0
}

// transfer gives slots b.lo..b.hi from d to r.
func (lp *loadPlanner) transfer(b block, d, r int) {
	for s := b.lo; s <= b.hi; s++ {
		lp.set(s, r)
	}
	hd := lp.held[d]
	i, _ := slices.BinarySearch(hd, b.lo)
	lp.held[d] = slices.Delete(hd, i, i+b.hi-b.lo+1)
	j, _ := slices.BinarySearch(lp.held[r], b.lo)
	ins := make([]int, 0, b.hi-b.lo+1)
	for s := b.lo; s <= b.hi; s++ {
		ins = append(ins, s)
	}
	lp.held[r] = slices.Insert(lp.held[r], j, ins...)
}

// moveExtended moves loaded slot s to node t, with the load-0 slots
// between s and an end of its owner's range when that end borders t, so
// that the owner's range is not split.
func (lp *loadPlanner) moveExtended(s, t int) {
	g := int(lp.owner[s])
	lo, hi := s, s
	x := s - 1
	for x >= 0 && int(lp.owner[x]) == g && lp.load[x] == 0 {
		x--
	}
	left := x < 0 || int(lp.owner[x]) != g
	if left && x >= 0 && int(lp.owner[x]) == t {
		lo = x + 1
	} else {
		y := s + 1
		for y < slots.Count && int(lp.owner[y]) == g && lp.load[y] == 0 {
			y++
		}
		if y < slots.Count && int(lp.owner[y]) == t {
			hi = y - 1
		}
	}
	for z := lo; z <= hi; z++ {
		lp.set(z, t)
	}
}

// improve is the second phase: a local search over single-slot moves and
// two-slot swaps that lowers the summed excess over the tolerance (fair
// shares lp.orig). It reports whether every node ends within.
func (lp *loadPlanner) improve(steps int) bool {
	n := len(lp.cur)
	lessLoad := func(a, b int) int { return cmp.Or(cmp.Compare(lp.load[a], lp.load[b]), cmp.Compare(a, b)) }
	loaded := make([][]int, n)
	for s, o := range lp.owner {
		if lp.load[s] > 0 {
			loaded[o] = append(loaded[o], s)
		}
	}
	for i := range loaded {
		slices.SortFunc(loaded[i], lessLoad)
	}
	remove := func(i, s int) {
		k, _ := slices.BinarySearchFunc(loaded[i], s, lessLoad)
		loaded[i] = slices.Delete(loaded[i], k, k+1)
	}
	add := func(i, s int) {
		k, _ := slices.BinarySearchFunc(loaded[i], s, lessLoad)
		loaded[i] = slices.Insert(loaded[i], k, s)
	}
	// near returns the indexes in h of the loads bracketing y.
	near := func(h []int, y float64) (int, int) {
		k := sort.Search(len(h), func(x int) bool { return lp.load[h[x]] >= y })
		return k - 1, k
	}
	type cand struct {
		gain  float64
		moved float64
		g, t  int // giver, taker
		a, b  int // slot given (g -> t), slot given back (t -> g) or -1
	}
	for step := 0; step < steps; step++ {
		if lp.stopped() {
			return false
		}
		var out []int
		for _, i := range lp.active {
			if lp.excess(i, lp.cur[i]) > loadEps {
				out = append(out, i)
			}
		}
		if len(out) == 0 {
			return true
		}
		slices.SortStableFunc(out, func(a, b int) int {
			return cmp.Compare(lp.excess(b, lp.cur[b]), lp.excess(a, lp.cur[a]))
		})
		var best cand
		found := false
		for _, w := range out {
			if lp.stopped() {
				return false
			}
			for _, q := range lp.active {
				if q == w {
					continue
				}
				g, t := w, q
				if lp.cur[w] < lp.orig[w] {
					g, t = q, w
				}
				base := lp.excess(g, lp.cur[g]) + lp.excess(t, lp.cur[t])
				f := func(y float64) float64 {
					return lp.excess(g, lp.cur[g]-y) + lp.excess(t, lp.cur[t]+y)
				}
				// f is convex and piecewise linear in the amount y moved
				// from g to t, with breakpoints where either node crosses an
				// edge of its tolerance; its leftmost minimiser is one of them.
				yo, fo := 0.0, f(0)
				for _, y := range []float64{
					lp.cur[g] - lp.orig[g]*(1+lp.tol), lp.cur[g] - lp.orig[g]*(1-lp.tol),
					lp.orig[t]*(1-lp.tol) - lp.cur[t], lp.orig[t]*(1+lp.tol) - lp.cur[t],
				} {
					if y > 0 {
						if v := f(y); v < fo-loadEps || (v <= fo+loadEps && y < yo) {
							yo, fo = y, v
						}
					}
				}
				if yo <= 0 {
					continue
				}
				// No move between g and t gains more than base - fo (fo is
				// f's minimum); skip the pair when that cannot beat the
				// best found (by more than rounding), which changes nothing.
				if found && base-fo < best.gain-2*loadEps {
					continue
				}
				try := func(a, b int) {
					y, m := lp.load[a], lp.load[a]
					if b >= 0 {
						y -= lp.load[b]
						m += lp.load[b]
					}
					if y <= 0 {
						return
					}
					gain := base - f(y)
					if gain <= loadEps {
						return
					}
					if found {
						if c := cmpEps(gain, best.gain); c < 0 || (c == 0 && m >= best.moved) {
							return
						}
					}
					best, found = cand{gain: gain, moved: m, g: g, t: t, a: a, b: b}, true
				}
				hg, ht := loaded[g], loaded[t]
				i, j := near(hg, yo)
				for _, k := range []int{i, j} {
					if k >= 0 && k < len(hg) {
						try(hg[k], -1)
					}
				}
				for _, a := range hg {
					i, j := near(ht, lp.load[a]-yo)
					for _, k := range []int{i, j} {
						if k >= 0 && k < len(ht) {
							try(a, ht[k])
						}
					}
				}
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
		remove(best.g, best.a)
		add(best.t, best.a)
		lp.moveExtended(best.a, best.t)
		if best.b >= 0 {
			remove(best.t, best.b)
			add(best.g, best.b)
			lp.moveExtended(best.b, best.g)
		}
	}
	return lp.allWithin()
}

// search is the third phase: an exhaustive search over the assignments of
// the loaded slots, heaviest first, each tried with its owner in start
// first. On success the layout is start with the loaded slots that change
// owner moved (with load-0 neighbours, see moveExtended). exhausted
// reports that it stopped at the step cap.
func (lp *loadPlanner) search(start *[slots.Count]int32, steps int) (found, exhausted bool) {
	var items []int
	for s := range slots.Count {
		if lp.load[s] > 0 {
			items = append(items, s)
		}
	}
	slices.SortStableFunc(items, func(a, b int) int { return cmp.Compare(lp.load[b], lp.load[a]) })
	rem := make([]float64, len(items)+1)
	for k := len(items) - 1; k >= 0; k-- {
		rem[k] = rem[k+1] + lp.load[items[k]]
	}
	n := len(lp.cur)
	lo, hi := make([]float64, n), make([]float64, n)
	for _, i := range lp.active {
		lo[i] = lp.orig[i] * (1 - lp.tol - 2*loadEps)
		hi[i] = lp.orig[i] * (1 + lp.tol + 2*loadEps)
	}
	acc := make([]float64, n)
	need := 0.0 // load the nodes below their lower bound still need
	for _, i := range lp.active {
		need += max(0, lo[i])
	}
	assign := make([]int32, len(items))
	visits := 0
	var dfs func(k int) bool
	dfs = func(k int) bool {
		visits++
		if visits > steps || lp.stopped() {
			exhausted = true
			return false
		}
		if need > rem[k]*(1+1e-9)+loadEps {
			return false
		}
		if k == len(items) {
			for _, i := range lp.active {
				if math.Abs(acc[i]-lp.orig[i])/lp.orig[i] > lp.tol+loadEps {
					return false
				}
			}
			return true
		}
		s := items[k]
		y := lp.load[s]
		first := int(start[s])
		if lp.orig[first] == 0 {
			first = -1
		}
		try := func(i int) bool {
			visits++
			if acc[i]+y > hi[i] {
				return false
			}
			dn := min(y, max(0, lo[i]-acc[i]))
			acc[i] += y
			need -= dn
			assign[k] = int32(i)
			if dfs(k + 1) {
				return true
			}
			acc[i] -= y
			need += dn
			return false
		}
		if first >= 0 && try(first) {
			return true
		}
		for x, i := range lp.active {
			if i == first {
				continue
			}
			// Nodes with equal shares and equal loads so far are
			// interchangeable: try one of them.
			dup := first >= 0 && lp.orig[first] == lp.orig[i] && acc[first] == acc[i]
			for _, j := range lp.active[:min(x, 16)] {
				if j != first && lp.orig[j] == lp.orig[i] && acc[j] == acc[i] {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			if try(i) || exhausted {
				return !exhausted
			}
		}
		return false
	}
	if !dfs(0) {
		return false, exhausted
	}
	lp.owner = *start
	lp.recount()
	for k, s := range items {
		if lp.owner[s] != assign[k] {
			lp.moveExtended(s, int(assign[k]))
		}
	}
	return true, false
}

// loadInput is what a load-aware plan starts from: the layout's index,
// the per-slot loads and their total, the tolerance, and the summed
// weight of the primaries.
type loadInput struct {
	st     *state
	load   *[slots.Count]float64
	tol    float64
	total  float64
	weight float64
}

// prepareLoad checks l and opt for RebalanceLoad: every slot covered, a
// valid tolerance (0: DefaultTolerance), some load, some weight.
func prepareLoad(l *Layout, opt LoadOptions) (loadInput, error) {
	st, err := l.index()
	if err != nil {
		return loadInput{}, err
	}
	if err := st.requireCovered(); err != nil {
		return loadInput{}, err
	}
	tol := opt.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	if tol < 0 || math.IsNaN(tol) || math.IsInf(tol, 0) {
		return loadInput{}, fmt.Errorf("%w: tolerance %v must be > 0", ErrImpossible, opt.Tolerance)
	}
	load, err := l.Loads.perSlot()
	if err != nil {
		return loadInput{}, err
	}
	total := 0.0
	for _, v := range load {
		total += v
	}
	if total <= 0 {
		return loadInput{}, fmt.Errorf("%w: every slot has load 0; nothing to balance", ErrInvalidLoads)
	}
	w := 0.0
	for _, i := range st.primary {
		w += st.nodes[i].weight()
	}
	if w <= 0 {
		return loadInput{}, fmt.Errorf("%w: no primary has a weight above 0", ErrImpossible)
	}
	return loadInput{st: st, load: load, tol: tol, total: total, weight: w}, nil
}
