package plan

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"slices"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

// FormatVersion is the version of the plan document this package writes.
// Version 2 replaced version 1's per-batch "after" layouts, whose size grew
// with batches × nodes, by one "final" layout; ParsePlan still reads
// version 1 documents (see ParsePlan).
const FormatVersion = 2

// Kind says which planner produced a plan.
type Kind string

// Plan kinds.
const (
	KindRebalance     Kind = "rebalance"
	KindAddNodes      Kind = "add-nodes"
	KindRemoveNodes   Kind = "remove-nodes"
	KindReshard       Kind = "reshard"
	KindRebalanceLoad Kind = "rebalance-load"
)

func (k Kind) known() bool {
	switch k {
	case KindRebalance, KindAddNodes, KindRemoveNodes, KindReshard, KindRebalanceLoad:
		return true
	}
	return false
}

// Assignment maps primary node IDs to the slot ranges they own. Nodes that
// own nothing are listed with an empty array. JSON object keys are sorted,
// so an assignment always encodes to the same bytes.
type Assignment map[string]Ranges

// Move transfers slot ranges from one primary to another.
type Move struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Ranges are ascending, disjoint and non-adjacent.
	Ranges Ranges `json:"ranges"`
	// Slots is the number of slots in Ranges.
	Slots int `json:"slots"`
}

// Summary holds figures about a plan, for people and dashboards.
type Summary struct {
	// SlotsMoved is the total number of slots moved (each slot moves at
	// most once in a plan).
	SlotsMoved int `json:"slots_moved"`
	// Moves and Batches count the entries of the plan.
	Moves   int `json:"moves"`
	Batches int `json:"batches"`
	// RangesBefore and RangesAfter count slot ranges summed over primaries;
	// MaxRangesAfter is the largest per-node count after the plan.
	RangesBefore   int `json:"ranges_before"`
	RangesAfter    int `json:"ranges_after"`
	MaxRangesAfter int `json:"max_ranges_after"`
	// Skipped is true when the planner decided nothing needs to move (for
	// example every node is within the threshold).
	Skipped bool `json:"skipped,omitempty"`
	// Load is set by RebalanceLoad.
	Load *LoadSummary `json:"load,omitempty"`
}

// Plan is a slot-move plan: what to move, in which parallel batches, and the
// layout expected at the end. See the package documentation for the JSON
// format.
type Plan struct {
	Version int  `json:"version"`
	Kind    Kind `json:"kind"`
	// Before is the layout the plan was made for; an executor should refuse
	// to run a plan whose Before does not match the cluster.
	Before Assignment `json:"before"`
	// Targets is the slot count each primary should hold after the plan
	// (slot-count planners only).
	Targets map[string]int `json:"targets,omitempty"`
	Moves   []Move         `json:"moves"`
	// Batches lists indexes into Moves. Moves within one batch have
	// pairwise disjoint nodes (no node is source or target of two moves in
	// the batch), so they can run in parallel; batches run in order.
	Batches [][]int `json:"batches"`
	// FinalLayout is every primary's slots once all batches are done. The
	// layout after a given batch is AfterBatch's.
	FinalLayout Assignment `json:"final"`
	Summary     Summary    `json:"summary"`
	// Notes explain decisions (threshold, unreachable tolerance, …).
	Notes []string `json:"notes,omitempty"`
}

// Final returns the layout after the whole plan: FinalLayout, or Before
// when FinalLayout is nil.
func (p *Plan) Final() Assignment {
	if p.FinalLayout == nil {
		return p.Before
	}
	return p.FinalLayout
}

