package command_test

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// spellings returns name in lower, upper, title and alternating case,
// and with one letter flipped at each position.
func spellings(name string) []string {
	out := []string{name, strings.ToLower(name), strings.ToUpper(name)}
	if name != "" {
		out = append(out, strings.ToUpper(name[:1])+name[1:])
	}
	alt := []byte(strings.ToLower(name))
	for i := range alt {
		if i%2 == 1 && 'a' <= alt[i] && alt[i] <= 'z' {
			alt[i] -= 'a' - 'A'
		}
	}
	out = append(out, string(alt))
	for i := 0; i < len(name); i++ {
		b := []byte(name)
		b[i] ^= 0x20
		out = append(out, string(b))
	}
	return out
}

// lookupNames are names the tables do not know, or know only by case
// folding: unknown words, near misses, non-letters that the index's hash
// folds like letters, names around the 64-byte buffer of lookupFold and
// a name whose Unicode lower case (the Kelvin sign) is ASCII.
func lookupNames() []string {
	long := strings.Repeat("x", 64)
	return []string{
		"", "g", "ge", "gett", "xget", "nosuchcommand", "GET ", " GET", "get\x00",
		"G\xc5T", "ge\x14", "GE\x14", "@et", "`ET", "[et", "{ET", "object|encoding", "OBJECT|ENCODING",
		"client|reply", "CLIENT|Reply", "subscribe", "SUBSCRIBE", "xSubscribe",
		long, strings.ToUpper(long), long + "x", strings.ToUpper(long) + "X", long[:63] + "Q",
		"\u212a" + strings.Repeat("E", 64), "\u212aEYS" + long, "KEY\u212a",
		"Ge\u212at", strings.Repeat("GET", 30), "gét", "GÉT", "é", "É",
	}
}

// tablesToCompare are the tables whose fold index must answer as their
// map: the static one, ones learned from the captured COMMAND replies,
// and made-up ones, one with long names.
func tablesToCompare(t testing.TB) map[string]*command.Table {
	t.Helper()
	tabs := map[string]*command.Table{"default": command.DefaultTable()}
	for _, proto := range []string{"resp2", "resp3"} {
		learned, err := learnCaptured(proto)
		require.NoError(t, err)
		tabs["learned-"+proto] = learned
		merged, err := learnIntoDefault(proto)
		require.NoError(t, err)
		tabs["default+"+proto] = merged
	}
	long := strings.Repeat("k", 64)
	tabs["long"] = command.TableOfNames("get", long+"ey", long, long[:63], "a|b", "x-y.z_0")
	return tabs
}

// learnIntoDefault learns a captured reply on top of the static table.
func learnIntoDefault(proto string) (*command.Table, error) {
	return learnCaptureInto(command.DefaultTable(), proto)
}

// TestLookupMatchesMap checks that Table.Lookup and Table.Command, which
// use the fold index, answer exactly as the Go map with case folding
// (lookupFold) did: every command and subcommand of each table in lower,
// upper, title and mixed case, unknown names, names longer than 64 bytes
// and non-ASCII names.
func TestLookupMatchesMap(t *testing.T) {
	for name, tab := range tablesToCompare(t) {
		t.Run(name, func(t *testing.T) {
			require.True(t, command.UsesFoldIndex(tab))
			names := lookupNames()
			for _, n := range tab.Names() {
				names = append(names, spellings(n)...)
			}
			require.Greater(t, len(names), 4*tab.Len())
			for _, n := range names {
				want, wantOK := command.LookupByMap(tab, n)
				got, ok := tab.Lookup(n)
				require.Equal(t, wantOK, ok, "%q", n)
				require.Same(t, want, got, "%q", n)
				args := []string{n, "x"}
				cmd, err := tab.Command(args)
				if ref := command.CommandByMap(tab, args); ref == nil {
					require.ErrorIs(t, err, command.ErrUnknownCommand, "%q", n)
				} else {
					require.NoError(t, err)
					require.Same(t, ref, cmd, "%q", n)
				}
			}
			// Subcommands, through Table.Command.
			subs := 0
			for _, n := range tab.Names() {
				c, ok := tab.Lookup(n)
				require.True(t, ok, n)
				for _, s := range c.Subcommands() {
					sub := s[strings.IndexByte(s, '|')+1:]
					for _, cn := range spellings(n)[:3] {
						for _, sn := range append(spellings(sub), "nosuch", sub+"x") {
							args := []string{cn, sn, "k"}
							got, err := tab.Command(args)
							require.NoError(t, err)
							require.Same(t, command.CommandByMap(tab, args), got, "%q", args)
							subs++
						}
					}
				}
			}
			if name != "long" {
				require.Positive(t, subs)
			}
		})
	}
}

