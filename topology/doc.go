// Package topology models a Redis Cluster's slot map and keeps it right.
//
// The model is immutable: a Snapshot maps each of the 16384 hash slots to
// the Shard (primary plus replicas) that serves it through a flat table, so
// Lookup is a single array index. New snapshots are built, never edited:
// Reconcile builds one from what several nodes said (Views produced by
// ParseShards, ParseSlots and ParseNodes), ApplyMoved builds one from a
// MOVED redirect, and Diff reports what changed between two.
//
// Reconciliation follows the cluster's own rule: for every slot the claim
// of the primary with the highest config epoch wins. Every slot entry
// carries the epoch it was decided with and a marker when a MOVED redirect
// fixed it, so a refresh built from older data never rolls the map back.
//
// Nothing in this part of the package performs I/O; parsers decode
// rueidis.RedisMessage values and text, and return errors wrapping
// ErrMalformedReply for anything they cannot make sense of.
package topology