// AfterBatch returns every primary's slots once batches 0..i are done,
// computed from Before and the moves (time O(slots + nodes) per call). It
// fails, wrapping ErrInvalidPlan, when i is out of range or the plan names
// nodes Before does not have; run Validate first to trust the result.
func (p *Plan) AfterBatch(i int) (Assignment, error) {
	if i < 0 || i >= len(p.Batches) {
		return nil, fmt.Errorf("%w: batch %d out of range (have %d batches)", ErrInvalidPlan, i, len(p.Batches))
	}
	ids := sortedIDs(p.Before)
	owner := ownerArray(ids, p.Before)
	for bi := 0; bi <= i; bi++ {
		for _, mi := range p.Batches[bi] {
			if mi < 0 || mi >= len(p.Moves) {
				return nil, fmt.Errorf("%w: batch %d: move index %d out of range", ErrInvalidPlan, bi, mi)
			}
			m := p.Moves[mi]
			t, ok := slices.BinarySearch(ids, m.Target)
			if !ok {
				return nil, fmt.Errorf("%w: move %d: target %q is not in \"before\"", ErrInvalidPlan, mi, m.Target)
			}
			for _, r := range m.Ranges {
				if !r.Valid() {
					return nil, fmt.Errorf("%w: move %d: invalid range %d-%d", ErrInvalidPlan, mi, r.Start, r.End)
				}
				for s := int(r.Start); s <= int(r.End); s++ {
					owner[s] = int32(t)
				}
			}
		}
	}
	rs := rangesOf(owner, len(ids))
	a := make(Assignment, len(ids))
	for k, id := range ids {
		if rs[k] == nil {
			rs[k] = Ranges{}
		}
		a[id] = rs[k]
	}
	return a, nil
}

