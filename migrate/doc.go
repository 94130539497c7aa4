// Package migrate executes slot-move plans (slots/plan) against a live
// Redis Cluster: it moves the slots and their keys, in the plan's batches,
// with disjoint (source, target) pairs of a batch running in parallel, and
// it can be stopped or killed at any point and run again with the same plan
// to finish.
//
// # Steps of one slot
//
// For each slot of a move source -> target, the key-by-key path is:
//
//  1. CLUSTER SETSLOT slot IMPORTING source, on the target;
//  2. CLUSTER SETSLOT slot MIGRATING target, on the source;
//  3. CLUSTER COUNTKEYSINSLOT slot, on the source; when it is not 0,
//     CLUSTER GETKEYSINSLOT slot N and MIGRATE host port "" 0 timeout
//     [REPLACE] [AUTH…] KEYS k1…kN until the slot is empty;
//  4. CLUSTER SETSLOT slot NODE target on the target, then on the source,
//     then on every other primary.
//
// Slots are handled in rounds of Options.SlotsPerRound: the SETSLOT and
// COUNTKEYSINSLOT commands of a round are pipelined to each node, so an
// empty slot costs no round trip of its own (redis-cli spends several per
// slot). Only the slots that hold keys get GETKEYSINSLOT/MIGRATE.
//
// Empty slots are not given a shorter path than IMPORTING + MIGRATING +
// COUNTKEYSINSLOT: assigning a slot that looks empty straight away (SETSLOT
// NODE with no MIGRATING first) races with a client writing a key to the
// source in between; the source then refuses SETSLOT NODE ("still hold
// keys") after the target already claimed the slot, or drops the key when
// it learns the new owner by gossip. With MIGRATING set on the source, a
// key that does not exist there is created on the target (ASK), so a count
// of 0 read after MIGRATING stays 0. The cost is nil: the three commands are
// pipelined with those of the other slots of the round.
//
// # Why SETSLOT NODE goes to the target first
//
// Once the target has SETSLOT NODE for itself it owns the slot with a
// bumped config epoch, and the cluster converges on it whatever happens
// next. If the source were told first and the run stopped before the
// target heard it, the source would no longer serve the slot while the
// target would still only be importing it: the slot would have no owner
// (redis/redis#7116). The other primaries would learn the new owner by
// gossip; they are told to make it quick.
//
// Because telling the other primaries is only a speed-up, a failure there
// does not fail the run: when one of them is frozen, unreachable or
// refuses, after the step's usual attempts (each bounded by
// Options.CommandTimeout), Apply emits EventOthersFailed naming the node,
// skips that node for the rest of the run (so a frozen node costs its
// timeouts once), lists it in Result.Untold, and goes on; the node learns
// the new owners from the target's bumped config epoch by gossip once it
// is back. Failures on the target or the source still stop the run.
// For comparison, redis-cli --cluster reshard (7.0) tells the target,
// then the source, then the other masters; it stops the reshard on any
// error reply of another master except "only with masters", and waits for
// a frozen master's reply with no timeout of its own (it hangs). A source
// that gave away its last slot may already be a replica
// (cluster-allow-replica-migration, or an operator's CLUSTER REPLICATE)
// and refuses SETSLOT with "only with masters": that is accepted.
//
// # Why the source is told last
//
// The other primaries are told before the source, so that none of them
// still names the source as the owner when the source stops claiming the
// slot. A primary that hears the owner it knows no longer claim a slot
// marks the slot "owner not claiming", and on the versions whose SETSLOT
// NODE does not clear that mark (7.0.13 to 7.0.15 and 7.2.0 to 7.2.3,
// fixed by redis/redis#12564 in 7.2.4; the replicas' side of the same bug
// is what Restart is about) the mark outlives the slot's next move: when
// that primary later becomes the slot's target, a stale message from a
// node that still claims the slot, however old its config epoch, takes
// the slot back from it, and the keys that came with it are deleted
// there. Told in this order, the others already name the target when the
// source stops claiming the slot, so the mark is not made. Until its own
// SETSLOT NODE the source still has the slot migrating: it holds none of
// the slot's keys any more and sends a client asking for one to the
// target (ASK), so the wait costs clients a redirect at most. A frozen
// other primary delays the source's SETSLOT NODE by its timeouts, once
// per run.
//
// Until then the source still claims the slot, which is safe only while
// the target's config epoch is above the source's: a claim with a greater
// epoch takes the slot back, and the keys with it (the same holds for the
// one round trip redis-cli leaves). The importing target is bumped past
// the greatest epoch it knows (and tells every node at once), but a
// source that took slots a moment ago may have a newer one than the
// target has heard of, if that message is late. So the check before
// SETSLOT NODE waits, the slot still importing (which no claim
// overrides), until the target knows an epoch at least as great as the
// source's (EventRetry, bounded by Options.ConflictWait).
//
// A target can still lose a slot this way when the mark was made earlier
// (by another tool, or by gossip around a failover): its own CLUSTER NODES
// no longer lists the slot while every other primary says it owns it.
// Apply checks each target's own view at the end and tells it again
// (SETSLOT NODE, EventReclaimed, Result.Reclaimed); a resumed run does
// the same for such a slot. Keys Redis deleted there cannot be brought
// back.
//
// # Retries and errors
//
// Every step is retried with backoff (package retry) when it fails with a
// transient error: LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, a timeout, a
// connection error (the connection is dialled again). A MIGRATE that times
// out ("IOERR"), typically a big key, is sent again with four times the timeout
// and REPLACE (the target may hold the copy the timed-out MIGRATE wrote;
// the source's key is the live one while the slot is migrating), up to
// Options.MaxMigrateTimeout. A MIGRATE refused with BUSYKEY (the target
// already has the key) stops with ErrBusyKey and the key's name, unless
// Options.Replace. Anything else stops the run with a *StepError naming the
// slot, the move, the step and the slot's state; Result.Open lists the
// plan's slots left importing or migrating. Success is only reported
// after every step succeeded and a final read of the cluster shows every
// slot of the plan at its target, in the target's own view too, and none
// open (ErrNotFinished otherwise).
//
// # Resuming
//
// Apply does not keep a log: it reads the cluster (every node's own
// CLUSTER NODES: which slots it serves, with its config epoch, and its
// importing/migrating markers) and compares it with the plan. A slot's
// owner is the node that claims it with the highest config epoch. The
// plan's Before must match the cluster for every slot the plan does not
// move; a slot the plan moves must be owned by its source (still to move)
// or its target (already moved); open slots must be the plan's own
// (importing on the move's target from its source, migrating on its source
// to its target). Anything else is refused with ErrPlanMismatch and a
// message naming the slots. Then:
//
//   - a slot owned by its target, with no marker left and every primary
//     agreeing, is done;
//   - a slot owned by its target but still migrating on the source, or
//     still claimed by the source, or seen elsewhere at another node, or
//     missing from the target's own view, gets step 4 again (SETSLOT NODE
//     is idempotent);
//   - a slot with no owner that the target imports from the source (the
//     source was told first, by another tool) gets step 4;
//   - a slot owned by its source gets steps 1-4; the SETSLOT commands are
//     idempotent and GETKEYSINSLOT finds whatever keys are left.
//
// So a run killed at any point, even between two MIGRATE batches, finishes
// when the same plan is applied again, and applying a finished plan again
// moves nothing.
//
// # Two runs moving the same slot
//
// Redis Cluster offers no lock and SETSLOT has no compare-and-set: the
// source's MIGRATING is single-valued and the last writer wins (redis-cli
// takes no lock either). Two runs of different plans that move the same
// slot (A -> B and A -> C) would otherwise both drain it, each to its own
// target, and lose keys or leave the nodes disagreeing. Apply guards the
// key-by-key path so that at most one of them completes and no key is
// stranded (ErrConflict for the other):
//
//   - When it starts, a slot of the plan that is open between its source
//     or target and a third node is refused (ErrPlanMismatch and
//     ErrConflict).
//   - Right before opening a round of slots it reads the source's and the
//     target's own CLUSTER NODES line (or takes them from the previous
//     round's read before SETSLOT NODE, made after that round was
//     drained): a source migrating a slot to another node, or a target
//     importing it from another node, is refused with ErrConflict and
//     nothing is sent for the round. The markers of the same move (an
//     interrupted earlier run) are not a conflict: it resumes as before.
//   - After SETSLOT MIGRATING, and at every MIGRATE batch boundary, it
//     reads the source's line again: the slot must still be migrating to
//     our target. If not, another run set MIGRATING after us and owns the
//     move: we stop draining, give the keys our target received for the
//     slot to the node the source now migrates it to (it imports the
//     slot; the source itself would answer ASK for keys it does not hold),
//     or to the slot's owner when nobody migrates it any more, close the
//     slot on our target only (SETSLOT STABLE), and fail with ErrConflict
//     naming the other node. A slot nobody migrates any more whose owner
//     is our target is not a conflict: another run of the same move (the
//     same plan run twice at once) finished it, and this run goes on.
//   - Before SETSLOT NODE it reads every primary (those of the read at
//     the start, less the bystanders that failed a SETSLOT NODE of this
//     run, but always the move's source and target): the
//     slot must still be migrating to our target, and no other primary
//     may be importing it from our source (a run that lost the race and
//     is still giving its keys back). It waits for that (each wait is an
//     EventRetry matching ErrConflict), bounded by the context and
//     Options.ConflictWait (then ErrConflict, the slot left open to our
//     target), and then drains the source once more.
//
// What is left: the checks read state, so a run that sets MIGRATING just
// after the winner's last check (before SETSLOT NODE) still sends keys to
// its own target for a moment; it sees at its next check that the slot
// was assigned and gives those keys to the new owner. That relies on the
// other run being an Apply with these checks that is not killed in that
// window: a redis-cli reshard, an older Apply, or an Apply killed between
// losing and giving back, leaves the keys it moved on its target, with the
// slot importing there (not lost: redis-cli --cluster fix, or a move of
// them, recovers them; Apply refuses to start on such a slot). A primary
// that does not answer the check before SETSLOT NODE (frozen) is not
// seen. The atomic path (CLUSTER MIGRATESLOTS / MIGRATION IMPORT) has none
// of these checks: it is left to the server.
//
// The checks cost, per round of slots: the source's CLUSTER NODES sent in
// the pipeline of SETSLOT MIGRATING (no round trip of its own), one read
// of every primary at once before SETSLOT NODE (one round trip; it also
// serves as the next round's check before opening; the first round reads
// the source and the target at once), and one CLUSTER NODES on the source
// per MIGRATE batch after the first of a slot. Measured with
// BenchmarkApply (1,000 slots, local 4-primary cluster, a 2-core
// machine; 8 alternated runs of the test binaries without and with the
// checks, testdata/bench/conflict-checks-{old,new}.txt): no significant
// difference, empty slots 5,536 → 5,122 slots/s (p=0.23), slots holding
// 100,000 keys 853 → 879 slots/s (p=0.28).
//
// When the context is cancelled (Ctrl-C), Apply stops between steps: a step
// already sent is allowed to finish (it runs under its own timeout), the
// next is not sent, and the error (ErrStopped, and the context's error)
// lists the slots left open.
//
// # Atomic slot migration
//
// Valkey 9 (CLUSTER MIGRATESLOTS, sent to the source) and Redis 8.4
// (CLUSTER MIGRATION IMPORT, sent to the target) move slots atomically on
// the server. With ModeAuto Apply asks both nodes of a pair (INFO server;
// COMMAND INFO CLUSTER|MIGRATESLOTS CLUSTER|MIGRATION, see Detect) and uses
// it when both offer the same one, for the pair's slots that are not
// already half-moved by the key-by-key path; it then polls the two nodes'
// CLUSTER NODES until the target serves the slots and the source does not.
// Otherwise the key-by-key path is used; ModeAtomic refuses instead
// (ErrAtomicUnsupported), ModeKeys never asks (it reads the versions of
// the primaries that imported slots only at the end, for Result.Restart).
//
// # After a run: replicas to restart
//
// Redis 7.0.13 to 7.0.15 and 7.2.0 to 7.2.3 have a bug (fixed by
// redis/redis#12564 in 7.2.4; Valkey never had it): a replica of a
// primary that imports slots may keep, in memory, a stale mark that the
// owner of one of them (the last one imported, as a rule) no longer
// claims it. If that replica is promoted later and its old primary comes
// back with its old claim, the new primary gives the slot away, deletes
// its keys, and ends up with the slot unassigned in its own view: its
// shard answers CLUSTERDOWN (cluster_state:fail) until an operator runs
// CLUSTER ADDSLOTS there. Nothing shows the mark before; a restart of the
// replica clears it. So after a run on such a version, Result.Restart
// names the replicas of the primaries that imported slots (and
// `slotctl apply` prints them): restart them one at a time. Reproduced
// here on 7.0.15 in about 1 of 13 to 1 of 70 move-then-failover
// sequences; redis-cli --cluster reshard is exposed the same way.
//
// # Progress
//
// Options.Observer receives an Event before each step, after each MIGRATE
// batch (keys moved), per round of slots done, per pair started and done,
// for each retry, and at the start and the end. Calls are serialised.
package migrate
