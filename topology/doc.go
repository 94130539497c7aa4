// Package topology models a Redis Cluster's slot map and keeps it right.
//
// The model is immutable: a Snapshot maps each of the 16384 hash slots to
// the Shard (primary plus replicas) that serves it through a flat table, so
// finding a slot's shard is a single array index. New snapshots are built,
// never edited: Reconcile builds one from what several nodes said (Views
// produced by ParseShards, ParseSlots and ParseNodes), ApplyMoved builds
// one from a MOVED redirect, and Diff reports what changed between two.
//
// Immutability holds, it is not a convention: everything a Snapshot hands
// out is the caller's own copy, or a read-only NodeRef. Node holds only
// strings and numbers, so
// accessors return Node values (Nodes, NodeByAddr, NodeByID, Primary);
// Lookup, Shards and ShardOf return Shard values whose Primary, Replicas
// and Ranges are fresh copies; Diff and ApplyMoved report copies of nodes.
// Changing them changes no snapshot. The copies cost allocations (Lookup
// copies one shard); the router's hot path reads the snapshot's own shards
// through internal accessors instead, without allocating or copying, and
// hands out a NodeRef (router.Route): an 8-byte reference through which
// the node can be read, or copied with NodeRef.Node, never changed.
//
// Reconciliation follows the cluster's own rule: for every slot the claim
// of the primary with the highest config epoch wins. Every slot entry
// carries the epoch it was decided with and a marker when a MOVED redirect
// fixed it, so a refresh built from older data never rolls the map back.
//
// Nothing in the model half of the package performs I/O; parsers decode
// rueidis.RedisMessage values and text, and return errors wrapping
// ErrMalformedReply (or ErrErrorReply) for anything they cannot make sense
// of, and never panic.
//
// The I/O half keeps the map current. The Refresher (New) holds the current
// Snapshot; Current is one atomic load. A Loader asks min(3, n) random
// known nodes (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7, pipelined
// with CLUSTER NODES for config epochs; the seeds, resolved again, when no
// known node answers) and Reconcile merges their views. The nodes are asked
// concurrently, and a fetch returns AnswerGrace after the first usable
// answer: a silent or frozen node does not hold a refresh, or New, for
// Options.NodeTimeout when another node answers. Trigger coalesces
// requests and spaces fetches (Options.MinInterval, with jitter); a
// periodic refresh skips the rebuild when the digests of CLUSTER NODES are
// unchanged; failures back off exponentially. Options.MapAddr maps every
// announced address the package sees (replies, and MOVED/ASK targets via
// Refresher.MapAddr) to the address to dial.
package topology
