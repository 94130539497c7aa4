package router

import (
	"math/rand/v2"
	"strconv"

	"github.com/slotrouter/slotrouter/topology"
)

// ReadPolicy chooses the node that serves read-only commands (the
// server's "readonly" flag). Commands that write, commands the table does
// not know, and MULTI blocks always go to the slot's primary. Replicas are
// read over connections in READONLY mode; what they return may be stale.
type ReadPolicy uint8

const (
	// ReadPrimary sends every command to the slot's primary, and never
	// reads a replica, whatever the primary's state (the default).
	ReadPrimary ReadPolicy = iota
	// PreferReplica sends read-only commands to a random online replica of
	// the slot's shard (within Options.MaxReplicaLag), and to the primary
	// when none is usable (none, breakers open, lagging); a replica the
	// topology reports as loading is the last resort when the primary's
	// breaker is open.
	PreferReplica
	// PrimaryPreferred sends read-only commands to the primary, and to a
	// replica of the same shard only while the primary is unreachable (its
	// breaker is open, or a connection to it just failed): the "fail open"
	// read, stale by design. Each such read is reported to an
	// EventObserver (EventFallbackRead).
	PrimaryPreferred
	// Nearest sends read-only commands to the node of the shard (primary
	// or online replica within Options.MaxReplicaLag) with the lowest
	// recent latency of real commands (a moving average per node), chosen
	// by the power of two random choices so that the load still spreads.
	Nearest
)

// String returns the policy's name: "primary", "prefer-replica",
// "primary-preferred" or "nearest".
func (p ReadPolicy) String() string {
	switch p {
	case ReadPrimary:
		return "primary"
	case PreferReplica:
		return "prefer-replica"
	case PrimaryPreferred:
		return "primary-preferred"
	case Nearest:
		return "nearest"
	}
	return "ReadPolicy(" + strconv.Itoa(int(p)) + ")"
}

func (p ReadPolicy) valid() bool { return p <= Nearest }

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

// lagging reports whether replica r of sh lags its primary by more than
// maxLag bytes of replication offset (0: no cap). Unknown offsets do not
// count as lag.
func lagging(sh *topology.Shard, r *topology.Node, maxLag int64) bool {
	if maxLag <= 0 || sh.Primary == nil || sh.Primary.ReplicationOffset <= 0 || r.ReplicationOffset <= 0 {
		return false
	}
	return sh.Primary.ReplicationOffset-r.ReplicationOffset > maxLag
}

// readChoice is where a read-only command of a keyed slot goes.
type readChoice struct {
	node     *topology.Node
	replica  bool // node is a replica (a READONLY connection)
	fallback bool // a replica read because the primary is unreachable
	usable   bool // usable(node) held (for pick: its breaker pass is taken)
}

// chooseRead picks the node for a read-only command of shard sh under
// policy. usable says whether a node may be tried now (its breaker lets
// the call through — taking a half-open probe pass —, it did not just
// fail); it is asked only of the node returned (or of nodes found not
// usable). peek says the same without taking anything; Nearest compares
// its two candidates with it. ewma gives a node's recent latency
// (Nearest). It returns the primary when nothing else fits (usable
// false); the caller then asks the primary's breaker.
func chooseRead(sh *topology.Shard, policy ReadPolicy, maxLag int64, usable, peek func(*topology.Node) bool, ewma func(*topology.Node) int64) readChoice {
	p := sh.Primary
	fresh := func(n *topology.Node) bool { return !lagging(sh, n, maxLag) && usable(n) }
	switch policy {
	case PreferReplica:
		if r := pickReplica(sh, fresh); r != nil {
			return readChoice{node: r, replica: true, usable: true}
		}
		if usable(p) {
			return readChoice{node: p, usable: true}
		}
		if r := lastResortReplica(sh, usable); r != nil {
			return readChoice{node: r, replica: true, fallback: true, usable: true}
		}
	case PrimaryPreferred:
		if usable(p) {
			return readChoice{node: p, usable: true}
		}
		if r := pickReplica(sh, usable); r != nil {
			return readChoice{node: r, replica: true, fallback: true, usable: true}
		}
		if r := lastResortReplica(sh, usable); r != nil {
			return readChoice{node: r, replica: true, fallback: true, usable: true}
		}
	case Nearest:
		candidate := func(n *topology.Node) bool { return !lagging(sh, n, maxLag) && peek(n) }
		a, b := nearestCandidate(sh, candidate), nearestCandidate(sh, candidate)
		if a != nil && b != nil && ewma(b) < ewma(a) {
			a, b = b, a
		}
		for _, n := range [2]*topology.Node{a, b} {
			if n != nil && usable(n) {
				return readChoice{node: n, replica: n != p, usable: true}
			}
		}
	}
	return readChoice{node: p}
}

// nearestCandidate returns a random node of sh (the primary or an online
// replica) for which ok holds, or nil.
func nearestCandidate(sh *topology.Shard, ok func(*topology.Node) bool) *topology.Node {
	n := len(sh.Replicas) + 1
	start := rand.IntN(n)
	for i := range n {
		j := (start + i) % n
		var c *topology.Node
		if j == 0 {
			c = sh.Primary
		} else {
			c = sh.Replicas[j-1]
			if c == nil || c.Health == topology.HealthFailed || c.Health == topology.HealthLoading || c.Addr == "" {
				continue
			}
		}
		if c != nil && ok(c) {
			return c
		}
	}
	return nil
}
