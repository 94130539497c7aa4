package topology

import "github.com/slotrouter/slotrouter/slots"

// Source names the command a View was parsed from.
type Source uint8

const (
	// SourceUnknown is a View built by hand.
	SourceUnknown Source = iota
	// SourceShards is CLUSTER SHARDS.
	SourceShards
	// SourceSlots is CLUSTER SLOTS.
	SourceSlots
	// SourceNodes is CLUSTER NODES.
	SourceNodes
)

// String returns the command name.
func (s Source) String() string {
	switch s {
	case SourceShards:
		return "CLUSTER SHARDS"
	case SourceSlots:
		return "CLUSTER SLOTS"
	case SourceNodes:
		return "CLUSTER NODES"
	}
	return "unknown"
}

// View is what one node said about the cluster: the shards it believes in,
// with slot ranges, primaries and replicas. Views are the input of
// Reconcile. A View owns its Nodes; Reconcile copies what it keeps.
type View struct {
	// Source is the command the view was parsed from.
	Source Source
	// Answered is the "host:port" of the node that gave the reply.
	Answered string
	// MyID is the id of the node that answered, when known (CLUSTER NODES
	// "myself", or set by the loader).
	MyID string
	// Shards are the shards the node reported, in reply order. Shards with
	// a primary but no slots are included (empty primaries).
	Shards []Shard
	// Skipped counts nodes left out because their endpoint was unknown
	// ("?", or noaddr/handshake in CLUSTER NODES).
	Skipped int
	// Facts are the raw per-node facts of a CLUSTER NODES reply (nil for
	// other sources), in reply order, including skipped nodes.
	Facts []NodeFacts
}

// Nodes returns every node of the view (primaries first within each shard).
func (v *View) Nodes() []*Node {
	var out []*Node
	for i := range v.Shards {
		if p := v.Shards[i].Primary; p != nil {
			out = append(out, p)
		}
		out = append(out, v.Shards[i].Replicas...)
	}
	return out
}

// Covered returns the set of slots the view assigns to some primary.
func (v *View) Covered() slots.Set {
	var s slots.Set
	for i := range v.Shards {
		for _, r := range v.Shards[i].Ranges {
			s.AddRange(r)
		}
	}
	return s
}

// HasEpochs reports whether every primary that owns slots in the view has a
// known config epoch.
func (v *View) HasEpochs() bool {
	any := false
	for i := range v.Shards {
		sh := &v.Shards[i]
		if sh.Primary == nil || len(sh.Ranges) == 0 {
			continue
		}
		if !sh.Primary.EpochKnown {
			return false
		}
		any = true
	}
	return any
}

// AttachEpochs copies config epochs (and failure flags) from nodes, a view
// parsed from CLUSTER NODES given by the same node, onto v's nodes, matched
// by node id. It reports how many nodes got an epoch. This lets a loader
// pipeline CLUSTER SHARDS (or SLOTS) with CLUSTER NODES and reconcile by
// epoch.
func (v *View) AttachEpochs(nodes *View) int {
	if nodes == nil {
		return 0
	}
	type info struct {
		epoch  uint64
		failed bool
	}
	byID := make(map[string]info, len(nodes.Facts))
	for i := range nodes.Facts {
		f := &nodes.Facts[i]
		if f.ID == "" {
			continue
		}
		byID[f.ID] = info{epoch: f.ConfigEpoch, failed: f.Fail}
	}
	for _, n := range nodes.Nodes() {
		if _, ok := byID[n.ID]; !ok && n.ID != "" && n.EpochKnown {
			byID[n.ID] = info{epoch: n.ConfigEpoch, failed: n.Health == HealthFailed}
		}
	}
	if v.MyID == "" {
		v.MyID = nodes.MyID
	}
	count := 0
	for _, n := range v.Nodes() {
		in, ok := byID[n.ID]
		if !ok || n.ID == "" {
			continue
		}
		n.ConfigEpoch = in.epoch
		n.EpochKnown = true
		if in.failed {
			n.Health = HealthFailed
		}
		count++
	}
	return count
}

// SlotMigration is one open slot marker of CLUSTER NODES: "[slot->-id]"
// (migrating to NodeID) or "[slot-<-id]" (importing from NodeID).
type SlotMigration struct {
	Slot   slots.Slot
	NodeID string
}

// NodeFacts are the raw facts of one CLUSTER NODES line, for tools that
// check a cluster (slots/plan check) as well as for reconciliation.
type NodeFacts struct {
	// Node is the node as it would appear in a shard (Addr/Announced may be
	// empty when the address is unknown).
	Node
	// Flags are the flags exactly as listed ("myself", "master", "fail?"...).
	Flags []string
	// Myself, Primary, Replica, PFail, Fail, Handshake, NoAddr and
	// NoFailover mirror the flags.
	Myself, Primary, Replica, PFail, Fail, Handshake, NoAddr, NoFailover bool
	// BusPort is the cluster bus port after '@' (0 when absent).
	BusPort int
	// Aux are extra "key=value" address fields (7.2+: shard-id, tls-port).
	Aux map[string]string
	// PingSent and PongRecv are the millisecond timestamps of the line.
	PingSent, PongRecv int64
	// LinkState is "connected" or "disconnected".
	LinkState string
	// Ranges are the slots the node serves (primaries only).
	Ranges []slots.Range
	// Migrating are "[slot->-id]" markers; Importing are "[slot-<-id]".
	Migrating, Importing []SlotMigration
	// Line is the original line, for error messages and tools.
	Line string
}
