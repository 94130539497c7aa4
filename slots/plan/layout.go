package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

// Errors returned by the planners and parsers. Every error the package
// returns wraps one of these, so callers can test with errors.Is; the text
// says what exactly is wrong.
var (
	// ErrInvalidLayout means a layout is malformed: duplicate or empty node
	// IDs, a slot owned twice, a replica owning slots, a negative weight.
	ErrInvalidLayout = errors.New("plan: invalid layout")
	// ErrUncovered means some slots are owned by no primary; planners that
	// move slots need a fully covered layout (fix coverage first).
	ErrUncovered = errors.New("plan: slots not covered")
	// ErrUnknownNode means a request names a node the layout does not have.
	ErrUnknownNode = errors.New("plan: unknown node")
	// ErrImpossible means the request cannot be satisfied (for example a
	// reshard asking for more slots than its sources hold, or every
	// weight being zero).
	ErrImpossible = errors.New("plan: request cannot be satisfied")
	// ErrInvalidPlan means a plan document failed ParsePlan or Validate.
	ErrInvalidPlan = errors.New("plan: invalid plan")
	// ErrInvalidLoads means per-slot loads are malformed.
	ErrInvalidLoads = errors.New("plan: invalid loads")
)

// Role values of Node.Role.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Ranges is a list of slot ranges. In JSON it is an array of strings in
// redis-cli notation: ["0-5460","5461"].
type Ranges []slots.Range

// MarshalJSON encodes the ranges as an array of "N" / "N-M" strings.
func (rs Ranges) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(rs)*12 + 2)
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(r.String())
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// UnmarshalJSON accepts an array whose elements are "N", "N-M" or plain
// numbers, or one string of space/comma separated ranges ("0-99 200").
func (rs *Ranges) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*rs = nil
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		out, err := slots.ParseRanges(s)
		if err != nil {
			return err
		}
		*rs = out
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("slot ranges must be an array of strings like \"0-99\": %w", err)
	}
	out := make(Ranges, 0, len(raw))
	for _, e := range raw {
		var s string
		if len(e) > 0 && e[0] == '"' {
			if err := json.Unmarshal(e, &s); err != nil {
				return err
			}
		} else {
			var n json.Number
			if err := json.Unmarshal(e, &n); err != nil {
				return fmt.Errorf("slot range %s: want a string like \"0-99\" or a slot number", e)
			}
			s = n.String()
		}
		r, err := slots.ParseRange(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	*rs = out
	return nil
}

// Len returns the number of slots in rs (overlaps counted twice).
func (rs Ranges) Len() int {
	n := 0
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// Node is one cluster node in a layout.
type Node struct {
	// ID is the node's unique name (the 40-hex cluster node ID, or any
	// unique label). Required.
	ID string `json:"id"`
	// Addr is host:port, informational.
	Addr string `json:"addr,omitempty"`
	// Host labels the machine the node runs on. Empty means the host part
	// of Addr (anti-affinity needs one or the other).
	Host string `json:"host,omitempty"`
	// Zone labels the failure zone (rack, availability zone). Optional.
	Zone string `json:"zone,omitempty"`
	// Role is "primary" (the default when empty) or "replica".
	Role string `json:"role,omitempty"`
	// Primary is the ID of the primary a replica replicates.
	Primary string `json:"primary,omitempty"`
	// Weight is the node's share of slots (or load) relative to the other
	// primaries. Nil means 1; 0 drains the node.
	Weight *float64 `json:"weight,omitempty"`
	// Slots are the slot ranges the node owns (primaries only).
	Slots Ranges `json:"slots,omitempty"`
}

// IsReplica reports whether the node is a replica.
func (n *Node) IsReplica() bool { return n.Role == RoleReplica || n.Role == "slave" }

// HostName returns Host, or the host part of Addr when Host is empty.
func (n *Node) HostName() string {
	if n.Host != "" {
		return n.Host
	}
	return hostOf(n.Addr)
}

// hostOf returns the host part of "host:port" (IPv6 brackets removed), or
// addr unchanged when it has no port; a "@cport" suffix is dropped.
func hostOf(addr string) string {
	if i := strings.IndexByte(addr, '@'); i >= 0 {
		addr = addr[:i]
	}
	if strings.HasPrefix(addr, "[") {
		if j := strings.Index(addr, "]"); j > 0 {
			return addr[1:j]
		}
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.Count(addr, ":") == 1 {
		return addr[:i]
	}
	return addr
}

// weight returns the effective weight (1 when unset).
func (n *Node) weight() float64 {
	if n.Weight == nil {
		return 1
	}
	return *n.Weight
}

// Weight returns a pointer to w, for Node.Weight literals.
func Weight(w float64) *float64 { return &w }

// Layout is the input of the planners: the cluster's nodes and, for
// load-aware planning, per-slot loads.
type Layout struct {
	// Version is the format version; 0 or 1.
	Version int `json:"version,omitempty"`
	// Nodes lists primaries (with their slots) and, optionally, replicas.
	Nodes []Node `json:"nodes"`
	// Loads are per-slot weights for RebalanceLoad. Optional.
	Loads Loads `json:"loads,omitempty"`
}

// ParseLayout decodes and validates a layout document. Unknown fields are
// rejected so that typos do not silently change a plan, and so is a key
// repeated in one object (a field's name in another case included):
// encoding/json would keep the last.
func ParseLayout(data []byte) (*Layout, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l *Layout
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidLayout, err)
	}
	if err := duplicateKey(data, reflect.TypeOf(l)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidLayout, err)
	}
	if l == nil {
		return nil, fmt.Errorf("%w: the document is null, not a layout object", ErrInvalidLayout)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the layout object", ErrInvalidLayout)
	}
	if _, err := l.index(); err != nil {
		return nil, err
	}
	return l, nil
}

