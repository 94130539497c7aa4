package topology

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/slotrouter/slotrouter/slots"
)

// MovedKind says how ApplyMoved interpreted a redirect.
type MovedKind uint8

const (
	// MovedInvalid: the slot or address was invalid; nothing changed (see
	// MovedResult.Err).
	MovedInvalid MovedKind = iota
	// MovedSameOwner: the target already serves the slot; no new snapshot.
	MovedSameOwner
	// MovedToPrimary: the slot moved to another known primary.
	MovedToPrimary
	// MovedFailover: the target was a replica of the slot's owner; it was
	// promoted and the old primary demoted, with all the shard's slots.
	MovedFailover
	// MovedToReplica: the target was a replica of another shard; it was
	// made the primary of a new shard holding the slot. Refresh needed.
	MovedToReplica
	// MovedToUnknown: the target was not known; a primary was added for it
	// holding the slot. Refresh needed.
	MovedToUnknown
)

// String names the kind.
func (k MovedKind) String() string {
	switch k {
	case MovedSameOwner:
		return "same-owner"
	case MovedToPrimary:
		return "to-primary"
	case MovedFailover:
		return "failover"
	case MovedToReplica:
		return "to-replica"
	case MovedToUnknown:
		return "to-unknown"
	}
	return "invalid"
}

// MovedResult reports what ApplyMoved did.
type MovedResult struct {
	// Kind says how the redirect was interpreted.
	Kind MovedKind
	// From is a copy of the slot's previous primary (nil when it was
	// uncovered).
	From *Node
	// To is a copy of the slot's new primary, as in the returned snapshot.
	To *Node
	// NeedRefresh reports that the redirect revealed something the snapshot
	// cannot know (an unknown node) and a full refresh should follow.
	NeedRefresh bool
	// Err explains a MovedInvalid result.
	Err error
}

// ApplyMoved returns a snapshot in which slot is served by the node at addr
// (a MOVED redirect's address, announced or dialable form). It never
// modifies s; when nothing changes (same owner, invalid input) it returns s
// itself. The three cases:
//
//   - addr is a known primary: the slot moves to it (MovedToPrimary).
//   - addr is a replica of the slot's owner: a failover happened. The
//     replica is promoted and the old primary demoted to its replica; the
//     whole shard's slots go with it (MovedFailover).
//   - addr is unknown (or a replica of another shard): it becomes the
//     primary of a new shard holding the slot, and NeedRefresh is set.
//
// Changed slots are marked fixed, with the highest epoch known for them,
// so a refresh built from older data cannot roll them back (see
// Reconcile). The new snapshot's version is s.Version()+1.
func (s *Snapshot) ApplyMoved(slot slots.Slot, addr string) (*Snapshot, MovedResult) {
	if int(slot) >= slots.Count {
		return s, MovedResult{Kind: MovedInvalid, Err: fmt.Errorf("%w: MOVED slot %d out of range", ErrMalformedReply, slot)}
	}
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || host == "" || perr != nil || port <= 0 || port > 65535 {
		return s, MovedResult{Kind: MovedInvalid, Err: fmt.Errorf("%w: MOVED address %q is not host:port", ErrMalformedReply, addr)}
	}
	from, _ := s.primary(slot)
	target, known := s.nodeByAddr(addr)
	if known && from != nil && target == from {
		from = copyNode(from)
		return s, MovedResult{Kind: MovedSameOwner, From: from, To: from}
	}
	b, fresh := s.clone()
	cur := -1
	if s.owner[slot] != noShard {
		cur = int(s.owner[slot])
	}
	res := MovedResult{From: from}
	var toNode *Node
	switch {
	case known && target.Role == RolePrimary:
		toNode = fresh[target]
		b.owner[slot] = uint16(s.shardIdx[target])
		b.fix(slot, toNode)
		res.Kind = MovedToPrimary
	case known && cur >= 0 && s.shardIdx[target] == cur:
		sh := &b.shards[cur]
		old := sh.Primary
		toNode = fresh[target]
		old.Role = RoleReplica
		sh.Primary = toNode
		sh.Replicas = append(withoutNode(sh.Replicas, toNode), old)
		for x := range b.owner {
			if int(b.owner[x]) == cur {
				b.fix(slots.Slot(x), toNode)
			}
		}
		res.Kind = MovedFailover
	case known:
		// A replica of another shard: take it out and let it serve the slot.
		r := s.shardIdx[target]
		sh := &b.shards[r]
		toNode = fresh[target]
		sh.Replicas = withoutNode(sh.Replicas, toNode)
		toNode.Role = RolePrimary
		toNode.PrimaryID = ""
		t := b.addShard("", toNode, nil)
		b.owner[slot] = uint16(t)
		b.fix(slot, toNode)
		res.Kind, res.NeedRefresh = MovedToReplica, true
	default:
		toNode = &Node{Endpoint: host, IP: host, Port: port, Role: RolePrimary, Health: HealthOnline, Announced: addr}
		if ip := net.ParseIP(host); ip == nil {
			toNode.IP, toNode.Hostname = "", host
		}
		if len(b.shards) >= maxShards {
			return s, MovedResult{Kind: MovedInvalid, From: copyNode(from), Err: fmt.Errorf("%w: too many shards", ErrInvalidShards)}
		}
		t := b.addShard("", toNode, nil)
		b.owner[slot] = uint16(t)
		b.fix(slot, toNode)
		res.Kind, res.NeedRefresh = MovedToUnknown, true
	}
	ns := b.finish(s.version + 1)
	res.To = copyNode(toNode)
	if res.From != nil {
		if n, ok := ns.nodeByID(res.From.ID); ok && res.From.ID != "" {
			res.From = n
		}
		res.From = copyNode(res.From)
	}
	return ns, res
}

// withoutNode removes n from reps in place (clone's replica slices are the
// builder's own).
func withoutNode(reps []*Node, n *Node) []*Node {
	return slices.DeleteFunc(reps, func(r *Node) bool { return r == n })
}

// clone copies s into a builder with fresh nodes (same shard order and
// slot table), and returns the map from s's nodes to their copies.
func (s *Snapshot) clone() (*builder, map[*Node]*Node) {
	b := newBuilderFrom(&s.owner, s.mapAddr)
	fresh := make(map[*Node]*Node, len(s.nodes))
	cp := func(n *Node) *Node {
		c := copyNode(n)
		fresh[n] = c
		return c
	}
	b.shards = make([]Shard, len(s.shards), len(s.shards)+1)
	for i := range s.shards {
		sh := &s.shards[i]
		reps := make([]*Node, len(sh.Replicas))
		for j, r := range sh.Replicas {
			reps[j] = cp(r)
		}
		b.shards[i] = Shard{ID: sh.ID, Primary: cp(sh.Primary), Replicas: reps}
	}
	b.epoch.t = s.epoch
	b.known = s.known
	b.fixed = s.fixed
	return b, fresh
}

// fix marks slot as set by a MOVED redirect to owner, keeping the highest
// epoch known for it.
func (b *builder) fix(slot slots.Slot, owner *Node) {
	b.fixed.Add(slot)
	if owner.EpochKnown && (!b.known.Has(slot) || owner.ConfigEpoch > b.epoch.t.get(slot)) {
		b.epoch.set(slot, owner.ConfigEpoch)
		b.known.Add(slot)
	}
}
