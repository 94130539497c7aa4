// Package topoaccess hands package router the copy-free accessors of
// package topology's snapshots.
//
// A topology.Snapshot is shared by every goroutine of a client, so its
// exported accessors return copies (see topology.Shard). The router's hot
// path cannot afford a copy per command: it reads the snapshot's own
// shards through the functions registered here, which only packages of
// this module can import. What they return belongs to the snapshot: read
// it, never change it, never hand it out (exported results are copies).
//
// This package cannot name topology's types (topology imports it), so the
// functions are registered generically: topology calls Set once from its
// init, and an importer of topology (whose init has run by then) calls Get
// with the same type arguments.
package topoaccess

import "github.com/slotrouter/slotrouter/slots"

// Funcs are the copy-free accessors of a snapshot type Snap whose shards
// are of type Shard.
type Funcs[Snap, Shard any] struct {
	// Lookup returns the snapshot's own shard serving slot, or false when
	// the slot is uncovered or out of range. It allocates nothing.
	Lookup func(s *Snap, slot slots.Slot) (*Shard, bool)
	// Shards returns the snapshot's own shards, in the order of the
	// exported Shards. It allocates nothing.
	Shards func(s *Snap) []Shard
	// Index returns the index in Shards of the shard serving slot, or
	// false when the slot is uncovered or out of range: Lookup without
	// reading the shard.
	Index func(s *Snap, slot slots.Slot) (int, bool)
}

// registered is set once, by Set during package topology's init, and only
// read afterwards.
var registered any

// Set registers f. Package topology calls it once, from init; a second
// call, or an incomplete f, panics (a programming error).
func Set[Snap, Shard any](f Funcs[Snap, Shard]) {
	if registered != nil {
		panic("topoaccess: Set called twice")
	}
	if f.Lookup == nil || f.Shards == nil || f.Index == nil {
		panic("topoaccess: incomplete Funcs")
	}
	registered = f
}

// Get returns the Funcs registered for Snap and Shard. It panics when
// none were (a programming error: the caller must import the package that
// registers them, so that its init runs first).
func Get[Snap, Shard any]() Funcs[Snap, Shard] {
	f, ok := registered.(Funcs[Snap, Shard])
	if !ok {
		panic("topoaccess: no Funcs registered for these types")
	}
	return f
}