// sortedIDs returns the node IDs of a, sorted.
func sortedIDs(a Assignment) []string {
	ids := make([]string, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ownerArray maps each slot to its owner's index in ids (noOwner when
// none, or when a range is invalid; Validate reports those).
func ownerArray(ids []string, a Assignment) *[slots.Count]int32 {
	var owner [slots.Count]int32
	for i := range owner {
		owner[i] = noOwner
	}
	for k, id := range ids {
		for _, r := range a[id] {
			if !r.Valid() {
				continue
			}
			for s := int(r.Start); s <= int(r.End); s++ {
				owner[s] = int32(k)
			}
		}
	}
	return &owner
}

// Marshal encodes the plan as indented JSON followed by a newline. The
// output is deterministic.
func (p *Plan) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// buildPlan turns a before/after ownership pair into a plan. prim are the
// primaries' layout indexes (replicas never own). Time and memory are
// linear in slots + nodes + moves, apart from batching (see batchMoves).
func buildPlan(ctx context.Context, kind Kind, nodes []Node, prim []int, before, after *[slots.Count]int32) (*Plan, error) {
	p := &Plan{Version: FormatVersion, Kind: kind, Before: assignmentOf(nodes, prim, before)}
	type pair struct{ s, t int32 }
	idx := map[pair]int{}
	for s := 0; s < slots.Count; s++ {
		a, b := before[s], after[s]
		if a == b {
			continue
		}
		k := pair{a, b}
		i, ok := idx[k]
		if !ok {
			i = len(p.Moves)
			idx[k] = i
			p.Moves = append(p.Moves, Move{Source: nodes[a].ID, Target: nodes[b].ID})
		}
		m := &p.Moves[i]
		if l := len(m.Ranges); l > 0 && int(m.Ranges[l-1].End)+1 == s {
			m.Ranges[l-1].End = slots.Slot(s)
		} else {
			m.Ranges = append(m.Ranges, slots.Range{Start: slots.Slot(s), End: slots.Slot(s)})
		}
		m.Slots++
		p.Summary.SlotsMoved++
	}
	slices.SortFunc(p.Moves, func(x, y Move) int {
		return cmp.Or(strings.Compare(x.Source, y.Source), strings.Compare(x.Target, y.Target))
	})
	var err error
	if p.Batches, err = batchMoves(ctx, p.Moves); err != nil {
		return nil, err
	}
	p.FinalLayout = assignmentOf(nodes, prim, after)
	p.Summary.Moves = len(p.Moves)
	p.Summary.Batches = len(p.Batches)
	p.Summary.RangesBefore = countRanges(p.Before)
	p.Summary.RangesAfter = countRanges(p.FinalLayout)
	for _, rs := range p.FinalLayout {
		p.Summary.MaxRangesAfter = max(p.Summary.MaxRangesAfter, len(rs))
	}
	if p.Moves == nil {
		p.Moves = []Move{}
	}
	if p.Batches == nil {
		p.Batches = [][]int{}
	}
	return p, nil
}

// cancelEvery is how many cheap steps a loop takes between looks at its
// context.
const cancelEvery = 256

// batchMoves groups moves so that no node appears twice in a batch, using
// as few batches as possible: a node gives or receives, never both, so the
// moves form a bipartite graph, whose edges can be coloured with as many
// colours as the largest number of moves any node takes part in (König);
// colours are found by flipping alternating paths. When some node both
// gives and receives (load-aware plans can do that) the graph may not be
// bipartite and a greedy colouring is used (at most 2d-1 batches). Batches
// are ordered by their largest move, biggest first.
//
// Memory is linear in the moves: the colour of each edge at a node is kept
// in one map keyed by (node, colour), and each node's smallest free colour
// is found in a bitset of its degree + 1 bits (a node of degree d always
// has a free colour below d).
func batchMoves(ctx context.Context, moves []Move) ([][]int, error) {
	if len(moves) == 0 {
		return nil, nil
	}
	gives := map[string]bool{}
	for _, m := range moves {
		gives[m.Source] = true
	}
	for _, m := range moves {
		if gives[m.Target] {
			return greedyBatches(ctx, moves)
		}
	}
	num := map[string]int{}
	node := func(id string) int {
		if n, ok := num[id]; ok {
			return n
		}
		num[id] = len(num)
		return len(num) - 1
	}
	type edge struct{ u, v int }
	edges := make([]edge, len(moves))
	var deg []int
	for i, m := range moves {
		edges[i] = edge{node(m.Source), node(m.Target)}
		for len(deg) < len(num) {
			deg = append(deg, 0)
		}
		deg[edges[i].u]++
		deg[edges[i].v]++
	}
	colors := slices.Max(deg)
	// at[(n, c)] is the edge of colour c at node n; absent means none.
	type key struct{ n, c int32 }
	at := make(map[key]int32, 2*len(moves))
	get := func(n, c int) int {
		if e, ok := at[key{int32(n), int32(c)}]; ok {
			return int(e)
		}
		return -1
	}
	set := func(n, c, e int) {
		if e < 0 {
			delete(at, key{int32(n), int32(c)})
		} else {
			at[key{int32(n), int32(c)}] = int32(e)
		}
	}
	// used[n] has bit c set when colour c < deg(n)+1 is taken at n.
	off := make([]int, len(deg)+1)
	for n, d := range deg {
		off[n+1] = off[n] + (d+1+63)/64
	}
	bits := make([]uint64, off[len(deg)])
	mark := func(n, c int, on bool) {
		if c > deg[n] {
			return
		}
		w := &bits[off[n]+c/64]
		if on {
			*w |= 1 << (c % 64)
		} else {
			*w &^= 1 << (c % 64)
		}
	}
	free := func(n int) int {
		for k, w := range bits[off[n]:off[n+1]] {
			if w != ^uint64(0) {
				return k*64 + bits64TrailingOnes(w)
			}
		}
		return -1 // cannot happen: degree <= colours
	}
	color := make([]int, len(moves))
	var path []int
	for i, e := range edges {
		if i%cancelEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		a, b := free(e.u), free(e.v)
		if get(e.v, a) >= 0 {
			// Flip the path from v whose edges alternate a, b.
			path = path[:0]
			x, c := e.v, a
			for get(x, c) >= 0 && len(path) <= len(edges) {
				pe := get(x, c)
				path = append(path, pe)
				y := edges[pe].u
				if y == x {
					y = edges[pe].v
				}
				x = y
				if c == a {
					c = b
				} else {
					c = a
				}
			}
			for _, pe := range path {
				set(edges[pe].u, color[pe], -1)
				set(edges[pe].v, color[pe], -1)
				mark(edges[pe].u, color[pe], false)
				mark(edges[pe].v, color[pe], false)
			}
			for _, pe := range path {
				if color[pe] == a {
					color[pe] = b
				} else {
					color[pe] = a
				}
				set(edges[pe].u, color[pe], pe)
				set(edges[pe].v, color[pe], pe)
				mark(edges[pe].u, color[pe], true)
				mark(edges[pe].v, color[pe], true)
			}
		}
		color[i] = a
		set(e.u, a, i)
		set(e.v, a, i)
		mark(e.u, a, true)
		mark(e.v, a, true)
	}
	batches := make([][]int, colors)
	for i, c := range color {
		batches[c] = append(batches[c], i)
	}
	batches = slices.DeleteFunc(batches, func(b []int) bool { return len(b) == 0 })
	sortBatches(moves, batches)
	return batches, nil
}

// bits64TrailingOnes counts the trailing one bits of w.
func bits64TrailingOnes(w uint64) int { return bits.TrailingZeros64(^w) }

// sortBatches orders batches by their largest move, biggest first (stable).
func sortBatches(moves []Move, batches [][]int) {
	type sized struct {
		b       []int
		biggest int
	}
	bs := make([]sized, len(batches))
	for k, b := range batches {
		bs[k].b = b
		for _, i := range b {
			bs[k].biggest = max(bs[k].biggest, moves[i].Slots)
		}
	}
	slices.SortStableFunc(bs, func(x, y sized) int { return cmp.Compare(y.biggest, x.biggest) })
	for k := range bs {
		batches[k] = bs[k].b
	}
}

// greedyBatches puts each move, largest first, into the first batch where
// both its nodes are free. Each node's lowest colour with every colour
// below it taken only grows, so the search for a batch starts there.
func greedyBatches(ctx context.Context, moves []Move) ([][]int, error) {
	order := make([]int, len(moves))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(moves[b].Slots, moves[a].Slots) })
	num := map[string]int32{}
	node := func(id string) int32 {
		if n, ok := num[id]; ok {
			return n
		}
		num[id] = int32(len(num))
		return int32(len(num) - 1)
	}
	type key struct{ n, c int32 }
	busy := map[key]bool{}
	var low []int32 // per node: every batch below is busy
	var batches [][]int
	for k, mi := range order {
		if k%cancelEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		m := moves[mi]
		u, v := node(m.Source), node(m.Target)
		for int(max(u, v)) >= len(low) {
			low = append(low, 0)
		}
		c := max(low[u], low[v])
		for busy[key{u, c}] || busy[key{v, c}] {
			c++
		}
		if int(c) == len(batches) {
			batches = append(batches, nil)
		}
		batches[c] = append(batches[c], mi)
		busy[key{u, c}], busy[key{v, c}] = true, true
		for _, n := range []int32{u, v} {
			for busy[key{n, low[n]}] {
				low[n]++
			}
		}
	}
	for _, b := range batches {
		slices.Sort(b)
	}
	return batches, nil
}

