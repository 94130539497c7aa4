package router

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// decideByName is decideMode as it was before the table computed each
// command's class: it compares the command's name on every call. It is
// the reference decideMode and Route's fast path must agree with.
func decideByName(t *command.Table, args []string, d *decision, lazy bool) error {
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
	switch c.Name {
	case "multi", "exec", "discard", "watch", "unwatch":
		d.txn = true
	case "publish":
		d.prefer = len(args) > 1
	case "monitor", "sync", "psync", "quit", "reset", "hello", "auth",
		"readonly", "readwrite", "asking", "client|reply", "client|tracking":
		return connStateError(c.Name)
	default:
		if isSubscribe(c.Name) {
			return errSubscribe
		}
	}
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
	d.blocking = c.Flags&command.FlagBlocking != 0 && c.IsBlocking(args) || c.Name == "wait" || c.Name == "waitaof"
	d.fan = !d.hasKeys && (c.Tips.Request == command.RequestAllShards || c.Tips.Request == command.RequestAllNodes)
	return nil
}

// routeByName is Route on decideByName, without the fast path.
func routeByName(s *topology.Snapshot, t *command.Table, policy ReadPolicy, args ...string) (slots.Slot, topology.Node, error) {
	var d decision
	if err := decideByName(t, args, &d, false); err != nil {
		return 0, topology.Node{}, err
	}
	n, err := nodeFor(s, &d, policy)
	if n == nil {
		return d.slotOrNone(), topology.Node{}, err
	}
	return d.slotOrNone(), *n, err
}

// oneShard is a snapshot of one shard (all slots, one replica), so that
// every choice, random ones included, is the same node.
func oneShard(t *testing.T) *topology.Snapshot {
	t.Helper()
	s, err := topology.NewSnapshot([]topology.Shard{{
		ID:       "only",
		Primary:  &topology.Node{ID: "p", Addr: "127.0.0.1:7000", Role: topology.RolePrimary, Health: topology.HealthOnline},
		Replicas: []*topology.Node{{ID: "r", Addr: "127.0.0.1:7001", Role: topology.RoleReplica, Health: topology.HealthOnline}},
		Ranges:   []slots.Range{{Start: 0, End: slots.Count - 1}},
	}}, topology.SnapshotOptions{})
	require.NoError(t, err)
	return s
}

// argShapes returns the argument lists tried for the command c: its
// name (as the server spells it, upper case and mixed case) followed by
// 0 to 7 arguments, plain, with hash tags in two slots, numbers (numkeys)
// and the keywords of XREAD and WAIT-like commands.
func argShapes(c *command.Command) [][]string {
	top, sub, isSub := strings.Cut(c.Name, "|")
	var heads [][]string
	for _, name := range []string{top, strings.ToUpper(top), strings.ToUpper(top[:1]) + top[1:]} {
		if isSub {
			heads = append(heads, []string{name, sub}, []string{name, strings.ToUpper(sub)})
		} else {
			heads = append(heads, []string{name})
		}
	}
	tails := [][]string{
		{"user:42:name", "b", "c", "d", "e", "f", "g"},
		{"{x}1", "{y}2", "{x}3", "{y}4", "5", "6", "7"},
		{"2", "{k}a", "{k}b", "arg", "x", "y", "z"},
		{"BLOCK", "0", "STREAMS", "s", "0", "t", "0"},
		{"COUNT", "1", "STREAMS", "{s}1", "{s}2", "0", "0"},
		{"0", "0", "k", "v", "1", "2", "3"},
	}
	var out [][]string
	for _, h := range heads {
		for _, tail := range tails {
			for n := 0; n <= len(tail); n++ {
				out = append(out, append(append([]string(nil), h...), tail[:n]...))
			}
		}
	}
	return out
}

// sameError reports whether got and want are the same error, or errors
// of the same kind with the same message (the cross-slot and
// connection-state errors are built per call).
func sameError(got, want error) bool {
	if got == nil || want == nil {
		return got == want
	}
	return got == want || got.Error() == want.Error()
}

// TestDecideClassMatchesNames: decide, decideLazy and Route (whose fast
// path skips decide for an ordinary command with one key at a fixed
// position) decide, for every command of the static table and many
// argument lists, exactly what the per-call comparison of names decided.
func TestDecideClassMatchesNames(t *testing.T) {
	tab := command.DefaultTable()
	s := oneShard(t)
	var cmds []*command.Command
	for _, name := range tab.Names() {
		c, _ := tab.Lookup(name)
		cmds = append(cmds, c)
		for _, sub := range c.Subcommands() {
			sc, ok := c.Subcommand(sub[strings.IndexByte(sub, '|')+1:])
			require.True(t, ok)
			cmds = append(cmds, sc)
		}
	}
	cmds = append(cmds, &command.Command{Name: "nosuchcommand"}, &command.Command{Name: "foo.subscribe"})
	fast, checked := 0, 0
	for _, c := range cmds {
		for _, args := range argShapes(c) {
			checked++
			for _, lazy := range []bool{false, true} {
				var got, want decision
				gotErr := decideMode(tab, args, &got, lazy)
				wantErr := decideByName(tab, args, &want, lazy)
				require.True(t, sameError(gotErr, wantErr), "%q lazy=%v: %v, want %v", args, lazy, gotErr, wantErr)
				if wantErr == nil {
					require.Equal(t, want, got, "%q lazy=%v", args, lazy)
				}
			}
			for _, p := range []ReadPolicy{ReadPrimary, PreferReplica, PrimaryPreferred, Nearest} {
				slot, n, err := Route(s, tab, p, args...)
				wslot, wn, werr := routeByName(s, tab, p, args...)
				require.True(t, sameError(err, werr), "%q %v: %v, want %v", args, p, err, werr)
				require.Equal(t, wslot, slot, "%q %v", args, p)
				if p == Nearest && wn.ID != "" {
					// A random choice between the primary and the replica.
					require.Contains(t, []string{"p", "r"}, n.ID(), "%q %v", args, p)
					continue
				}
				require.Equal(t, wn, n.Node(), "%q %v", args, p)
			}
			if k, ok := tab.Lookup(args[0]); ok && k.Class() == 0 && k.FixedKey(args) > 0 {
				fast++
			}
		}
	}
	assert.Greater(t, fast, 1000, "argument lists on Route's fast path, of %d", checked)
	// Without a snapshot, and with an empty name.
	for _, args := range [][]string{{"GET", "k"}, {"PING"}, {"", "k"}, {}} {
		slot, n, err := Route(nil, tab, ReadPrimary, args...)
		wslot, wn, werr := routeByName(nil, tab, ReadPrimary, args...)
		assert.True(t, sameError(err, werr), "%q: %v, want %v", args, err, werr)
		assert.Equal(t, wslot, slot)
		assert.Equal(t, wn, n.Node())
	}
}
