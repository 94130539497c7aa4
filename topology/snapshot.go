package topology

import (
	"fmt"
	"sort"

	"github.com/slotrouter/slotrouter/slots"
)

// Shard is a primary, its replicas and the slot ranges it serves.
//
// A Shard that a Snapshot hands out (Lookup, Shards, ShardOf) is a deep
// copy, the caller's own: its Primary and Replicas point to fresh copies of
// the nodes and Ranges is a fresh slice, so changing any of them changes
// no snapshot.
type Shard struct {
	// ID is the shard id when the cluster reported one (7.2+), else "".
	ID string
	// Primary is the node that serves writes for the shard's slots.
	Primary *Node
	// Replicas are the primary's replicas, in a stable order.
	Replicas []*Node
	// Ranges are the shard's slots as maximal ascending runs. In a Snapshot
	// they are derived from the slot table, so they never overlap between
	// shards. A primary with no slots has no ranges.
	Ranges []slots.Range
}

// Slots returns the shard's slots as a set.
func (s *Shard) Slots() slots.Set { return slots.SetOf(s.Ranges...) }

// SlotCount returns how many slots the shard serves.
func (s *Shard) SlotCount() int {
	n := 0
	for _, r := range s.Ranges {
		n += r.Len()
	}
	return n
}

// noShard marks an uncovered slot in the slot table.
const noShard = 0xFFFF

// maxShards is the number of shards a snapshot can index.
const maxShards = noShard

// SlotEntry is the bookkeeping a Snapshot keeps for one slot, so that the
// map never goes backwards.
type SlotEntry struct {
	// Covered reports whether some shard serves the slot.
	Covered bool
	// Epoch is the config epoch of the owner the entry was decided with;
	// meaningful only when EpochKnown.
	Epoch uint64
	// EpochKnown reports whether Epoch came from the cluster.
	EpochKnown bool
	// Fixed reports that a MOVED redirect set the owner; only a claim with a
	// strictly newer epoch (or the fixed owner's own word) overrides it.
	Fixed bool
}

// SnapshotOptions configures NewSnapshot. The zero value is the default.
type SnapshotOptions struct {
	// Version is the snapshot's version; 0 means 1.
	Version uint64
	// MapAddr maps an announced "host:port" to a dialable one (the
	// address-mapping hook). Nil keeps addresses as announced. The snapshot
	// keeps it and applies it to nodes that ApplyMoved adds.
	MapAddr func(announced string) string
}

// Snapshot is an immutable slot map: which shard serves each of the 16384
// slots, plus every known node. It is safe for concurrent use; build a new
// one (Reconcile, ApplyMoved, NewSnapshot) instead of changing it. Its
// accessors return copies (Node and Shard values), so no caller can change
// what the others read. Build it with NewSnapshot (NewSnapshot(nil,
// SnapshotOptions{}) for an empty one): the zero Snapshot serves no slot
// but reports none as uncovered.
type Snapshot struct {
	owner   [slots.Count]uint16
	version uint64
	shards  []Shard
	nodes   []*Node
	byAddr  map[string]*Node
	byID    map[string]*Node
	// shardIdx maps each node (the snapshot's own) to its shard index.
	shardIdx  map[*Node]int
	uncovered slots.Set
	epoch     epochTable
	known     slots.Set
	fixed     slots.Set
	mapAddr   func(string) string
}

// Version returns the snapshot's version. Snapshots derived from another
// (Reconcile, ApplyMoved) have a higher version than their parent.
func (s *Snapshot) Version() uint64 { return s.version }

// Lookup returns a copy of the shard serving slot (see Shard: the copy is
// the caller's own), or false when the slot is uncovered or out of range.
// The slot is one array index, without lock; the copy allocates. Routing
// code that must not allocate asks the router (router.Route).
func (s *Snapshot) Lookup(slot slots.Slot) (Shard, bool) {
	sh, ok := s.lookup(slot)
	if !ok {
		return Shard{}, false
	}
	return sh.clone(), true
}

// lookup is Lookup without the copy: the snapshot's own shard, which must
// not be changed nor handed out. It allocates nothing.
func (s *Snapshot) lookup(slot slots.Slot) (*Shard, bool) {
	i, ok := s.index(slot)
	if !ok {
		return nil, false
	}
	return &s.shards[i], true
}

