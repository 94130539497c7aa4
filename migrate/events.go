package migrate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slotrouter/slotrouter/slots"
)

// Errors of Apply; test them with errors.Is.
var (
	// ErrInvalidOptions means a field of Options is out of range.
	ErrInvalidOptions = errors.New("migrate: invalid options")
	// ErrInvalidPlan means the plan is nil or fails plan.Validate.
	ErrInvalidPlan = errors.New("migrate: invalid plan")
	// ErrPlanMismatch means the cluster is not in a state the plan can
	// start or resume from: a slot is owned by a node the plan does not
	// expect, or open (importing/migrating) for a reason that is not one
	// of the plan's own moves.
	ErrPlanMismatch = errors.New("migrate: the plan does not match the cluster")
	// ErrBusyKey means MIGRATE found the key already on the target
	// (BUSYKEY) and Options.Replace is off.
	ErrBusyKey = errors.New("migrate: the target already holds a key being moved")
	// ErrStopped means Apply stopped because its context was cancelled;
	// the error also matches the context's error.
	ErrStopped = errors.New("migrate: stopped")
	// ErrAtomicUnsupported means Options.Mode is ModeAtomic and a pair's
	// nodes do not offer atomic slot migration.
	ErrAtomicUnsupported = errors.New("migrate: atomic slot migration not offered by the server")
	// ErrUnreachable means a node the plan needs could not be reached
	// after the retries: no seed answered, or a step's last try failed
	// with a connection error (refused, reset, closed) or got no answer
	// within its own timeout (a frozen node). A *StepError wraps it then.
	ErrUnreachable = errors.New("migrate: node unreachable")
	// ErrNotFinished means that after every step succeeded, the cluster
	// still does not show the plan's final owners (this should not
	// happen; the error says which slots differ).
	ErrNotFinished = errors.New("migrate: the cluster does not show the plan as done")
	// ErrConflict means another operation is moving a slot of the plan:
	// the slot is open (importing or migrating) between the plan's source
	// or target and a third node, or another run took it over while this
	// one was moving it (the source's MIGRATING names another target).
	// Apply then stops; when it had already moved keys of the slot to its
	// target, it first gives them back (to the node the source now
	// migrates the slot to, or to the slot's owner) and closes the slot on
	// its target. The error names the slot and the other node.
	ErrConflict = errors.New("migrate: another operation is moving this slot")
	// ErrSkipped is the Err of an EventOthersFailed for a primary that
	// already failed earlier in the run and so was not sent SETSLOT NODE
	// again.
	ErrSkipped = errors.New("migrate: not sent, the node failed earlier in this run")
)

// Step is one kind of command the executor sends.
type Step uint8

// Steps, in the order they happen for a slot.
const (
	StepNone Step = iota
	// StepImporting is CLUSTER SETSLOT slot IMPORTING source on the target.
	StepImporting
	// StepMigrating is CLUSTER SETSLOT slot MIGRATING target on the source.
	StepMigrating
	// StepCount is CLUSTER COUNTKEYSINSLOT on the source.
	StepCount
	// StepGetKeys is CLUSTER GETKEYSINSLOT on the source.
	StepGetKeys
	// StepMigrate is one MIGRATE ... KEYS batch from source to target.
	StepMigrate
	// StepNodeTarget is CLUSTER SETSLOT slot NODE target on the target.
	StepNodeTarget
	// StepNodeSource is CLUSTER SETSLOT slot NODE target on the source.
	StepNodeSource
	// StepNodeOthers is CLUSTER SETSLOT slot NODE target on the other
	// primaries.
	StepNodeOthers
	// StepAtomic starts an atomic slot migration (CLUSTER MIGRATESLOTS on
	// the source, or CLUSTER MIGRATION IMPORT on the target).
	StepAtomic
	// StepAtomicWait polls until the target owns the slots.
	StepAtomicWait
	// StepCheck reads CLUSTER NODES to see that no other operation moves
	// the slot: before opening it (the source and the target), after
	// opening it and between MIGRATE batches (the source), and before
	// SETSLOT NODE (every node). See ErrConflict.
	StepCheck
	// StepGiveBack moves the keys our target received for a slot back
	// out of it after another operation took the slot over (ErrConflict),
	// and then closes the slot on our target (SETSLOT STABLE).
	StepGiveBack
)

