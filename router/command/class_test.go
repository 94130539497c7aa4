package command_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
)

// allCommands returns every command and subcommand of t.
func allCommands(t *testing.T, tab *command.Table) []*command.Command {
	t.Helper()
	var out []*command.Command
	for _, name := range tab.Names() {
		c, ok := tab.Lookup(name)
		require.True(t, ok, name)
		out = append(out, c)
		for _, sub := range c.Subcommands() {
			s, ok := c.Subcommand(sub[strings.IndexByte(sub, '|')+1:])
			require.True(t, ok, sub)
			out = append(out, s)
		}
	}
	return out
}

// classTables are the tables whose precomputed classes and fixed keys
// are checked: the static one, those learned from captured COMMAND
// replies (from nothing and on top of the static table), and a table of
// names only.
func classTables(t *testing.T) map[string]*command.Table {
	t.Helper()
	tables := map[string]*command.Table{"default": command.DefaultTable()}
	for _, proto := range []string{"resp2", "resp3"} {
		learned, err := learnCaptured(proto)
		require.NoError(t, err)
		tables["learned-"+proto] = learned
		merged, err := learnCaptureInto(command.DefaultTable(), proto)
		require.NoError(t, err)
		tables["default+"+proto] = merged
	}
	tables["names"] = command.TableOfNames("wait", "multi", "foo.subscribe", "client|tracking", "get")
	// Arities that let the key's position, not the arity, bound the
	// number of arguments, and some that leave no room for the key.
	var odd []*command.Command
	for _, arity := range []int{0, -1, 1, 2, 3, -3} {
		for _, index := range []int{1, 2, 4} {
			odd = append(odd, &command.Command{
				Name: "k" + strconv.Itoa(index) + "a" + strconv.Itoa(arity), Arity: arity,
				Specs: []command.KeySpec{{Begin: command.BeginIndex, Index: index, Find: command.FindRange, KeyStep: 1}},
			})
		}
	}
	tables["odd"] = command.TableOfCommands(odd...)
	return tables
}

// TestClassMatchesNames: the class cached once per command when the
// table is built is the one its final name, flags and tips give
// (classOf), for every command of the static table and of tables learned
// from COMMAND (a class cached before the tips were applied would be
// stale); and named commands have the classes they should.
func TestClassMatchesNames(t *testing.T) {
	for name, tab := range classTables(t) {
		cmds := allCommands(t, tab)
		require.NotEmpty(t, cmds, name)
		seen := map[command.Class]bool{}
		for _, c := range cmds {
			assert.Equal(t, command.ClassOf(c), c.Class(), "%s: %s", name, c.Name)
			seen[c.Class()] = true
		}
		if name != "names" && name != "odd" {
			assert.True(t, seen[0], "%s: ordinary commands", name)
			assert.Greater(t, len(seen), 5, "%s: classes seen: %v", name, seen)
		}
	}
	get, _ := command.DefaultTable().Lookup("GET")
	assert.Equal(t, command.Class(0), get.Class())
	for name, want := range map[string]command.Class{
		"multi": command.ClassTransaction, "publish": command.ClassPublish,
		"hello": command.ClassConnState, "ssubscribe": command.ClassSubscribe,
		"blpop": command.ClassBlocking, "xread": command.ClassBlocking,
		"wait": command.ClassBlocking | command.ClassFanOut, "keys": command.ClassFanOut,
		"asking":   command.ClassConnState,
		"readonly": command.ClassConnState, "sunsubscribe": command.ClassSubscribe,
		"unwatch": command.ClassTransaction, "get": 0,
	} {
		c, ok := command.DefaultTable().Lookup(name)
		require.True(t, ok, name)
		assert.Equal(t, want, c.Class(), "%s is %v", name, c.Class())
	}
	client, _ := command.DefaultTable().Lookup("client")
	tracking, ok := client.Subcommand("TRACKING")
	require.True(t, ok)
	assert.Equal(t, command.ClassConnState, tracking.Class())
	reply, ok := client.Subcommand("reply")
	require.True(t, ok)
	assert.Equal(t, command.ClassConnState, reply.Class())
	assert.Equal(t, "connstate|subscribe", (command.ClassConnState | command.ClassSubscribe).String())
	assert.Equal(t, "0", command.Class(0).String())
}

// TestClassOfUnfinishedCommand: a Command built by hand, which no table
// has finished, computes its class and fixed key when asked.
func TestClassOfUnfinishedCommand(t *testing.T) {
	c := &command.Command{Name: "psubscribe", Arity: -2}
	assert.Equal(t, command.ClassSubscribe, c.Class())
	g := &command.Command{Name: "get", Arity: 2, Flags: command.FlagReadOnly, Specs: []command.KeySpec{
		{Begin: command.BeginIndex, Index: 1, Find: command.FindRange, KeyStep: 1},
	}}
	assert.Equal(t, command.Class(0), g.Class())
	assert.Equal(t, 1, g.FixedKey([]string{"GET", "k"}))
	assert.Equal(t, 0, g.FixedKey([]string{"GET", "k", "x"}), "arity")
	assert.Equal(t, 0, g.FixedKey([]string{"GET"}))
}

// TestFixedKeyMatchesSpecs: FixedKey, precomputed bounds on the number
// of arguments, answers as the per-call check did, for every command of
// every table and every number of arguments up to 9; when it finds a key
// it is the one KeyIndexes finds.
func TestFixedKeyMatchesSpecs(t *testing.T) {
	for name, tab := range classTables(t) {
		found := 0
		for _, c := range allCommands(t, tab) {
			args := []string{c.Name}
			if top, sub, ok := strings.Cut(c.Name, "|"); ok {
				args = []string{top, sub}
			}
			for len(args) < 10 {
				i := c.FixedKey(args)
				assert.Equal(t, command.FixedKeyRef(c, args), i, "%s: %q", name, args)
				if i > 0 {
					found++
					idx, err := c.KeyIndexes(args, nil)
					require.NoError(t, err, "%s: %q", name, args)
					assert.Equal(t, []int{i}, idx, "%s: %q", name, args)
				}
				args = append(args, "a"+string(rune('0'+len(args))))
			}
		}
		if name != "names" && name != "odd" {
			assert.Greater(t, found, 50, name)
		}
	}
}
