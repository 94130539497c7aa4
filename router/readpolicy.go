package router

import (
	"math/rand/v2"

	"github.com/slotrouter/slotrouter/topology"
)

// ReadPolicy chooses the node that serves read-only commands. Commands
// that write, and commands the table does not know, always go to the
// slot's primary.
type ReadPolicy uint8

const (
	// ReadPrimary sends every command to the slot's primary (the default).
	ReadPrimary ReadPolicy = iota
	// PreferReplica sends read-only commands to a random online replica of
	// the slot's shard, over a READONLY connection, and falls back to the
	// primary when the shard has none, or when the replicas' circuit
	// breakers are open. Replica reads may be stale.
	PreferReplica
)

// String returns "primary" or "prefer-replica".
func (p ReadPolicy) String() string {
	if p == PreferReplica {
		return "prefer-replica"
	}
	return "primary"
}

// pickReplica returns a random online replica of sh for which ok holds
// (nil ok: any), or nil. It allocates nothing.
func pickReplica(sh *topology.Shard, ok func(*topology.Node) bool) *topology.Node {
	return choseReplica(sh, ok, false)
}

// lastResortReplica returns a random replica of sh that the topology
// reports as loading and for which ok holds, or nil; callers ask it after
// pickReplica (and the primary) found nothing, so it looks at the loading
// replicas only. Redis reports a replica as "loading" in CLUSTER SHARDS
// until the other nodes have heard its replication offset, which can lag
// well behind its first sync (a restarted replica, say); when the primary
// cannot serve a read, such a replica is worth one try: a replica that
// really is loading answers LOADING, which is retried.
func lastResortReplica(sh *topology.Shard, ok func(*topology.Node) bool) *topology.Node {
	return choseReplica(sh, ok, true)
}

// choseReplica returns a random replica of sh, neither failed nor without
// an address, that is loading (loading true) or not (false), and for which
// ok holds.
func choseReplica(sh *topology.Shard, ok func(*topology.Node) bool, loading bool) *topology.Node {
	n := len(sh.Replicas)
	if n == 0 {
		return nil
	}
	start := 0
	if n > 1 {
		start = rand.IntN(n)
	}
	for i := range n {
		r := sh.Replicas[(start+i)%n]
		if r == nil || r.Health == topology.HealthFailed || r.Addr == "" ||
			(r.Health == topology.HealthLoading) != loading {
			continue
		}
		if ok == nil || ok(r) {
			return r
		}
	}
	return nil
}
