package topology

import "github.com/slotrouter/slotrouter/slots"

// SlotMove is a run of slots that changed owner between two snapshots.
type SlotMove struct {
	// Range is the run of slots.
	Range slots.Range
	// From is the old primary (nil when the slots were uncovered).
	From *Node
	// To is the new primary (nil when the slots became uncovered).
	To *Node
}

// PrimaryChange is a shard whose primary changed (a failover): the new
// primary was a replica of the old primary in the old snapshot.
type PrimaryChange struct {
	// Old is the old primary (from the old snapshot).
	Old *Node
	// New is the new primary (from the new snapshot).
	New *Node
}

// Changes is what Diff found between two snapshots. Nodes are identified by
// id (or announced address when the id is unknown). The nodes are copies,
// the caller's own: changing them changes no snapshot.
type Changes struct {
	// Moved are the runs of slots whose primary changed (failovers included).
	Moved []SlotMove
	// Failovers are replicas promoted in place of their primary.
	Failovers []PrimaryChange
	// Added are nodes in the new snapshot only.
	Added []*Node
	// Removed are nodes in the old snapshot only.
	Removed []*Node
	// HealthChanged are nodes (from the new snapshot) whose health changed.
	HealthChanged []*Node
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Moved) == 0 && len(c.Failovers) == 0 && len(c.Added) == 0 &&
		len(c.Removed) == 0 && len(c.HealthChanged) == 0
}

// Diff reports what changed from old to new. A nil snapshot counts as
// empty (no slots, no nodes). Moved slots come as maximal runs with the
// same old and new primary, in slot order; node lists follow the order of
// the snapshot they come from. The nodes are copies (one per node: the same
// node in two places is the same copy).
func Diff(old, new *Snapshot) Changes {
	c := diff(old, new)
	fresh := make(map[*Node]*Node)
	cp := func(n *Node) *Node {
		if n == nil {
			return nil
		}
		if f, ok := fresh[n]; ok {
			return f
		}
		f := copyNode(n)
		fresh[n] = f
		return f
	}
	for i := range c.Moved {
		c.Moved[i].From, c.Moved[i].To = cp(c.Moved[i].From), cp(c.Moved[i].To)
	}
	for i := range c.Failovers {
		c.Failovers[i].Old, c.Failovers[i].New = cp(c.Failovers[i].Old), cp(c.Failovers[i].New)
	}
	for _, list := range [][]*Node{c.Added, c.Removed, c.HealthChanged} {
		for i := range list {
			list[i] = cp(list[i])
		}
	}
	return c
}

// diff is Diff with the snapshots' own nodes.
func diff(old, new *Snapshot) Changes {
	var c Changes
	key := func(s *Snapshot, slot slots.Slot) *Node {
		if s == nil {
			return nil
		}
		p, _ := s.primary(slot)
		return p
	}
	same := func(a, b *Node) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Key() == b.Key()
	}
	for x := 0; x < slots.Count; {
		from, to := key(old, slots.Slot(x)), key(new, slots.Slot(x))
		y := x
		for y+1 < slots.Count && same(key(old, slots.Slot(y+1)), from) && same(key(new, slots.Slot(y+1)), to) {
			y++
		}
		if !same(from, to) {
			c.Moved = append(c.Moved, SlotMove{Range: slots.Range{Start: slots.Slot(x), End: slots.Slot(y)}, From: from, To: to})
		}
		x = y + 1
	}
	oldNodes, newNodes := map[string]*Node{}, map[string]*Node{}
	if old != nil {
		for _, n := range old.nodes {
			oldNodes[n.Key()] = n
		}
	}
	if new != nil {
		for _, n := range new.nodes {
			newNodes[n.Key()] = n
			o, ok := oldNodes[n.Key()]
			if !ok {
				c.Added = append(c.Added, n)
				continue
			}
			if o.Health != n.Health {
				c.HealthChanged = append(c.HealthChanged, n)
			}
		}
	}
	if old != nil {
		for _, n := range old.nodes {
			if _, ok := newNodes[n.Key()]; !ok {
				c.Removed = append(c.Removed, n)
			}
		}
	}
	if old == nil || new == nil {
		return c
	}
	for i := range new.shards {
		p := new.shards[i].Primary
		o, ok := oldNodes[p.Key()]
		if !ok || o.Role != RoleReplica {
			continue
		}
		osh, ok := old.shardOf(o)
		if !ok {
			continue
		}
		oldPrimary := osh.Primary
		if np, ok := newNodes[oldPrimary.Key()]; ok {
			if nsh, ok := new.shardOf(np); ok && nsh.Primary == np && len(nsh.Ranges) > 0 {
				continue // the old primary still serves slots: not a failover
			}
		}
		c.Failovers = append(c.Failovers, PrimaryChange{Old: oldPrimary, New: p})
	}
	return c
}