// index returns the index in s.shards of the shard serving slot, or
// false when the slot is uncovered or out of range.
func (s *Snapshot) index(slot slots.Slot) (int, bool) {
	if int(slot) >= slots.Count {
		return 0, false
	}
	i := int(s.owner[slot])
	if i >= len(s.shards) { // noShard, or the zero Snapshot (no shards)
		return 0, false
	}
	return i, true
}

// Primary returns a copy of the primary serving slot, or false when the
// slot is uncovered or out of range.
func (s *Snapshot) Primary(slot slots.Slot) (Node, bool) {
	return nodeValue(s.primary(slot))
}

// PrimaryRef returns a read-only reference to the primary serving slot
// (the zero NodeRef when the slot is uncovered or out of range): Primary
// without the copy, for code that must not copy or allocate.
func (s *Snapshot) PrimaryRef(slot slots.Slot) NodeRef {
	// Through index, not primary: small enough for the compiler to
	// inline PrimaryRef into the router's hot path.
	if i, ok := s.index(slot); ok {
		return NodeRef{n: s.shards[i].Primary}
	}
	return NodeRef{}
}

// primary is Primary without the copy.
func (s *Snapshot) primary(slot slots.Slot) (*Node, bool) {
	sh, ok := s.lookup(slot)
	if !ok {
		return nil, false
	}
	return sh.Primary, true
}

// Shards returns a copy of the shards ordered by their lowest slot;
// primaries without slots come last, ordered by node key. The slice, and
// the nodes and ranges of each shard, are the caller's own (see Shard).
func (s *Snapshot) Shards() []Shard {
	out := make([]Shard, len(s.shards))
	for i := range s.shards {
		out[i] = s.shards[i].clone()
	}
	return out
}

// Nodes returns a copy of every node, shard by shard, primary first. The
// slice is the caller's own.
func (s *Snapshot) Nodes() []Node {
	out := make([]Node, len(s.nodes))
	for i, n := range s.nodes {
		out[i] = *n
	}
	return out
}

// NodeByAddr returns a copy of the node whose dialable Addr or Announced
// address is addr. When a failed node and a live one share an address,
// the live one is returned.
func (s *Snapshot) NodeByAddr(addr string) (Node, bool) {
	return nodeValue(s.nodeByAddr(addr))
}

// nodeByAddr is NodeByAddr without the copy.
func (s *Snapshot) nodeByAddr(addr string) (*Node, bool) {
	n, ok := s.byAddr[addr]
	return n, ok
}

// NodeByID returns a copy of the node whose id is id.
func (s *Snapshot) NodeByID(id string) (Node, bool) {
	return nodeValue(s.nodeByID(id))
}

// nodeByID is NodeByID without the copy.
func (s *Snapshot) nodeByID(id string) (*Node, bool) {
	if id == "" {
		return nil, false
	}
	n, ok := s.byID[id]
	return n, ok
}

// ShardOf returns a copy of the shard that node n belongs to (as primary
// or replica). Nodes are matched by identity (Key: the id, or the
// announced address when the id is unknown), so n may be a copy, or come
// from another snapshot.
func (s *Snapshot) ShardOf(n Node) (Shard, bool) {
	var own *Node
	if n.ID != "" {
		own = s.byID[n.ID]
	} else if k := n.Key(); k != "" {
		for _, m := range s.nodes {
			if m.Key() == k {
				own = m
				break
			}
		}
	}
	sh, ok := s.shardOf(own)
	if !ok {
		return Shard{}, false
	}
	return sh.clone(), true
}

// shardOf returns the snapshot's own shard of n, one of its own nodes.
func (s *Snapshot) shardOf(n *Node) (*Shard, bool) {
	i, ok := s.shardIdx[n]
	if !ok {
		return nil, false
	}
	return &s.shards[i], true
}

// nodeValue turns the result of an internal accessor into the copy that
// exported accessors return.
func nodeValue(n *Node, ok bool) (Node, bool) {
	if !ok || n == nil {
		return Node{}, false
	}
	return *n, true
}

// Uncovered returns the slots no shard serves.
func (s *Snapshot) Uncovered() slots.Set { return s.uncovered }

// Covered reports whether every slot is served.
func (s *Snapshot) Covered() bool { return s.uncovered.Empty() }

// Entry returns the bookkeeping for one slot (zero for an invalid slot).
func (s *Snapshot) Entry(slot slots.Slot) SlotEntry {
	if int(slot) >= slots.Count {
		return SlotEntry{}
	}
	return SlotEntry{
		Covered:    s.owner[slot] != noShard,
		Epoch:      s.epoch.get(slot),
		EpochKnown: s.known.Has(slot),
		Fixed:      s.fixed.Has(slot),
	}
}