var stepNames = [...]string{
	StepNone:       "none",
	StepImporting:  "setslot-importing",
	StepMigrating:  "setslot-migrating",
	StepCount:      "countkeysinslot",
	StepGetKeys:    "getkeysinslot",
	StepMigrate:    "migrate",
	StepNodeTarget: "setslot-node-target",
	StepNodeSource: "setslot-node-source",
	StepNodeOthers: "setslot-node-others",
	StepAtomic:     "atomic-start",
	StepAtomicWait: "atomic-wait",
	StepCheck:      "check",
	StepGiveBack:   "give-back",
}

// String names the step.
func (s Step) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	return fmt.Sprintf("Step(%d)", uint8(s))
}

// MarshalText encodes the step's name (for JSON progress lines).
func (s Step) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventStart: Apply read the cluster; Slots is the number of the
	// plan's slots still to move, Done those already moved (a resumed
	// run).
	EventStart EventKind = iota
	// EventStep: a step is about to be sent for Slots slots starting at
	// Slot (Keys: the keys of a MIGRATE batch).
	EventStep
	// EventKeys: a MIGRATE batch moved Keys keys of Slot.
	EventKeys
	// EventSlotsDone: Slots slots (the first is Slot) now belong to Target.
	EventSlotsDone
	// EventPairStart and EventPairDone bracket the work of one move.
	EventPairStart
	EventPairDone
	// EventRetry: a step failed with a transient error (Err) and is tried
	// again (Attempt counts from 1). The check before SETSLOT NODE
	// (StepCheck) also reports each wait for another run that still
	// imports the slot from the source this way, with Err matching
	// ErrConflict, and each wait for the target to hear of the source's
	// config epoch (see the package doc, "Why the source is told last").
	EventRetry
	// EventDone: every slot of the plan is at its target.
	EventDone
	// EventOthersFailed: SETSLOT NODE (StepNodeOthers) for Slots slots
	// starting at Slot could not be sent to Node, a primary that is
	// neither the source nor the target, after the step's attempts (Err:
	// the last error, matching ErrUnreachable for a frozen or unreachable
	// node). The slots are moved all the same: the target owns them with a
	// bumped config epoch, and Node learns that by gossip once it is back;
	// telling it directly only makes that quicker. The run goes on, and
	// Node is skipped for the rest of the run (then Err matches
	// ErrSkipped), so that a frozen node costs its timeouts once, not once
	// per round. Result.Untold lists such nodes.
	EventOthersFailed
	// EventReclaimed: Slots slots of the move (the first is Slot) that
	// its target had taken were missing from the target's own view at
	// the end of the run, while the other primaries said the target owns
	// them; SETSLOT NODE is sent to it again (a StepNodeTarget step
	// follows). See the package doc, "Why the source is told last": keys
	// Redis deleted there are lost.
	EventReclaimed
)

var eventNames = [...]string{
	EventStart:     "start",
	EventStep:      "step",
	EventKeys:      "keys",
	EventSlotsDone: "slots-done",
	EventPairStart: "pair-start",
	EventPairDone:  "pair-done",
	EventRetry:     "retry",
	EventDone:      "done",

	EventOthersFailed: "others-failed",
	EventReclaimed:    "reclaimed",
}