// Validate checks the layout: unique non-empty IDs, known roles, finite
// non-negative weights, replicas owning no slots, no slot owned twice,
// replicas pointing to a primary of the layout. It does not require full
// coverage (the planners do).
func (l *Layout) Validate() error {
	_, err := l.index()
	return err
}

// state is the validated, array form of a layout.
type state struct {
	nodes   []Node         // layout order
	byID    map[string]int // id -> index in nodes
	owner   [slots.Count]int32
	primary []int // indexes of primaries, sorted by ID
}

const noOwner = -1

// errNilLayout is returned for a nil *Layout.
var errNilLayout = fmt.Errorf("%w: nil layout", ErrInvalidLayout)

// errNilContext is returned for a nil context.
var errNilContext = fmt.Errorf("%w: nil context", ErrImpossible)

func (l *Layout) index() (*state, error) {
	if l == nil {
		return nil, errNilLayout
	}
	st := &state{nodes: l.Nodes, byID: make(map[string]int, len(l.Nodes))}
	for i := range st.owner {
		st.owner[i] = noOwner
	}
	if l.Version != 0 && l.Version != 1 {
		return nil, fmt.Errorf("%w: unsupported version %d (want 1)", ErrInvalidLayout, l.Version)
	}
	for i := range l.Nodes {
		n := &l.Nodes[i]
		if n.ID == "" {
			return nil, fmt.Errorf("%w: node #%d has no id", ErrInvalidLayout, i)
		}
		if _, dup := st.byID[n.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate node id %q", ErrInvalidLayout, n.ID)
		}
		st.byID[n.ID] = i
		switch n.Role {
		case "", RolePrimary, "master", RoleReplica, "slave":
		default:
			return nil, fmt.Errorf("%w: node %q: unknown role %q (want primary or replica)", ErrInvalidLayout, n.ID, n.Role)
		}
		if w := n.weight(); w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: node %q: weight %v must be a finite number >= 0", ErrInvalidLayout, n.ID, w)
		}
		if n.IsReplica() {
			if len(n.Slots) > 0 {
				return nil, fmt.Errorf("%w: replica %q owns slots %s", ErrInvalidLayout, n.ID, slots.FormatRanges(n.Slots, ","))
			}
			continue
		}
		if n.Primary != "" {
			return nil, fmt.Errorf("%w: primary %q has a primary (%q); set role \"replica\"", ErrInvalidLayout, n.ID, n.Primary)
		}
		st.primary = append(st.primary, i)
		for _, r := range n.Slots {
			if !r.Valid() {
				return nil, fmt.Errorf("%w: node %q: invalid range %d-%d", ErrInvalidLayout, n.ID, r.Start, r.End)
			}
			for s := int(r.Start); s <= int(r.End); s++ {
				if o := st.owner[s]; o != noOwner {
					return nil, fmt.Errorf("%w: slot %d owned by both %q and %q", ErrInvalidLayout, s, l.Nodes[o].ID, n.ID)
				}
				st.owner[s] = int32(i)
			}
		}
	}
	total := 0.0
	for _, i := range st.primary {
		total += l.Nodes[i].weight()
	}
	if math.IsInf(total, 0) {
		return nil, fmt.Errorf("%w: the primaries' weights add up to more than a float64 holds; use smaller weights (only their ratios matter)", ErrInvalidLayout)
	}
	for i := range l.Nodes {
		n := &l.Nodes[i]
		if !n.IsReplica() {
			continue
		}
		p, ok := st.byID[n.Primary]
		if n.Primary == "" || !ok {
			return nil, fmt.Errorf("%w: replica %q: primary %q is not in the layout", ErrInvalidLayout, n.ID, n.Primary)
		}
		if l.Nodes[p].IsReplica() {
			return nil, fmt.Errorf("%w: replica %q replicates %q, which is a replica", ErrInvalidLayout, n.ID, n.Primary)
		}
	}
	slices.SortFunc(st.primary, func(a, b int) int { return strings.Compare(l.Nodes[a].ID, l.Nodes[b].ID) })
	return st, nil
}

