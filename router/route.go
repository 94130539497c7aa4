package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// NoSlot is the slot Route reports for a command without keys (PING,
// INFO, EVAL with numkeys 0, and commands the table does not know): such
// a command goes to a primary.
const NoSlot slots.Slot = 1<<16 - 1

// Route decides, without any I/O, where the command args (name first)
// goes in snapshot s: its slot (NoSlot for a command without keys) and a
// read-only reference to s's node (the zero NodeRef with an error) — the
// slot's primary, or for a read-only command the node the read policy
// chooses (without breakers or latencies: PrimaryPreferred gives the
// primary, PreferReplica a random online replica, Nearest the primary or
// a replica at random, as all latencies are unknown). A command without
// keys, or unknown to t, goes to a random primary. t nil means
// DefaultTable(). Nothing can change s through the NodeRef; its Node
// method returns a copy of the node that is the caller's own.
//
// The error is a *CrossSlotError (errors.Is(err, ErrCrossSlot)) when the
// keys hash to different slots, wraps ErrBadCommand for a malformed
// command or an unknown policy, or is ErrNoNode when no node serves the
// slot. Route allocates nothing for a valid command with fewer than 17
// keys.
func Route(s *topology.Snapshot, t *command.Table, policy ReadPolicy, args ...string) (slots.Slot, topology.NodeRef, error) {
	if t == nil {
		t = command.DefaultTable()
	}
	if !policy.valid() {
		return 0, topology.NodeRef{}, fmt.Errorf("%w: unknown read policy %d", command.ErrBadCommand, policy)
	}
	if len(args) > 0 && args[0] != "" {
		// The slot of args[1], computed before the name is looked up
		// when args are as short as GET k, SET k v or HSET k f v with a
		// key of at most 16 bytes: the two computations do not depend
		// on each other, so the processor runs them side by side, and
		// such commands mostly have their one key there. (Longer args
		// are mostly commands with several keys, or a script first,
		// whose slot would be computed for nothing.)
		slot1 := NoSlot
		if len(args) > 1 && len(args) <= 4 && len(args[1]) <= 16 {
			slot1 = slots.Of(args[1])
		}
		if c, ok := t.Lookup(args[0]); ok {
			if c.Class() == 0 {
				// The common shape (GET k, SET k v, HGET k f...): a
				// command of class 0 with one key at a fixed position
				// goes straight to its slot's shard. (A container has no
				// fixed key: its subcommand decides.)
				if i := c.FixedKey(args); i > 0 {
					// nodeFor for a decision with keys, without one.
					slot := slot1
					if i != 1 || slot1 == NoSlot {
						slot = slots.Of(args[i])
					}
					if s == nil {
						return slot, topology.NodeRef{}, ErrNoNode
					}
					if c.Flags&command.FlagReadOnly == 0 || policy == ReadPrimary {
						// The primary, whatever its state.
						if p := s.PrimaryRef(slot); !p.IsZero() {
							return slot, p, nil
						}
						return slot, topology.NodeRef{}, ErrNoNode
					}
					sh, ok := lookupShard(s, slot)
					if !ok || sh.Primary == nil {
						return slot, topology.NodeRef{}, ErrNoNode
					}
					return slot, readNode(sh, policy).Ref(), nil
				}
			}
			slot, n, err := routeCommand(s, c, policy, args)
			return slot, n.Ref(), err
		}
	}
	// Unknown or empty: decideInto says what to do.
	var d decision
	if err := decideInto(t, args, &d); err != nil {
		return 0, topology.NodeRef{}, err
	}
	n, err := nodeFor(s, &d, policy)
	return d.slotOrNone(), n.Ref(), err
}

// routeCommand is route, past the fast path, for args whose name is that
// of c, a top-level command of the table: Table.Command's subcommand,
// then decideCommand, without looking the name up again.
func routeCommand(s *topology.Snapshot, c *command.Command, policy ReadPolicy, args []string) (slots.Slot, *topology.Node, error) {
	if len(args) > 1 {
		if sub, ok := c.Subcommand(args[1]); ok {
			c = sub
		}
	}
	// d stays in memory, filled and read field by field (decideCommand,
	// nodeFor): copying the struct as a whole after its fields were
	// written one by one stalls store forwarding.
	var d decision
	if err := decideCommand(c, args, &d, false); err != nil {
		return 0, nil, err
	}
	n, err := nodeFor(s, &d, policy)
	return d.slotOrNone(), n, err
}

// readNode is the node that policy chooses among sh's for a read, without
// breakers or latencies (Route's read policy).
func readNode(sh *topology.Shard, policy ReadPolicy) *topology.Node {
	all := func(*topology.Node) bool { return true }
	none := func(*topology.Node) int64 { return 0 }
	return chooseRead(sh, policy, 0, all, all, none).node
}

// decision is what the table says about one command.
type decision struct {
	slot     slots.Slot
	hasKeys  bool
	readOnly bool
	blocking bool
	txn      bool // MULTI, EXEC, DISCARD, WATCH, UNWATCH: connection state
	fan      bool // keyless, and its tips may send it to every shard or node (fanOut)
	// prefer: keyless, but best sent to slot's primary (PUBLISH: any node
	// takes it and the cluster bus forwards it; one node per channel keeps
	// one publisher's messages in order).
	prefer bool
}

func (d *decision) slotOrNone() slots.Slot {
	if !d.hasKeys {
		return NoSlot
	}
	return d.slot
}

