package router

import (
	"math/bits"
	"unsafe"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// nodeHandles maps the nodes of one snapshot (the snapshot's own, by
// pointer) to the pool's state of their addresses, so that the hot path
// goes from a slot's node to its breaker and its client (nodeState.conn)
// without hashing an address string. It is built for the current
// snapshot by the first caller that needs it, then only read: an
// open-addressing table of a power-of-two size, at most half full.
type nodeHandles struct {
	snap  *topology.Snapshot
	keys  []*topology.Node
	vals  []*nodeState // nil: the pool had no state for the node yet
	shift uint         // 64 - log2(len(keys))
	// primaries holds, by shard index (shardIndex), the state of the
	// shard's primary: nil when it has none, no address, or no state in
	// the pool yet. The fast path reads it instead of the shard, its
	// primary and the table above: three cache lines fewer per call.
	primaries []*nodeState
}

// slot is the table index a node's pointer hashes to (Fibonacci hashing:
// the pointers of one snapshot's nodes differ in their middle bits).
func (h *nodeHandles) slot(n *topology.Node) int {
	return int((uint64(uintptr(unsafe.Pointer(n))) * 0x9e3779b97f4a7c15) >> h.shift)
}

// get returns the state of n, and whether n is a node of h's snapshot.
func (h *nodeHandles) get(n *topology.Node) (*nodeState, bool) {
	mask := len(h.keys) - 1
	for i := h.slot(n); ; i = (i + 1) & mask {
		switch h.keys[i] {
		case n:
			return h.vals[i], true
		case nil:
			return nil, false
		}
	}
}

// newNodeHandles builds the table of s's nodes with the states p has for
// their addresses (none is created).
func newNodeHandles(s *topology.Snapshot, p *pool) *nodeHandles {
	var nodes []*topology.Node
	shards := shardsOf(s)
	for i := range shards {
		sh := &shards[i]
		if sh.Primary != nil {
			nodes = append(nodes, sh.Primary)
		}
		nodes = append(nodes, sh.Replicas...)
	}
	size := 2
	for size < 2*len(nodes) {
		size *= 2
	}
	h := &nodeHandles{
		snap:      s,
		keys:      make([]*topology.Node, size),
		vals:      make([]*nodeState, size),
		shift:     uint(64 - bits.TrailingZeros(uint(size))),
		primaries: make([]*nodeState, len(shards)),
	}
	mask := size - 1
	for _, n := range nodes {
		i := h.slot(n)
		for h.keys[i] != nil && h.keys[i] != n {
			i = (i + 1) & mask
		}
		h.keys[i] = n
		if n.Addr != "" {
			h.vals[i] = p.lookup(n.Addr)
		}
	}
	for i := range shards {
		if pr := shards[i].Primary; pr != nil && pr.Addr != "" {
			h.primaries[i], _ = h.get(pr)
		}
	}
	return h
}

// primary returns the state of the primary of the shard serving slot in
// h's snapshot, as primaries holds it.
func (h *nodeHandles) primary(slot slots.Slot) *nodeState {
	if i, ok := shardIndex(h.snap, slot); ok && i < len(h.primaries) {
		return h.primaries[i]
	}
	return nil
}

// stateOf returns the pool's state of n's address (creating it), n a
// node of snapshot s: through the table of s when s is the current
// snapshot (built or rebuilt as needed), else by address.
func (c *Client) stateOf(s *topology.Snapshot, n *topology.Node) *nodeState {
	h := c.handles.Load()
	if h == nil || h.snap != s {
		if s != c.topo.Current() {
			return c.pool.node(n.Addr) // an older snapshot: no table for it
		}
		h = newNodeHandles(s, c.pool)
		c.handles.Store(h)
	}
	ns, ok := h.get(n)
	if ns != nil && !ns.pruned.Load() {
		return ns
	}
	ns = c.pool.node(n.Addr)
	if ok && n.Addr != "" && s == c.topo.Current() {
		// A node the table had no state for (no call yet), or a state
		// the pool pruned (by an older snapshot) and created again: the
		// next call finds the pool's state in a table built again.
		c.handles.Store(newNodeHandles(s, c.pool))
	}
	return ns
}
