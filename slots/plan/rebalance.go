package plan

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

// Options tunes Rebalance. The zero value balances whenever any primary is
// off its target.
type Options struct {
	// Threshold skips the rebalance (an empty plan with Summary.Skipped)
	// when every primary's |current - target| / target is at most
	// Threshold, measured against the target (0.02 means 2%). A primary
	// with target 0 that still owns slots is always over the threshold.
	// Zero means any imbalance triggers a rebalance.
	Threshold float64
}

// Targets returns the slot count each primary of the layout should own:
// weight-proportional quotas 16384*w/W rounded to floor or ceiling so that
// they sum to 16384. The leftover slots (16384 minus the floors) go first
// to nodes that already own more than their floor, so they stay where they
// are, then to the largest fractional remainder, then to the larger
// holder, then by node ID. This is
// the rounding that minimises the slots a rebalance must move. Nodes of
// weight 0 get 0.
func Targets(l *Layout) (map[string]int, error) {
	st, err := l.index()
	if err != nil {
		return nil, err
	}
	t, err := st.targets(countOwned(&st.owner, len(st.nodes)))
	if err != nil {
		return nil, err
	}
	return st.targetMap(t), nil
}

// targets computes per-layout-index targets (0 for replicas).
func (st *state) targets(counts []int) ([]int, error) {
	W := 0.0
	for _, i := range st.primary {
		W += st.nodes[i].weight()
	}
	if len(st.primary) == 0 || W <= 0 {
		return nil, fmt.Errorf("%w: no primary has a weight above 0", ErrImpossible)
	}
	t := make([]int, len(st.nodes))
	frac := make([]float64, len(st.nodes))
	sum := 0
	var cand []int
	for _, i := range st.primary {
		w := st.nodes[i].weight()
		if w == 0 {
			continue
		}
		q := float64(slots.Count) * w / W
		f := math.Floor(q)
		t[i] = int(f)
		frac[i] = q - f
		sum += t[i]
		cand = append(cand, i)
	}
	left := slots.Count - sum
	// Candidates with a fractional part come first; among them, those that
	// already own more than their floor, then the larger remainder, then ID.
	const eps = 1e-9
	slices.SortStableFunc(cand, func(a, b int) int {
		fa, fb := frac[a] > eps, frac[b] > eps
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		ha, hb := counts[a] > t[a], counts[b] > t[b]
		if ha != hb {
			if ha {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(frac[b], frac[a]); c != 0 {
			return c
		}
		// Larger holders keep the extra slot: donors' excesses come out
		// more even, which lets blocks match receivers' deficits.
		if c := cmp.Compare(counts[b]-t[b], counts[a]-t[a]); c != 0 {
			return c
		}
		return strings.Compare(st.nodes[a].ID, st.nodes[b].ID)
	})
	for k := 0; left > 0; k = (k + 1) % len(cand) {
		t[cand[k]]++
		left--
	}
	return t, nil
}

// Rebalance plans the fewest slot moves that bring every primary to its
// target (see Targets): each primary ends within one slot of its
// weight-proportional quota, the number of slots moved is the minimum
// possible, sum max(0, current - target), and each slot moves at most once.
// Primaries of weight 0 are drained.
//
// Which slots move is chosen to keep ranges few; the guarantees are:
//   - a node that gives slots gives them from the ends of its ranges (or
//     whole ranges), so its range count never grows: a donor that owned
//     one range owns one range (or none) afterwards;
//   - a receiver takes slots adjacent to what it owns whenever a donor
//     borders it, and otherwise one block per donor: when every donor's
//     largest range is at least as large as what it gives to a receiver
//     (always so for layouts of one range per node), each receiver's range
//     count grows by at most the number of donors it receives from.
func Rebalance(l *Layout, opt Options) (*Plan, error) {
	return RebalanceContext(context.Background(), l, opt)
}

// RebalanceContext is Rebalance that stops when ctx ends, returning ctx's
// error (every long step looks at ctx). Time and memory grow about
// linearly with the primaries (BenchmarkScale: 10,000 primaries in tens
// of milliseconds, a few MB).
func RebalanceContext(ctx context.Context, l *Layout, opt Options) (*Plan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	return rebalance(ctx, l, opt, KindRebalance)
}

func rebalance(ctx context.Context, l *Layout, opt Options, kind Kind) (*Plan, error) {
	st, err := l.index()
	if err != nil {
		return nil, err
	}
	if err := st.requireCovered(); err != nil {
		return nil, err
	}
	if opt.Threshold < 0 || math.IsNaN(opt.Threshold) {
		return nil, fmt.Errorf("%w: threshold %v must be >= 0", ErrImpossible, opt.Threshold)
	}
	counts := countOwned(&st.owner, len(st.nodes))
	t, err := st.targets(counts)
	if err != nil {
		return nil, err
	}
	if kind == KindRebalance && withinThreshold(st, counts, t, opt.Threshold) {
		p, err := buildPlan(ctx, kind, st.nodes, st.primary, &st.owner, &st.owner)
		if err != nil {
			return nil, err
		}
		p.Targets = st.targetMap(t)
		p.Summary.Skipped = true
		p.Notes = append(p.Notes, fmt.Sprintf("every primary is within the threshold %g of its target; nothing to move", opt.Threshold))
		return p, nil
	}
	exc := make([]int, len(st.nodes))
	def := make([]int, len(st.nodes))
	for _, i := range st.primary {
		exc[i] = max(0, counts[i]-t[i])
		def[i] = max(0, t[i]-counts[i])
	}
	after, err := transfer(ctx, st, exc, def)
	if err != nil {
		return nil, err
	}
	p, err := buildPlan(ctx, kind, st.nodes, st.primary, &st.owner, after)
	if err != nil {
		return nil, err
	}
	p.Targets = st.targetMap(t)
	return p, nil
}

func (st *state) targetMap(t []int) map[string]int {
	m := make(map[string]int, len(st.primary))
	for _, i := range st.primary {
		m[st.nodes[i].ID] = t[i]
	}
	return m
}

func withinThreshold(st *state, counts, t []int, th float64) bool {
	for _, i := range st.primary {
		if counts[i] == t[i] {
			continue
		}
		if t[i] == 0 {
			return false
		}
		if math.Abs(float64(counts[i]-t[i]))/float64(t[i]) > th {
			return false
		}
	}
	return true
}

// AddNodes plans adding empty primaries and rebalancing in one plan. The
// new nodes must not be in the layout and must own no slots; replicas among
// them are added as they are.
func AddNodes(l *Layout, add []Node) (*Plan, error) {
	return AddNodesContext(context.Background(), l, add)
}

// AddNodesContext is AddNodes that stops when ctx ends, returning ctx's
// error.
func AddNodesContext(ctx context.Context, l *Layout, add []Node) (*Plan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if l == nil {
		return nil, errNilLayout
	}
	nl := *l
	nl.Nodes = append(slices.Clone(l.Nodes), add...)
	for _, n := range add {
		if len(n.Slots) > 0 {
			return nil, fmt.Errorf("%w: new node %q already owns slots", ErrInvalidLayout, n.ID)
		}
	}
	return rebalance(ctx, &nl, Options{}, KindAddNodes)
}

// RemoveNodes plans draining the given primaries (they end with no slots,
// ready for CLUSTER FORGET) and rebalancing the rest, in one plan where
// each slot moves at most once: the minimum is sum max(0, current - target)
// over the remaining nodes' new targets plus the drained nodes' slots.
func RemoveNodes(l *Layout, ids []string) (*Plan, error) {
	return RemoveNodesContext(context.Background(), l, ids)
}

// RemoveNodesContext is RemoveNodes that stops when ctx ends, returning
// ctx's error.
func RemoveNodesContext(ctx context.Context, l *Layout, ids []string) (*Plan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if l == nil {
		return nil, errNilLayout
	}
	nl := *l
	nl.Nodes = slices.Clone(l.Nodes)
	pos := make(map[string][]int, len(nl.Nodes))
	for i := range nl.Nodes {
		pos[nl.Nodes[i].ID] = append(pos[nl.Nodes[i].ID], i)
	}
	for _, id := range ids {
		at, ok := pos[id]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownNode, id)
		}
		for _, i := range at {
			if nl.Nodes[i].IsReplica() {
				return nil, fmt.Errorf("%w: %q is a replica; only primaries are drained", ErrImpossible, id)
			}
			nl.Nodes[i].Weight = Weight(0)
		}
	}
	return rebalance(ctx, &nl, Options{}, KindRemoveNodes)
}

