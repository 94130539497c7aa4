package plan

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

// FormatVersion is the version of the plan document this package writes
// and the only one ParsePlan accepts.
const FormatVersion = 1

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
// layout expected after each batch. See the package documentation for the
// JSON format.
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
	// After[i] is the layout once batches 0..i are done; the last one is
	// the final layout.
	After   []Assignment `json:"after"`
	Summary Summary      `json:"summary"`
	// Notes explain decisions (threshold, unreachable tolerance, …).
	Notes []string `json:"notes,omitempty"`
}

// Final returns the layout after the whole plan (Before when it has no
// batches).
func (p *Plan) Final() Assignment {
	if len(p.After) == 0 {
		return p.Before
	}
	return p.After[len(p.After)-1]
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

// buildPlan turns a before/after ownership pair into a plan. ids are the
// primaries' IDs by layout index (empty for replicas, which never own).
func buildPlan(kind Kind, nodes []Node, prim []int, before, after *[slots.Count]int32) *Plan {
	n := len(nodes)
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
	p.Batches = batchMoves(p.Moves)
	work := *before
	byID := make(map[string]int32, n)
	for _, i := range prim {
		byID[nodes[i].ID] = int32(i)
	}
	for _, b := range p.Batches {
		for _, mi := range b {
			m := &p.Moves[mi]
			t := byID[m.Target]
			for _, r := range m.Ranges {
				for s := int(r.Start); s <= int(r.End); s++ {
					work[s] = t
				}
			}
		}
		p.After = append(p.After, assignmentOf(nodes, prim, &work))
	}
	p.Summary.Moves = len(p.Moves)
	p.Summary.Batches = len(p.Batches)
	p.Summary.RangesBefore = countRanges(p.Before)
	final := p.Final()
	p.Summary.RangesAfter = countRanges(final)
	for _, rs := range final {
		p.Summary.MaxRangesAfter = max(p.Summary.MaxRangesAfter, len(rs))
	}
	if p.Moves == nil {
		p.Moves = []Move{}
	}
	if p.Batches == nil {
		p.Batches = [][]int{}
	}
	if p.After == nil {
		p.After = []Assignment{}
	}
	return p
}

// batchMoves groups moves so that no node appears twice in a batch, using
// as few batches as possible: a node gives or receives, never both, so the
// moves form a bipartite graph, whose edges can be coloured with as many
// colours as the largest number of moves any node takes part in (König);
// colours are found by flipping alternating paths. When some node both
// gives and receives (load-aware plans can do that) the graph may not be
// bipartite and a greedy colouring is used (at most 2d-1 batches). Batches
// are ordered by their largest move, biggest first.
func batchMoves(moves []Move) [][]int {
	if len(moves) == 0 {
		return nil
	}
	gives := map[string]bool{}
	for _, m := range moves {
		gives[m.Source] = true
	}
	for _, m := range moves {
		if gives[m.Target] {
			return greedyBatches(moves)
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
	deg := map[int]int{}
	for i, m := range moves {
		edges[i] = edge{node(m.Source), node(m.Target)}
		deg[edges[i].u]++
		deg[edges[i].v]++
	}
	colors := 0
	for _, d := range deg {
		colors = max(colors, d)
	}
	// at[n][c] is the edge of colour c at node n, or -1.
	at := make([][]int, len(num))
	for n := range at {
		at[n] = make([]int, colors)
		for c := range at[n] {
			at[n][c] = -1
		}
	}
	color := make([]int, len(moves))
	free := func(n int) int {
		for c, e := range at[n] {
			if e < 0 {
				return c
			}
		}
		return -1 // cannot happen: degree <= colours
	}
	for i, e := range edges {
		a, b := free(e.u), free(e.v)
		if at[e.v][a] >= 0 {
			// Flip the path from v whose edges alternate a, b.
			var path []int
			x, c := e.v, a
			for at[x][c] >= 0 && len(path) <= len(edges) {
				pe := at[x][c]
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
				at[edges[pe].u][color[pe]] = -1
				at[edges[pe].v][color[pe]] = -1
			}
			for _, pe := range path {
				if color[pe] == a {
					color[pe] = b
				} else {
					color[pe] = a
				}
				at[edges[pe].u][color[pe]] = pe
				at[edges[pe].v][color[pe]] = pe
			}
		}
		color[i] = a
		at[e.u][a] = i
		at[e.v][a] = i
	}
	batches := make([][]int, colors)
	for i, c := range color {
		batches[c] = append(batches[c], i)
	}
	batches = slices.DeleteFunc(batches, func(b []int) bool { return len(b) == 0 })
	biggest := func(b []int) int {
		m := 0
		for _, i := range b {
			m = max(m, moves[i].Slots)
		}
		return m
	}
	slices.SortStableFunc(batches, func(x, y []int) int { return cmp.Compare(biggest(y), biggest(x)) })
	return batches
}

// greedyBatches puts each move, largest first, into the first batch where
// both its nodes are free.
func greedyBatches(moves []Move) [][]int {
	order := make([]int, len(moves))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(moves[b].Slots, moves[a].Slots) })
	var batches [][]int
	var busy []map[string]bool
	for _, mi := range order {
		m := moves[mi]
		placed := false
		for bi := range batches {
			if !busy[bi][m.Source] && !busy[bi][m.Target] {
				batches[bi] = append(batches[bi], mi)
				busy[bi][m.Source], busy[bi][m.Target] = true, true
				placed = true
				break
			}
		}
		if !placed {
			batches = append(batches, []int{mi})
			busy = append(busy, map[string]bool{m.Source: true, m.Target: true})
		}
	}
	for _, b := range batches {
		slices.Sort(b)
	}
	return batches
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
// Unknown fields are rejected.
func ParsePlan(data []byte) (*Plan, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the plan object", ErrInvalidPlan)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks that a plan is internally consistent, so an executor can
// trust it: a known version and kind; a Before where no slot has two
// owners; moves between distinct nodes of Before, with valid, ascending,
// disjoint ranges whose size matches Slots, no slot moved twice; every move
// in exactly one batch; no node twice in a batch; each move's slots owned by
// its source when its batch starts; After[i] equal to the result of
// applying batches 0..i; a summary.slots_moved that matches the moves
// (the other summary figures are informational, not checked). Errors wrap
// ErrInvalidPlan and say what is wrong.
func (p *Plan) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPlan, fmt.Sprintf(format, a...))
	}
	if p.Version != FormatVersion {
		return bad("version %d is not supported (want %d)", p.Version, FormatVersion)
	}
	if !p.Kind.known() {
		return bad("unknown kind %q", p.Kind)
	}
	if p.Before == nil {
		return bad("missing \"before\" layout")
	}
	ids := make([]string, 0, len(p.Before))
	for id := range p.Before {
		ids = append(ids, id)
	}
	slices.Sort(ids)
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
	for bi, b := range p.Batches {
		if len(b) == 0 {
			return bad("batch %d is empty", bi)
		}
		used := map[string]int{}
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
				if prev, ok := used[id]; ok {
					return bad("batch %d: node %q is in moves %d and %d; moves of a batch must have disjoint nodes", bi, id, prev, mi)
				}
				used[id] = mi
			}
		}
	}
	for mi, c := range seen {
		if c == 0 {
			return bad("move %d is in no batch", mi)
		}
	}
	if len(p.After) != len(p.Batches) {
		return bad("\"after\" has %d layouts for %d batches", len(p.After), len(p.Batches))
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
		if err := sameAssignment(ids, &owner, p.After[bi]); err != nil {
			return bad("after[%d]: %v", bi, err)
		}
	}
	if p.Summary.SlotsMoved != total {
		return bad("summary.slots_moved is %d but the moves hold %d slots", p.Summary.SlotsMoved, total)
	}
	return nil
}

// sameAssignment compares an owner array with an assignment.
func sameAssignment(ids []string, owner *[slots.Count]int32, a Assignment) error {
	for id := range a {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			return fmt.Errorf("node %q is not in \"before\"", id)
		}
	}
	want := make([]slots.Set, len(ids))
	for s, o := range owner {
		if o != noOwner {
			want[o].Add(slots.Slot(s))
		}
	}
	for i, id := range ids {
		var got slots.Set
		n := 0
		for _, r := range a[id] {
			if !r.Valid() {
				return fmt.Errorf("node %q: invalid range %d-%d", id, r.Start, r.End)
			}
			got.AddRange(r)
			n += r.Len()
		}
		if n != got.Count() {
			return fmt.Errorf("node %q: overlapping ranges", id)
		}
		if !got.Equal(&want[i]) {
			return fmt.Errorf("node %q should own %s, the plan says %s", id, want[i].String(), got.String())
		}
	}
	return nil
}