// decide finds the slot and the flags of args. Unknown commands are
// keyless writes.
func decide(t *command.Table, args []string) (decision, error) {
	var d decision
	err := decideInto(t, args, &d)
	return d, err
}

// decideInto is decide writing into *d, which must be the zero decision;
// on error *d is unspecified.
func decideInto(t *command.Table, args []string, d *decision) error {
	return decideMode(t, args, d, false)
}

// errCrossLazy is decideLazy's cross-slot error: nothing built, the
// caller splits the command or asks decide for the *CrossSlotError.
var errCrossLazy = errors.New("slotrouter: keys in more than one slot")

// decideLazy is decide, except that keys in more than one slot give
// errCrossLazy (building the *CrossSlotError, with its suggested keys,
// costs more than splitting a command that the command tips allow to be
// split).
func decideLazy(t *command.Table, args []string) (decision, error) {
	var d decision
	err := decideMode(t, args, &d, true)
	return d, err
}

// decideMode is decideInto; lazy: a cross-slot command gives errCrossLazy.
func decideMode(t *command.Table, args []string, d *decision, lazy bool) error {
	if len(args) == 0 || args[0] == "" {
		return errEmptyCommand
	}
	c, err := t.Command(args)
	if err != nil {
		if errors.Is(err, command.ErrUnknownCommand) {
			if isSubscribe(args[0]) {
				return errSubscribe
			}
			return nil
		}
		return err
	}
	return decideCommand(c, args, d, lazy)
}

// decideCommand is decideMode for the command c that args invoke.
func decideCommand(c *command.Command, args []string, d *decision, lazy bool) error {
	k := c.Class() // computed once per command when the table was built
	if k != 0 {
		switch {
		case k&command.ClassTransaction != 0:
			d.txn = true
		case k&command.ClassPublish != 0:
			d.prefer = len(args) > 1
		case k&command.ClassConnState != 0:
			return connStateError(c.Name)
		case k&command.ClassSubscribe != 0:
			return errSubscribe
		}
	}
	var err error
	if lazy {
		var cross bool
		d.slot, d.hasKeys, cross, err = c.SlotInfo(args)
		if err == nil && cross {
			err = errCrossLazy
		}
	} else {
		d.slot, d.hasKeys, err = c.Slot(args)
	}
	if err != nil {
		return err
	}
	if d.prefer && !d.hasKeys {
		d.slot = slots.Of(args[1])
	}
	d.readOnly = c.Flags&command.FlagReadOnly != 0
	if k&command.ClassBlocking != 0 {
		// The class without FlagBlocking: WAIT and WAITAOF, which always
		// may block; with it, IsBlocking decides (XREAD and XREADGROUP
		// only with BLOCK).
		d.blocking = c.Flags&command.FlagBlocking == 0 || c.IsBlocking(args)
	}
	d.fan = !d.hasKeys && k&command.ClassFanOut != 0
	return nil
}

// isSubscribe reports whether name ends in "subscribe" (any case): rueidis
// refuses such commands outside its pub/sub API (with a panic).
func isSubscribe(name string) bool {
	const suffix = "subscribe"
	return len(name) >= len(suffix) && strings.EqualFold(name[len(name)-len(suffix):], suffix)
}

// nodeFor picks the node of d in s under policy.
func nodeFor(s *topology.Snapshot, d *decision, policy ReadPolicy) (*topology.Node, error) {
	if s == nil {
		return nil, ErrNoNode
	}
	if !d.hasKeys {
		if p := preferred(s, *d, nil); p != nil {
			return p, nil
		}
		return anyPrimary(s, nil)
	}
	sh, ok := lookupShard(s, d.slot)
	if !ok || sh.Primary == nil {
		return nil, ErrNoNode
	}
	if d.readOnly && policy != ReadPrimary {
		return readNode(sh, policy), nil
	}
	// ReadPrimary: the primary, whatever its state (never a replica).
	return sh.Primary, nil
}

// anyPrimary returns a random primary of s for which ok holds (nil: any),
// or the first primary when ok rejects them all.
func anyPrimary(s *topology.Snapshot, ok func(*topology.Node) bool) (*topology.Node, error) {
	shards := shardsOf(s)
	n := len(shards)
	if n == 0 {
		return nil, ErrNoNode
	}
	start := rand.IntN(n)
	var first *topology.Node
	for i := range n {
		p := servingPrimary(&shards[(start+i)%n])
		if p == nil {
			continue
		}
		if first == nil {
			first = p
		}
		if ok == nil || ok(p) {
			return p, nil
		}
	}
	if first == nil {
		return nil, ErrNoNode
	}
	return first, nil
}

// preferred returns the primary of d's slot when d prefers it (PUBLISH)
// and ok (nil: any) accepts it, else nil.
func preferred(s *topology.Snapshot, d decision, ok func(*topology.Node) bool) *topology.Node {
	if !d.prefer {
		return nil
	}
	sh, found := lookupShard(s, d.slot)
	if !found {
		return nil
	}
	p := servingPrimary(sh)
	if p == nil || ok != nil && !ok(p) {
		return nil
	}
	return p
}

// servingPrimary returns the primary of sh when it serves slots and has a
// dialable address, else nil.
func servingPrimary(sh *topology.Shard) *topology.Node {
	if sh.Primary == nil || sh.Primary.Addr == "" || len(sh.Ranges) == 0 {
		return nil
	}
	return sh.Primary
}
