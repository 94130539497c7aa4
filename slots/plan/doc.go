// Package plan plans Redis Cluster slot moves and replica placement. It is
// pure: no I/O, JSON in and out, deterministic (the same input gives the
// same plan, byte for byte). People and executors read the plans it
// writes; Validate checks a plan before anything acts on it.
//
// # What it plans
//
//   - Rebalance: every primary ends within one slot of its
//     weight-proportional quota (Targets), with the fewest slots moved,
//     sum max(0, current - target); weight 0 drains a node. The leftover
//     slots of the rounding stay with nodes that already hold them, which
//     is what makes the minimum reachable (redis-cli hands them to
//     receivers in list order and moves more). Options.Threshold skips
//     the plan when every node is within a fraction of its target.
//   - AddNodes and RemoveNodes: add empty primaries, or drain primaries and
//     rebalance the rest, in one plan where each slot moves at most once.
//   - Reshard: exactly N slots from given sources to a target,
//     proportionally, never fewer than asked.
//   - RebalanceLoad: balance per-slot loads (key counts, bytes, ops) within
//     a tolerance instead of slot counts, reaching it whenever a bounded
//     exhaustive search can; hot slots are never split, blocks at range
//     ends move rather than scattered slots, and nothing moves when every
//     node is already within the tolerance.
//   - Place, ScoreLayout, Repair: choose primaries and replicas by host and
//     zone (anti-affinity), score a placement with an explanation per
//     violation, and propose few CLUSTER REPLICATE changes that fix one.
//   - Check: analyse what nodes report (CLUSTER NODES facts, gathered by
//     the caller) for open slots, uncovered slots, several owners,
//     disagreeing views, failed nodes and anti-affinity violations.
//
// Which slots move is chosen to keep slot ranges few: donors give from the
// ends of their ranges (a donor never gains a range), and receivers take
// slots bordering what they own whenever a donor borders them, otherwise
// one block per donor (see Rebalance for the exact guarantee).
//
// # Size and cancellation
//
// Rebalance, AddNodes, RemoveNodes, Reshard, Check and Validate take time
// and memory about linear in the primaries (BenchmarkScale measures 1,000
// to 10,000). RebalanceLoad's local search, and Place and Repair, grow
// faster: they are meant for hundreds of nodes. Every planner has a
// variant taking a context (RebalanceContext, AddNodesContext,
// RemoveNodesContext, ReshardContext, RebalanceLoadContext, PlaceContext,
// RepairContext, Plan.ValidateContext) that looks at it between steps and
// returns its error soon after it ends.
//
// # Layout format (input)
//
//	{
//	  "version": 1,
//	  "nodes": [
//	    {"id": "n1", "addr": "10.0.0.1:7000", "host": "rack1-a", "zone": "az1",
//	     "role": "primary", "weight": 1, "slots": ["0-5460"]},
//	    {"id": "n2", "addr": "10.0.0.2:7000", "slots": ["5461-10922"]},
//	    {"id": "n3", "addr": "10.0.0.3:7000", "slots": ["10923-16383"], "weight": 0},
//	    {"id": "r1", "addr": "10.0.0.2:7001", "role": "replica", "primary": "n1"}
//	  ],
//	  "loads": {"0-16383": 1, "42": 50000}
//	}
//
// role is "primary" (default) or "replica"; weight defaults to 1 (0 drains
// the node); host defaults to the host part of addr; slots is an array of
// "N" / "N-M" strings (numbers and one space/comma separated string are
// accepted too). loads, for RebalanceLoad only, maps a slot or range to
// the load of each slot in it (slots not named have load 0). Unknown
// fields are rejected.
//
// # Plan format (output), version 2
//
//	{
//	  "version": 2,
//	  "kind": "rebalance",
//	  "before": {"n1": ["0-5460"], "n2": ["5461-10922"], "n4": []},
//	  "targets": {"n1": 4096, "n2": 4096, "n4": 4096},
//	  "moves": [
//	    {"source": "n1", "target": "n4", "ranges": ["4096-5460"], "slots": 1365}
//	  ],
//	  "batches": [[0, 2], [1]],
//	  "final": {"n1": ["0-4095"], …},
//	  "summary": {"slots_moved": 4096, "moves": 3, "batches": 2,
//	              "ranges_before": 3, "ranges_after": 5, "max_ranges_after": 2},
//	  "notes": ["…"]
//	}
//
// The fields:
//
//   - kind: rebalance, add-nodes, remove-nodes, reshard or rebalance-load.
//   - before: every primary's slots when the plan was made (nodes without
//     slots listed with []). An executor must refuse a plan whose before
//     does not match the cluster.
//   - moves: one entry per (source, target) pair; ranges ascending and
//     disjoint; slots is their size. No slot appears in two moves.
//   - batches: indexes into moves. Moves of one batch have pairwise
//     disjoint nodes and can run in parallel; batches run in order. There
//     are as few batches as the busiest node has moves.
//   - final: every primary's slots once all batches are done.
//     Plan.AfterBatch computes the layout after any batch from before and
//     the moves.
//   - summary and targets are informational; summary.slots_moved is
//     checked. summary.load (rebalance-load) gives fair share and load
//     before/after per node.
//
// The document's size is linear in nodes + moves: planning 16384 slots
// over 10,000 primaries writes one to two megabytes (when one node gives
// to all the others, version 1 wrote 32 MB for 1,000 primaries and 295 MB
// for 3,000: it grew with their square).
//
// Version 1 differed in one field: instead of "final" it had "after", an
// array with the layout of every primary after each batch (after[i]: once
// batches 0..i are done). Its size grew with batches × nodes (one node
// giving to 10,000 others makes 10,000 batches), so version 2 keeps the
// last layout only. ParsePlan still reads version 1, checks every one of
// its layouts, and returns the plan in version 2 form; planners write
// version 2 only, and readers that know only version 1 refuse it by its
// version number.
//
// ParsePlan reads a plan and Validate checks everything an executor relies
// on; their errors wrap ErrInvalidPlan and say what is wrong.
//
// # Scores
//
// A placement's score is the sum of its violations' weights:
// WeightReplicaSameHost (10000) per replica on its primary's host,
// WeightHostMajority / WeightZoneMajority (1000) per host or zone holding a
// majority of primaries, one per replica in a group of two or more replicas
// of one shard sharing a host (redis-cli's measure), and WeightMutualPair
// (1) per pair of shards whose copies all lie on the same two hosts with one
// primary on each (rings avoid this).
package plan