// TestLookupKnownSpellings pins the answers the index must give whatever
// the map did: mixed case finds the command, a 65-byte name folds, the
// Kelvin sign folds to k only in names longer than 64 bytes (as
// strings.ToLower does in lookupFold), non-ASCII letters never fold.
func TestLookupKnownSpellings(t *testing.T) {
	tab := command.DefaultTable()
	for _, n := range []string{"get", "GET", "Get", "gEt", "geT"} {
		c, ok := tab.Lookup(n)
		require.True(t, ok, n)
		assert.Equal(t, "get", c.Name)
	}
	// The word of a name shorter than 8 bytes is padded with zero bytes:
	// a name ending in them reads as the same word, and its length tells
	// it apart (on the first probe too).
	for _, n := range []string{"", "ge", "gets", "GÉT", "ge\u212a", "\x00", "get\x00", "GET\x00\x00", "\x00get", "incr\x00\x00\x00\x00"} {
		_, ok := tab.Lookup(n)
		assert.False(t, ok, "%q", n)
	}
	// Every known name padded with zero bytes up to 8, and 1 to 8 zero
	// bytes alone (whose word, 0, is also a free entry's): none is a
	// command.
	for _, name := range tab.Names() {
		for pad := 1; len(name)+pad <= 8; pad++ {
			_, ok := tab.Lookup(name + strings.Repeat("\x00", pad))
			assert.False(t, ok, "%q + %d zero bytes", name, pad)
		}
	}
	for n := 1; n <= 8; n++ {
		_, ok := tab.Lookup(strings.Repeat("\x00", n))
		assert.False(t, ok, "%d zero bytes", n)
	}
	long := strings.Repeat("k", 65)
	lt := command.TableOfNames(long)
	for _, n := range []string{long, strings.ToUpper(long), "K" + long[1:], "\u212a" + strings.ToUpper(long[1:])} {
		c, ok := lt.Lookup(n)
		require.True(t, ok, "%q", n)
		assert.Equal(t, long, c.Name)
	}
	_, ok := lt.Lookup("\u212a" + long[1:]) // no ASCII upper case: lookupFold does not fold
	assert.False(t, ok)
}

// TestLookupNonASCIITable: a table with a name that is not lower-case
// ASCII keeps the map (the index could not answer as it does).
func TestLookupNonASCIITable(t *testing.T) {
	tab := command.TableOfNames("get", "café")
	require.False(t, command.UsesFoldIndex(tab))
	for _, n := range []string{"get", "GET", "café", "CAFÉ", "CAFé", "cafÉ"} {
		want, wantOK := command.LookupByMap(tab, n)
		got, ok := tab.Lookup(n)
		assert.Equal(t, wantOK, ok, n)
		assert.Same(t, want, got, n)
	}
	_, ok := tab.Lookup("CAFé")
	assert.True(t, ok)
	assert.Equal(t, 2, tab.Len())
}

// FuzzLookup compares Table.Lookup with the map lookup on the static
// table for any name.
func FuzzLookup(f *testing.F) {
	for _, n := range lookupNames() {
		f.Add(n)
	}
	for _, n := range []string{"GET", "mget", "ObJeCt", "xreadgroup", "CLIENT", "EVAL_ro"} {
		f.Add(n)
	}
	tab := command.DefaultTable()
	long := command.TableOfNames(strings.Repeat("k", 70), "get")
	f.Fuzz(func(t *testing.T, name string) {
		for _, tb := range []*command.Table{tab, long} {
			want, wantOK := command.LookupByMap(tb, name)
			got, ok := tb.Lookup(name)
			if ok != wantOK || got != want {
				t.Fatalf("Lookup(%q) = %v, %v; the map says %v, %v", name, got, ok, want, wantOK)
			}
		}
	})
}

// TestFoldIndexProbes: the fold index of the static table finds a name
// in 1.5 probes on average and never more than 8 (its hash spreads the
// 240 names; the layout is deterministic).
func TestFoldIndexProbes(t *testing.T) {
	tab := command.DefaultTable()
	longest, total := command.ProbeStats(tab)
	assert.LessOrEqual(t, longest, 8)
	assert.LessOrEqual(t, float64(total)/float64(tab.Len()), 1.5)
}

// TestSlotOfUnfinishedCommand: a Command built outside the package (its
// single-key position not precomputed) finds its key all the same.
func TestSlotOfUnfinishedCommand(t *testing.T) {
	c := &command.Command{Name: "get", Arity: 2, Specs: []command.KeySpec{
		{Begin: command.BeginIndex, Index: 1, Find: command.FindRange, KeyStep: 1},
	}}
	slot, hasKeys, err := c.Slot([]string{"GET", "user:42:name"})
	require.NoError(t, err)
	assert.True(t, hasKeys)
	assert.Equal(t, slots.Of("user:42:name"), slot)
	_, _, err = c.Slot([]string{"GET", "a", "b"})
	assert.ErrorIs(t, err, command.ErrBadCommand)
	get, ok := command.DefaultTable().Lookup("get")
	require.True(t, ok)
	for _, args := range [][]string{{"GET", "user:42:name"}, {"GET"}, {"GET", "a", "b"}} {
		s1, h1, e1 := c.Slot(args)
		s2, h2, e2 := get.Slot(args)
		assert.Equal(t, s2, s1, "%q", args)
		assert.Equal(t, h2, h1, "%q", args)
		assert.Equal(t, e2 == nil, e1 == nil, "%q", args)
	}
}

// TestLowerWord: the word-at-a-time lower-casing changes exactly the
// ASCII upper-case letters, for every byte value at every position
// (with the other bytes random), and LoadWord packs 0 to 8 bytes.
func TestLowerWord(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for pos := range 8 {
		for v := range 256 {
			b := make([]byte, 8)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			b[pos] = byte(v)
			want := make([]byte, 8)
			for i, c := range b {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				want[i] = c
			}
			got := command.LowerWord(binary.LittleEndian.Uint64(b))
			require.Equal(t, binary.LittleEndian.Uint64(want), got, "% x", b)
		}
	}
	for n := 0; n <= 8; n++ {
		b := make([]byte, 8)
		for i := range n {
			b[i] = byte(r.Uint32()) | 1
		}
		require.Equal(t, binary.LittleEndian.Uint64(b), command.LoadWord(string(b[:n])), "%d bytes", n)
	}
}