func assignmentOf(nodes []Node, prim []int, owner *[slots.Count]int32) Assignment {
	rs := rangesOf(owner, len(nodes))
	a := make(Assignment, len(prim))
	for _, i := range prim {
		if rs[i] == nil {
			rs[i] = Ranges{}
		}
		a[nodes[i].ID] = rs[i]
	}
	return a
}

func countRanges(a Assignment) int {
	n := 0
	for _, rs := range a {
		n += len(rs)
	}
	return n
}

// ParsePlan decodes a plan document and validates it (see Validate).
// Unknown fields are rejected, and so is a key repeated in one object (a
// field's name in another case included): encoding/json would keep the
// last.
//
// Version 1 documents, written before FormatVersion 2, are accepted too:
// they carry "after", one layout per batch, instead of "final". Each of
// those layouts is checked against the moves, and the plan is returned in
// the current form (Version 2, FinalLayout the last of them, or Before
// when there are no batches), so callers handle one form only.
func ParsePlan(data []byte) (*Plan, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var docp *struct {
		Plan
		// After is version 1's per-batch layouts.
		After []Assignment `json:"after"`
	}
	if err := dec.Decode(&docp); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the document is empty, not a plan object", ErrInvalidPlan)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	if err := duplicateKey(data, reflect.TypeOf(docp)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	if docp == nil {
		return nil, fmt.Errorf("%w: the document is null, not a plan object", ErrInvalidPlan)
	}
	doc := docp
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the plan object", ErrInvalidPlan)
	}
	p := &doc.Plan
	switch p.Version {
	case 1:
		if p.FinalLayout != nil {
			return nil, fmt.Errorf("%w: version 1 has no \"final\" (it lists \"after\" per batch)", ErrInvalidPlan)
		}
		if doc.After == nil {
			return nil, fmt.Errorf("%w: version 1 plan without \"after\"", ErrInvalidPlan)
		}
		if err := p.validate(context.Background(), doc.After); err != nil {
			return nil, err
		}
		p.Version = FormatVersion
		if len(doc.After) > 0 {
			p.FinalLayout = doc.After[len(doc.After)-1]
		} else {
			p.FinalLayout = p.Before
		}
		return p, nil
	case FormatVersion:
		if doc.After != nil {
			return nil, fmt.Errorf("%w: \"after\" is a version 1 field; version %d has \"final\"", ErrInvalidPlan, FormatVersion)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate checks that a plan is internally consistent, so an executor can
// trust it: a known version and kind; a Before where no slot has two
// owners; moves between distinct nodes of Before, with valid, ascending,
// disjoint ranges whose size matches Slots, no slot moved twice; every move
// in exactly one batch; no node twice in a batch; each move's slots owned by
// its source when its batch starts; FinalLayout equal to the result of
// applying every batch; a summary.slots_moved that matches the moves
// (the other summary figures are informational, not checked). Errors wrap
// ErrInvalidPlan and say what is wrong. Time and memory are linear in the
// plan's size.
func (p *Plan) Validate() error {
	return p.validate(context.Background(), nil)
}

// ValidateContext is Validate that stops with ctx's error when ctx ends.
func (p *Plan) ValidateContext(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	return p.validate(ctx, nil)
}

// validate checks p; perBatch, when not nil, are version 1's layouts
// after each batch, checked instead of FinalLayout.
func (p *Plan) validate(ctx context.Context, perBatch []Assignment) error {
	if p == nil {
		return fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPlan, fmt.Sprintf(format, a...))
	}
	if perBatch == nil && p.Version != FormatVersion {
		return bad("version %d is not supported (want %d)", p.Version, FormatVersion)
	}
	if !p.Kind.known() {
		return bad("unknown kind %q", p.Kind)
	}
	if p.Before == nil {
		return bad("missing \"before\" layout")
	}
	ids := sortedIDs(p.Before)
	num := make(map[string]int32, len(ids))
	for i, id := range ids {
		if id == "" {
			return bad("\"before\" has a node with an empty id")
		}
		num[id] = int32(i)
	}
	var owner [slots.Count]int32
	for i := range owner {
		owner[i] = noOwner
	}
	for _, id := range ids {
		for _, r := range p.Before[id] {
			if !r.Valid() {
				return bad("before: node %q: invalid range %d-%d", id, r.Start, r.End)
			}
			for s := int(r.Start); s <= int(r.End); s++ {
				if o := owner[s]; o != noOwner {
					return bad("before: slot %d owned by both %q and %q", s, ids[o], id)
				}
				owner[s] = num[id]
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var moved slots.Set
	total := 0
	for i, m := range p.Moves {
		if _, ok := num[m.Source]; !ok {
			return bad("move %d: source %q is not in \"before\"", i, m.Source)
		}
		if _, ok := num[m.Target]; !ok {
			return bad("move %d: target %q is not in \"before\"", i, m.Target)
		}
		if m.Source == m.Target {
			return bad("move %d: source and target are both %q", i, m.Source)
		}
		if len(m.Ranges) == 0 {
			return bad("move %d (%s -> %s): no ranges", i, m.Source, m.Target)
		}
		n := 0
		for j, r := range m.Ranges {
			if !r.Valid() {
				return bad("move %d: invalid range %d-%d", i, r.Start, r.End)
			}
			if j > 0 && r.Start <= m.Ranges[j-1].End {
				return bad("move %d: ranges %s and %s are not ascending and disjoint", i, m.Ranges[j-1], r)
			}
			for s := int(r.Start); s <= int(r.End); s++ {
				if moved.Has(slots.Slot(s)) {
					return bad("move %d: slot %d is moved twice", i, s)
				}
				moved.Add(slots.Slot(s))
			}
			n += r.Len()
		}
		if n != m.Slots {
			return bad("move %d (%s -> %s): \"slots\" is %d but the ranges hold %d", i, m.Source, m.Target, m.Slots, n)
		}
		total += n
	}
	seen := make([]int, len(p.Moves))
	// used[node] is 1 + the batch that last used the node, and at[node]
	// the move it was in there.
	used := make([]int, len(ids))
	at := make([]int, len(ids))
	for bi, b := range p.Batches {
		if bi%cancelEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(b) == 0 {
			return bad("batch %d is empty", bi)
		}
		for _, mi := range b {
			if mi < 0 || mi >= len(p.Moves) {
				return bad("batch %d: move index %d out of range (have %d moves)", bi, mi, len(p.Moves))
			}
			seen[mi]++
			if seen[mi] > 1 {
				return bad("move %d appears in more than one batch", mi)
			}
			m := p.Moves[mi]
			for _, id := range []string{m.Source, m.Target} {
				k := num[id]
				if used[k] == bi+1 {
					return bad("batch %d: node %q is in moves %d and %d; moves of a batch must have disjoint nodes", bi, id, at[k], mi)
				}
				used[k], at[k] = bi+1, mi
			}
		}
	}
	for mi, c := range seen {
		if c == 0 {
			return bad("move %d is in no batch", mi)
		}
	}
	if perBatch != nil && len(perBatch) != len(p.Batches) {
		return bad("\"after\" has %d layouts for %d batches", len(perBatch), len(p.Batches))
	}
	for bi, b := range p.Batches {
		for _, mi := range b {
			m := p.Moves[mi]
			src, dst := num[m.Source], num[m.Target]
			for _, r := range m.Ranges {
				for s := int(r.Start); s <= int(r.End); s++ {
					if owner[s] != src {
						who := "no node"
						if owner[s] != noOwner {
							who = fmt.Sprintf("%q", ids[owner[s]])
						}
						return bad("batch %d, move %d: slot %d is owned by %s, not by source %q", bi, mi, s, who, m.Source)
					}
					owner[s] = dst
				}
			}
		}
		if perBatch != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := sameAssignment(ids, num, &owner, perBatch[bi]); err != nil {
				return bad("after[%d]: %v", bi, err)
			}
		}
	}
	if perBatch == nil {
		if p.FinalLayout == nil {
			return bad("missing \"final\" layout")
		}
		if err := sameAssignment(ids, num, &owner, p.FinalLayout); err != nil {
			return bad("final: %v", err)
		}
	}
	if p.Summary.SlotsMoved != total {
		return bad("summary.slots_moved is %d but the moves hold %d slots", p.Summary.SlotsMoved, total)
	}
	return nil
}

// sameAssignment compares an owner array (indexes into ids) with an
// assignment, in time linear in slots + nodes + ranges.
func sameAssignment(ids []string, num map[string]int32, owner *[slots.Count]int32, a Assignment) error {
	for id := range a {
		if _, ok := num[id]; !ok {
			return fmt.Errorf("node %q is not in \"before\"", id)
		}
	}
	var got [slots.Count]int32
	for i := range got {
		got[i] = noOwner
	}
	for i, id := range ids {
		for _, r := range a[id] {
			if !r.Valid() {
				return fmt.Errorf("node %q: invalid range %d-%d", id, r.Start, r.End)
			}
			for s := int(r.Start); s <= int(r.End); s++ {
				if got[s] == int32(i) {
					return fmt.Errorf("node %q: overlapping ranges", id)
				}
				if got[s] == noOwner {
					got[s] = int32(i)
				} else {
					got[s] = -2 // claimed twice: differs from any owner
				}
			}
		}
	}
	for s := range got {
		if got[s] == owner[s] {
			continue
		}
		// Name a node whose slots differ: one that claims the slot
		// wrongly, or else its rightful owner.
		k := owner[s]
		switch {
		case got[s] >= 0:
			k = got[s]
		case got[s] == -2:
			for i, id := range ids {
				for _, r := range a[id] {
					if r.Contains(slots.Slot(s)) && int32(i) != owner[s] {
						k = int32(i)
					}
				}
			}
		}
		var want, have slots.Set
		for t, o := range owner {
			if o == k {
				want.Add(slots.Slot(t))
			}
		}
		for _, r := range a[ids[k]] {
			have.AddRange(r)
		}
		return fmt.Errorf("node %q should own %s, the plan says %s", ids[k], want.String(), have.String())
	}
	return nil
}