// String names the kind.
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// MarshalText encodes the kind's name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one progress report of Apply.
type Event struct {
	Kind EventKind `json:"event"`
	Step Step      `json:"step,omitempty"`
	// Batch is the plan batch the event belongs to (-1 for start/done).
	Batch int `json:"batch"`
	// Source and Target are the node IDs of the move.
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	// Slot is the (first) slot concerned; Slots how many.
	Slot  slots.Slot `json:"slot"`
	Slots int        `json:"slots,omitempty"`
	// Done is, for EventStart, the plan's slots already moved.
	Done int `json:"done,omitempty"`
	// Keys is the number of keys moved (EventKeys) or to move (a MIGRATE
	// step).
	Keys int `json:"keys,omitempty"`
	// Atomic is true when the pair uses atomic slot migration.
	Atomic bool `json:"atomic,omitempty"`
	// Node is, for EventOthersFailed, the primary that was not told.
	Node string `json:"node,omitempty"`
	// Attempt and Err describe a retry (and the failure of
	// EventOthersFailed).
	Attempt int   `json:"attempt,omitempty"`
	Err     error `json:"-"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
}

// StepError is the error of a step that failed for good: it names the
// slot, the move, the step and the slot's state in the cluster, and says
// how to resume.
type StepError struct {
	Slot   slots.Slot
	Source string
	Target string
	Step   Step
	// Key is the key concerned (BUSYKEY), or "".
	Key string
	// State describes the slot as left (for example "importing on the
	// target, migrating on the source, 12 keys still on the source").
	State string
	Err   error
}

// Error implements error.
func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrate: slot %d (%s -> %s): %s", e.Slot, short(e.Source), short(e.Target), e.Step)
	if e.Key != "" {
		fmt.Fprintf(&b, " (key %q)", e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.State != "" {
		fmt.Fprintf(&b, "; slot state: %s", e.State)
	}
	b.WriteString("; run the same plan again to resume")
	return b.String()
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// short abbreviates a 40-character node id for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// OpenSlot is a slot left importing or migrating when Apply returned.
type OpenSlot struct {
	Slot slots.Slot `json:"slot"`
	// Node is the node that reports the state; State is "importing" or
	// "migrating"; Peer is the node it imports from or migrates to.
	Node  string `json:"node"`
	State string `json:"state"`
	Peer  string `json:"peer"`
}

// String describes the open slot.
func (o OpenSlot) String() string {
	dir := "to"
	if o.State == "importing" {
		dir = "from"
	}
	return fmt.Sprintf("slot %d %s on %s %s %s", o.Slot, o.State, short(o.Node), dir, short(o.Peer))
}

// Result is what Apply did.
type Result struct {
	// Slots is the number of the plan's slots moved by this call;
	// AlreadyDone those found already at their target (a resumed plan).
	Slots       int `json:"slots"`
	AlreadyDone int `json:"already_done"`
	// AtomicSlots is how many of Slots moved by atomic slot migration.
	AtomicSlots int `json:"atomic_slots,omitempty"`
	// Keys is the number of keys MIGRATE moved.
	Keys int64 `json:"keys"`
	// Untold lists, sorted, the primaries other than a move's source and
	// target that could not be sent SETSLOT NODE (see EventOthersFailed):
	// the slots moved all the same, and these nodes learn their new
	// owners by gossip once they are reachable.
	Untold []string `json:"untold,omitempty"`
	// Reclaimed is the number of the plan's slots that a target had
	// taken and then lost from its own view, and that Apply gave back to
	// it (EventReclaimed). Not 0 means a node dropped a slot on stale
	// gossip: check that slot's keys.
	Reclaimed int `json:"reclaimed,omitempty"`
	// Restart lists the replicas to restart (one at a time) after the
	// run, on Redis versions whose replicas may lose a slot their primary
	// imported at a later failover (see Restart). Empty on other
	// versions, and for primaries without replicas.
	Restart []Restart `json:"restart,omitempty"`
	// Open lists the slots of the plan left open when Apply returned an
	// error (empty on success).
	Open []OpenSlot `json:"open,omitempty"`
	// Elapsed is the wall time of Apply.
	Elapsed time.Duration `json:"elapsed_ns"`
}
