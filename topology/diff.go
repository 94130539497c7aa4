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
// id (or announced address when the id is unknown).
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
func (c *Changes) Empty() bool {
	return len(c.Moved) == 0 && len(c.Failovers) == 0 && len(c.Added) == 0 &&
		len(c.Removed) == 0 && len(c.HealthChanged) == 0
}

// Diff reports what changed from old to new. A nil snapshot counts as
// empty (no slots, no nodes).
func Diff(old, new *Snapshot) Changes {
	return Changes{} // TODO(part A)
}