// ReshardRequest asks for exactly Slots slots to move to Target.
type ReshardRequest struct {
	// Target is the primary that receives the slots.
	Target string
	// Sources are the primaries that give; empty means every other primary.
	// Each gives in proportion to the slots it owns (largest remainder,
	// capped by what it owns), so exactly Slots slots move in total.
	Sources []string
	// Slots is the number of slots to move (> 0). With Take it may be 0
	// (the sum of Take) or must equal that sum.
	Slots int
	// Take, when set, says exactly how many slots each source gives
	// (Sources is then ignored).
	Take map[string]int
}

// Reshard plans moving exactly req.Slots slots to req.Target. It never
// plans fewer slots than asked; it fails with ErrImpossible when the
// sources do not own that many.
func Reshard(l *Layout, req ReshardRequest) (*Plan, error) {
	return ReshardContext(context.Background(), l, req)
}

// ReshardContext is Reshard that stops when ctx ends, returning ctx's
// error.
func ReshardContext(ctx context.Context, l *Layout, req ReshardRequest) (*Plan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	st, err := l.index()
	if err != nil {
		return nil, err
	}
	if err := st.requireCovered(); err != nil {
		return nil, err
	}
	ti, ok := st.byID[req.Target]
	if !ok {
		return nil, fmt.Errorf("%w: target %q", ErrUnknownNode, req.Target)
	}
	if st.nodes[ti].IsReplica() {
		return nil, fmt.Errorf("%w: target %q is a replica", ErrImpossible, req.Target)
	}
	counts := countOwned(&st.owner, len(st.nodes))
	if len(req.Take) > 0 {
		return reshardTake(ctx, st, ti, counts, req)
	}
	if req.Slots <= 0 {
		return nil, fmt.Errorf("%w: slots to move must be > 0, got %d", ErrImpossible, req.Slots)
	}
	var src []int
	if len(req.Sources) == 0 {
		for _, i := range st.primary {
			if i != ti && counts[i] > 0 {
				src = append(src, i)
			}
		}
	} else {
		seen := map[int]bool{}
		for _, id := range req.Sources {
			i, ok := st.byID[id]
			if !ok {
				return nil, fmt.Errorf("%w: source %q", ErrUnknownNode, id)
			}
			if i == ti {
				return nil, fmt.Errorf("%w: %q is both source and target", ErrImpossible, id)
			}
			if st.nodes[i].IsReplica() {
				return nil, fmt.Errorf("%w: source %q is a replica", ErrImpossible, id)
			}
			if !seen[i] {
				seen[i] = true
				src = append(src, i)
			}
		}
	}
	have := 0
	for _, i := range src {
		have += counts[i]
	}
	if have < req.Slots {
		return nil, fmt.Errorf("%w: asked for %d slots but the sources own %d", ErrImpossible, req.Slots, have)
	}
	exc := make([]int, len(st.nodes))
	def := make([]int, len(st.nodes))
	def[ti] = req.Slots
	// Proportional shares with largest remainder, capped by ownership.
	frac := map[int]float64{}
	got := 0
	for _, i := range src {
		q := float64(req.Slots) * float64(counts[i]) / float64(have)
		exc[i] = min(counts[i], int(math.Floor(q)))
		frac[i] = q - math.Floor(q)
		got += exc[i]
	}
	order := slices.Clone(src)
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(frac[b], frac[a]), cmp.Compare(counts[b], counts[a]), strings.Compare(st.nodes[a].ID, st.nodes[b].ID))
	})
	for got < req.Slots {
		progress := false
		for _, i := range order {
			if got < req.Slots && exc[i] < counts[i] {
				exc[i]++
				got++
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	after, err := transfer(ctx, st, exc, def)
	if err != nil {
		return nil, err
	}
	return buildPlan(ctx, KindReshard, st.nodes, st.primary, &st.owner, after)
}

// reshardTake plans a reshard with an exact count per source.
func reshardTake(ctx context.Context, st *state, ti int, counts []int, req ReshardRequest) (*Plan, error) {
	exc := make([]int, len(st.nodes))
	def := make([]int, len(st.nodes))
	total := 0
	ids := make([]string, 0, len(req.Take))
	for id := range req.Take {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		n := req.Take[id]
		i, ok := st.byID[id]
		if !ok {
			return nil, fmt.Errorf("%w: source %q", ErrUnknownNode, id)
		}
		switch {
		case i == ti:
			return nil, fmt.Errorf("%w: %q is both source and target", ErrImpossible, id)
		case st.nodes[i].IsReplica():
			return nil, fmt.Errorf("%w: source %q is a replica", ErrImpossible, id)
		case n < 0:
			return nil, fmt.Errorf("%w: source %q: cannot take %d slots", ErrImpossible, id, n)
		case n > counts[i]:
			return nil, fmt.Errorf("%w: source %q owns %d slots, asked for %d", ErrImpossible, id, counts[i], n)
		}
		exc[i] = n
		total += n
	}
	if total == 0 || (req.Slots != 0 && req.Slots != total) {
		return nil, fmt.Errorf("%w: take sums to %d slots but %d were asked", ErrImpossible, total, req.Slots)
	}
	def[ti] = total
	after, err := transfer(ctx, st, exc, def)
	if err != nil {
		return nil, err
	}
	return buildPlan(ctx, KindReshard, st.nodes, st.primary, &st.owner, after)
}

// run is a maximal run of slots with one owner, in a doubly linked list.
type run struct {
	start, end int // inclusive
	owner      int32
	prev, next int32
	dead       bool
}

func (r *run) len() int { return r.end - r.start + 1 }

// transfer moves exc[i] slots out of each node i and def[j] into each node
// j (sum exc == sum def), taking slots only from the ends of donors' runs
// and preferring transfers across a boundary between a donor and a
// receiver. It returns the new owner array.
//
// Each round gives one block to the receiver with the largest deficit;
// that receiver comes from a heap, and the donors' runs are walked once
// per round, so a plan costs O(rounds × runs), with at most one round per
// move. ctx is looked at every round.
func transfer(ctx context.Context, st *state, exc, def []int) (*[slots.Count]int32, error) {
	exc, def = slices.Clone(exc), slices.Clone(def)
	runs := make([]run, 0, 64)
	for s := 0; s < slots.Count; {
		e := s
		for e+1 < slots.Count && st.owner[e+1] == st.owner[s] {
			e++
		}
		k := int32(len(runs))
		runs = append(runs, run{start: s, end: e, owner: st.owner[s], prev: k - 1, next: k + 1})
		s = e + 1
	}
	runs[len(runs)-1].next = -1
	head := int32(0) // the live run that starts at slot 0
	isDonor := func(o int32) bool { return o >= 0 && exc[o] > 0 }
	isRecv := func(o int32) bool { return o >= 0 && def[o] > 0 }
	remove := func(k int32) {
		r := &runs[k]
		r.dead = true
		if k == head {
			head = r.next
		}
		if r.prev >= 0 {
			runs[r.prev].next = r.next
		}
		if r.next >= 0 {
			runs[r.next].prev = r.prev
		}
	}
	// mergeAround merges run k with same-owner neighbours; returns the
	// surviving index.
	mergeAround := func(k int32) int32 {
		if p := runs[k].prev; p >= 0 && runs[p].owner == runs[k].owner {
			runs[k].start = runs[p].start
			remove(p)
		}
		if n := runs[k].next; n >= 0 && runs[n].owner == runs[k].owner {
			runs[k].end = runs[n].end
			remove(n)
		}
		return k
	}
	var work []int32
	// boundary handles the boundary between run a and its successor; it
	// returns true when it moved slots.
	boundary := func(a int32) bool {
		if a < 0 || runs[a].dead {
			return false
		}
		b := runs[a].next
		if b < 0 {
			return false
		}
		ra, rb := &runs[a], &runs[b]
		switch {
		case isDonor(ra.owner) && isRecv(rb.owner):
			k := min(exc[ra.owner], def[rb.owner], ra.len())
			exc[ra.owner] -= k
			def[rb.owner] -= k
			ra.end -= k
			rb.start -= k
			if ra.end < ra.start {
				remove(a)
				b = mergeAround(b)
			}
			work = append(work, runs[b].prev, b)
			return true
		case isRecv(ra.owner) && isDonor(rb.owner):
			k := min(exc[rb.owner], def[ra.owner], rb.len())
			exc[rb.owner] -= k
			def[ra.owner] -= k
			ra.end += k
			rb.start += k
			if rb.end < rb.start {
				remove(b)
				a = mergeAround(a)
			}
			work = append(work, runs[a].prev, a)
			return true
		}
		return false
	}
	drain := func() {
		for len(work) > 0 {
			k := work[len(work)-1]
			work = work[:len(work)-1]
			for boundary(k) {
			}
		}
	}
	for k := len(runs) - 1; k >= 0; k-- {
		work = append(work, int32(k))
	}
	drain()
	// Receivers by largest deficit, then ID (st.primary order). Deficits
	// only shrink, so a stale entry is refreshed when it comes to the top.
	rq := &recvHeap{def: def}
	for pos, i := range st.primary {
		if def[i] > 0 {
			rq.items = append(rq.items, recvItem{def: def[i], pos: pos, node: i})
		}
	}
	heap.Init(rq)
	// Donor runs, in slot order, in a linked list of their own (dnext,
	// dprev): a run stops being a donor's for good (it dies, a receiver
	// takes it whole, or its owner has given enough) and new runs belong
	// to receivers, so runs leave the list lazily and never join it.
	dnext := make([]int32, len(runs))
	dprev := make([]int32, len(runs))
	dhead, last := int32(-1), int32(-1)
	for k := head; k >= 0; k = runs[k].next {
		if !isDonor(runs[k].owner) {
			continue
		}
		dprev[k], dnext[k] = last, -1
		if last >= 0 {
			dnext[last] = k
		} else {
			dhead = k
		}
		last = k
	}
	unlinkDonor := func(k int32) {
		if dprev[k] >= 0 {
			dnext[dprev[k]] = dnext[k]
		} else {
			dhead = dnext[k]
		}
		if dnext[k] >= 0 {
			dprev[dnext[k]] = dprev[k]
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The receiver with the largest deficit.
		r := -1
		for rq.Len() > 0 {
			top := rq.items[0]
			if def[top.node] == top.def {
				r = top.node
				break
			}
			heap.Pop(rq)
			if def[top.node] > 0 {
				heap.Push(rq, recvItem{def: def[top.node], pos: top.pos, node: top.node})
			}
		}
		if r < 0 {
			break
		}
		// The best donor run end to carve a block from.
		type choice struct {
			k     int32
			right bool
			fits  bool
			exact bool
			chain bool
			amt   int
			exc   int
		}
		var best choice
		best.k = -1
		better := func(c, b choice) bool {
			if b.k < 0 {
				return true
			}
			if c.fits != b.fits {
				return c.fits
			}
			if c.exact != b.exact {
				return c.exact
			}
			if c.chain != b.chain {
				return c.chain
			}
			if c.amt != b.amt {
				return c.amt > b.amt
			}
			return c.exc > b.exc
		}
		for k, nk := dhead, int32(-1); k >= 0; k = nk {
			nk = dnext[k]
			ru := &runs[k]
			if ru.dead || !isDonor(ru.owner) {
				unlinkDonor(k)
				continue
			}
			want := min(exc[ru.owner], def[r])
			amt := min(want, ru.len())
			// The right end is tried first; the left one wins only when
			// it alone borders another donor.
			chainR := ru.next >= 0 && isDonor(runs[ru.next].owner)
			chainL := ru.prev >= 0 && isDonor(runs[ru.prev].owner)
			c := choice{k: k, right: chainR || !chainL, fits: ru.len() >= want, amt: amt, exc: exc[ru.owner],
				exact: exc[ru.owner] == def[r], chain: chainR || chainL}
			if better(c, best) {
				best = c
				// Nothing beats a block that fits, is exact and chains:
				// its amount is def[r], the most any block gives, and
				// every exact block has the same exc.
				if c.fits && c.exact && c.chain {
					break
				}
			}
		}
		if best.k < 0 {
			break // unreachable when sums agree
		}
		ru := &runs[best.k]
		d := ru.owner
		amt := best.amt
		exc[d] -= amt
		def[r] -= amt
		if amt == ru.len() {
			ru.owner = int32(r)
			k := mergeAround(best.k)
			work = append(work, runs[k].prev, k)
		} else {
			nk := int32(len(runs))
			nr := run{owner: int32(r)}
			if best.right {
				nr.start, nr.end = ru.end-amt+1, ru.end
				ru.end -= amt
				nr.prev, nr.next = best.k, ru.next
				if ru.next >= 0 {
					runs[ru.next].prev = nk
				}
				runs = append(runs, nr)
				runs[best.k].next = nk
			} else {
				nr.start, nr.end = ru.start, ru.start+amt-1
				ru.start += amt
				nr.prev, nr.next = ru.prev, best.k
				if ru.prev >= 0 {
					runs[ru.prev].next = nk
				}
				if best.k == head {
					head = nk
				}
				runs = append(runs, nr)
				runs[best.k].prev = nk
			}
			work = append(work, runs[nk].prev, nk)
		}
		drain()
	}
	var out [slots.Count]int32
	for k := range runs {
		if runs[k].dead {
			continue
		}
		for s := runs[k].start; s <= runs[k].end; s++ {
			out[s] = runs[k].owner
		}
	}
	return &out, nil
}

// recvItem is a receiver in recvHeap: its deficit when pushed, its
// position in ID order, and its layout index.
type recvItem struct{ def, pos, node int }

// recvHeap orders receivers by deficit, largest first, then by ID.
type recvHeap struct {
	items []recvItem
	def   []int
}

func (h *recvHeap) Len() int { return len(h.items) }
func (h *recvHeap) Less(a, b int) bool {
	x, y := h.items[a], h.items[b]
	if x.def != y.def {
		return x.def > y.def
	}
	return x.pos < y.pos
}
func (h *recvHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *recvHeap) Push(x any)    { h.items = append(h.items, x.(recvItem)) }
func (h *recvHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
