package router

import (
	"github.com/slotrouter/slotrouter/internal/topoaccess"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// shared are topology's copy-free snapshot accessors (internal/topoaccess),
// set once when the package is initialised. The hot path (pick, nodeFor,
// anyPrimary, chooseRead) reads the snapshot's own shards and nodes
// through them, without allocating; it never changes them, and what the
// package hands out is a copy (Route, Client.Route, Client.Primaries
// return topology.Node values).
var shared = topoaccess.Get[topology.Snapshot, topology.Shard]()

// lookupShard returns s's own shard serving slot (not a copy: read only).
func lookupShard(s *topology.Snapshot, slot slots.Slot) (*topology.Shard, bool) {
	return shared.Lookup(s, slot)
}

// shardIndex returns the index in shardsOf(s) of the shard serving slot.
func shardIndex(s *topology.Snapshot, slot slots.Slot) (int, bool) {
	return shared.Index(s, slot)
}

// shardsOf returns s's own shards (not a copy: read only).
func shardsOf(s *topology.Snapshot) []topology.Shard {
	return shared.Shards(s)
}