// MapAddr applies the snapshot's address-mapping hook to an announced
// address (identity when there is none).
func (s *Snapshot) MapAddr(announced string) string {
	if s.mapAddr == nil {
		return announced
	}
	return s.mapAddr(announced)
}

// NewSnapshot builds a snapshot from shards. Nodes are copied, so the caller
// may reuse its values. Each shard needs a primary; ranges must be valid
// and must not overlap; a node may appear in one shard only. A node's Addr
// is set to MapAddr(Announced) (Announced defaults to Addr, or to
// Endpoint:Port). Slots take the epoch of their primary when it is known.
func NewSnapshot(shards []Shard, opts SnapshotOptions) (*Snapshot, error) {
	if len(shards) > maxShards {
		return nil, fmt.Errorf("%w: %d shards, at most %d", ErrInvalidShards, len(shards), maxShards)
	}
	b := newBuilder(opts.MapAddr)
	seen := make(map[string]bool)
	for i := range shards {
		sh := &shards[i]
		if sh.Primary == nil {
			return nil, fmt.Errorf("%w: shard %d has no primary", ErrInvalidShards, i)
		}
		idx := b.addShard(sh.ID, copyNode(sh.Primary), nil)
		for _, r := range sh.Replicas {
			if r == nil {
				return nil, fmt.Errorf("%w: shard %d has a nil replica", ErrInvalidShards, i)
			}
			b.shards[idx].Replicas = append(b.shards[idx].Replicas, copyNode(r))
		}
		for _, n := range b.nodesOf(idx) {
			k := n.Key()
			if k == "" {
				return nil, fmt.Errorf("%w: shard %d has a node with neither id nor address", ErrInvalidShards, i)
			}
			if seen[k] {
				return nil, fmt.Errorf("%w: node %s appears twice", ErrInvalidShards, k)
			}
			seen[k] = true
		}
		p := b.shards[idx].Primary
		for _, r := range sh.Ranges {
			if !r.Valid() {
				return nil, fmt.Errorf("%w: shard %d: invalid range %d-%d", ErrInvalidShards, i, r.Start, r.End)
			}
			for x := int(r.Start); x <= int(r.End); x++ {
				if b.owner[x] != noShard {
					return nil, fmt.Errorf("%w: slot %d is in shards %d and %d", ErrInvalidShards, x, b.owner[x], i)
				}
				b.owner[x] = uint16(idx)
				if p.EpochKnown {
					b.epoch.set(slots.Slot(x), p.ConfigEpoch)
					b.known.Add(slots.Slot(x))
				}
			}
		}
	}
	v := opts.Version
	if v == 0 {
		v = 1
	}
	return b.finish(v), nil
}

// copyNode returns a fresh copy of n (nil for nil).
func copyNode(n *Node) *Node {
	if n == nil {
		return nil
	}
	c := *n
	return &c
}

// clone returns a deep copy of sh: its own ranges, primary and replicas
// (the nodes in one allocation).
func (sh *Shard) clone() Shard {
	c := Shard{ID: sh.ID}
	if sh.Ranges != nil {
		c.Ranges = append(make([]slots.Range, 0, len(sh.Ranges)), sh.Ranges...)
	}
	nodes := make([]Node, 1+len(sh.Replicas))
	if sh.Primary != nil {
		nodes[0] = *sh.Primary
		c.Primary = &nodes[0]
	}
	if sh.Replicas != nil {
		c.Replicas = make([]*Node, len(sh.Replicas))
		for i, r := range sh.Replicas {
			if r != nil {
				nodes[1+i] = *r
				c.Replicas[i] = &nodes[1+i]
			}
		}
	}
	return c
}

// builder assembles a snapshot: shards with fresh nodes, and a slot table
// holding shard indices into shards. The table is the new snapshot's own,
// filled in place.
type builder struct {
	s       *Snapshot
	shards  []Shard
	owner   *[slots.Count]uint16
	epoch   epochWriter
	known   slots.Set
	fixed   slots.Set
	mapAddr func(string) string
}

func newBuilder(mapAddr func(string) string) *builder {
	b := newBuilderFrom(nil, mapAddr)
	for i := range b.owner {
		b.owner[i] = noShard
	}
	return b
}

// newBuilderFrom starts a builder whose slot table is a copy of owner (left
// zero when owner is nil: the caller fills it).
func newBuilderFrom(owner *[slots.Count]uint16, mapAddr func(string) string) *builder {
	s := &Snapshot{}
	if owner != nil {
		s.owner = *owner
	}
	return &builder{s: s, owner: &s.owner, mapAddr: mapAddr}
}