// requireCovered returns ErrUncovered naming the unowned slots, if any.
func (st *state) requireCovered() error {
	var un slots.Set
	for s, o := range st.owner {
		if o == noOwner {
			un.Add(slots.Slot(s))
		}
	}
	if un.Empty() {
		return nil
	}
	return fmt.Errorf("%w: %d slots have no owner (%s); assign them first (CLUSTER ADDSLOTS or redis-cli --cluster fix)", ErrUncovered, un.Count(), shortRanges(un.Ranges()))
}

// counts returns the number of slots each node (by layout index) owns.
func countOwned(owner *[slots.Count]int32, n int) []int {
	c := make([]int, n)
	for _, o := range owner {
		if o >= 0 {
			c[o]++
		}
	}
	return c
}

// rangesOf returns the ranges owned by each node index.
func rangesOf(owner *[slots.Count]int32, n int) []Ranges {
	out := make([]Ranges, n)
	for s := 0; s < slots.Count; {
		o := owner[s]
		e := s
		for e+1 < slots.Count && owner[e+1] == o {
			e++
		}
		if o >= 0 {
			out[o] = append(out[o], slots.Range{Start: slots.Slot(s), End: slots.Slot(e)})
		}
		s = e + 1
	}
	return out
}

// Loads are per-slot loads (key counts, bytes, ops/s). In JSON they are an
// object mapping a slot or range ("42", "0-99") to the load of each slot in
// it; slots not named have load 0.
type Loads map[string]float64

// perSlot expands loads into one value per slot.
func (ld Loads) perSlot() (*[slots.Count]float64, error) {
	var out [slots.Count]float64
	var seen slots.Set
	keys := make([]string, 0, len(ld))
	for k := range ld {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := ld[k]
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: slot %s: load %v must be a finite number >= 0", ErrInvalidLoads, k, v)
		}
		r, err := slots.ParseRange(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidLoads, err)
		}
		for s := int(r.Start); s <= int(r.End); s++ {
			if seen.Has(slots.Slot(s)) {
				return nil, fmt.Errorf("%w: slot %d given twice (key %q overlaps another)", ErrInvalidLoads, s, k)
			}
			seen.Add(slots.Slot(s))
			out[s] = v
		}
	}
	return &out, nil
}

// LoadsOf builds Loads from one value per slot (for example CLUSTER
// COUNTKEYSINSLOT results), writing runs of equal values as ranges.
func LoadsOf(perSlot []float64) Loads {
	ld := make(Loads)
	for s := 0; s < len(perSlot) && s < slots.Count; {
		e := s
		for e+1 < len(perSlot) && e+1 < slots.Count && perSlot[e+1] == perSlot[s] {
			e++
		}
		if perSlot[s] != 0 {
			ld[slots.Range{Start: slots.Slot(s), End: slots.Slot(e)}.String()] = perSlot[s]
		}
		s = e + 1
	}
	return ld
}