// addShard appends a shard and returns its index.
func (b *builder) addShard(id string, primary *Node, replicas []*Node) int {
	b.shards = append(b.shards, Shard{ID: id, Primary: primary, Replicas: replicas})
	return len(b.shards) - 1
}

func (b *builder) nodesOf(i int) []*Node {
	sh := &b.shards[i]
	out := make([]*Node, 0, 1+len(sh.Replicas))
	out = append(out, sh.Primary)
	return append(out, sh.Replicas...)
}

// fixAddr fills Announced and Addr of a node owned by the builder.
func (b *builder) fixAddr(n *Node) {
	if n.Announced == "" {
		if n.Addr != "" {
			n.Announced = n.Addr
		} else {
			finishNode(n) // Endpoint:Port (or TLSPort), when both are known
		}
	}
	if b.mapAddr != nil && n.Announced != "" {
		n.Addr = b.mapAddr(n.Announced)
	} else if n.Addr == "" {
		n.Addr = n.Announced
	}
}

// finish derives ranges from the slot table, orders shards, indexes nodes
// and returns the snapshot. Nodes in b.shards must be owned by the builder.
func (b *builder) finish(version uint64) *Snapshot {
	// Ranges from the table.
	for i := range b.shards {
		b.shards[i].Ranges = nil
	}
	var uncovered slots.Set
	for x := 0; x < slots.Count; {
		o := b.owner[x]
		y := x
		for y+1 < slots.Count && b.owner[y+1] == o {
			y++
		}
		r := slots.Range{Start: slots.Slot(x), End: slots.Slot(y)}
		if o != noShard {
			b.shards[o].Ranges = append(b.shards[o].Ranges, r)
		} else {
			uncovered.AddRange(r)
			b.fixed.RemoveRange(r)
		}
		x = y + 1
	}
	// Order: by lowest slot, then slotless by key.
	order := make([]int, len(b.shards))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool {
		sa, sc := &b.shards[order[a]], &b.shards[order[c]]
		if len(sa.Ranges) > 0 && len(sc.Ranges) > 0 {
			return sa.Ranges[0].Start < sc.Ranges[0].Start
		}
		if len(sa.Ranges) > 0 || len(sc.Ranges) > 0 {
			return len(sa.Ranges) > 0
		}
		return sa.Primary.Key() < sc.Primary.Key()
	})
	remap := make([]uint16, len(b.shards))
	s := b.s
	s.version = version
	s.shards = make([]Shard, len(b.shards))
	s.byAddr = make(map[string]*Node)
	s.byID = make(map[string]*Node)
	s.shardIdx = make(map[*Node]int)
	s.epoch = b.epoch.t
	s.known = b.known
	s.fixed = b.fixed
	s.mapAddr = b.mapAddr
	identity := true
	for newIdx, oldIdx := range order {
		remap[oldIdx] = uint16(newIdx)
		s.shards[newIdx] = b.shards[oldIdx]
		identity = identity && newIdx == oldIdx
	}
	s.uncovered = uncovered
	if !identity {
		for x, o := range s.owner {
			if o != noShard {
				s.owner[x] = remap[o]
			}
		}
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.Primary.Role = RolePrimary
		sh.Primary.PrimaryID = ""
		sort.SliceStable(sh.Replicas, func(a, c int) bool { return sh.Replicas[a].Key() < sh.Replicas[c].Key() })
		for _, r := range sh.Replicas {
			r.Role = RoleReplica
			r.PrimaryID = sh.Primary.ID
		}
		for _, n := range append([]*Node{sh.Primary}, sh.Replicas...) {
			b.fixAddr(n)
			s.nodes = append(s.nodes, n)
			s.shardIdx[n] = i
			if n.ID != "" {
				s.byID[n.ID] = n
			}
			indexAddr(s.byAddr, n.Announced, n)
			indexAddr(s.byAddr, n.Addr, n)
		}
	}
	return s
}

// indexAddr records n under addr. When two nodes share an address (a node
// replaced by a new one at the same address), a healthy node wins over a
// failed one, else the first one stays.
func indexAddr(m map[string]*Node, addr string, n *Node) {
	if addr == "" {
		return
	}
	if old, dup := m[addr]; dup && !(old.Health == HealthFailed && n.Health != HealthFailed) {
		return
	}
	m[addr] = n
}
