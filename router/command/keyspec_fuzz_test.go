package command_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// checkRouting runs every routing entry point of tab on args and checks the
// invariants that hold for any input: no panic, positions in range and in
// argument order per spec, Keys and Slot consistent with KeyIndexes, and
// only the documented errors.
func checkRouting(t *testing.T, tab *command.Table, args []string) {
	t.Helper()
	idx, err := tab.KeyIndexes(args, nil)
	_ = tab.IsReadOnly(args)
	_ = tab.IsBlocking(args)
	slot, hasKeys, serr := tab.Slot(args)
	keys, kerr := tab.Keys(args)
	if err != nil {
		if !errors.Is(err, command.ErrBadCommand) && !errors.Is(err, command.ErrUnknownCommand) {
			t.Fatalf("%q: unexpected error %v", args, err)
		}
		if serr == nil || serr.Error() != err.Error() {
			t.Fatalf("%q: KeyIndexes says %v, Slot says %v", args, err, serr)
		}
		if kerr == nil {
			t.Fatalf("%q: Keys has no error, KeyIndexes %v", args, err)
		}
		return
	}
	if kerr != nil {
		t.Fatalf("%q: Keys: %v", args, kerr)
	}
	if len(keys) != len(idx) {
		t.Fatalf("%q: %d keys, %d positions", args, len(keys), len(idx))
	}
	for i, p := range idx {
		if p < 1 || p >= len(args) {
			t.Fatalf("%q: key position %d out of range", args, p)
		}
		if keys[i] != args[p] {
			t.Fatalf("%q: key %d is %q, position %d holds %q", args, i, keys[i], p, args[p])
		}
	}
	if len(idx) == 0 {
		if serr != nil || hasKeys || slot != 0 {
			t.Fatalf("%q: no keys but Slot = %d, %v, %v", args, slot, hasKeys, serr)
		}
		return
	}
	if !hasKeys {
		t.Fatalf("%q: keys but hasKeys false", args)
	}
	same := true
	for _, k := range keys[1:] {
		if slots.Of(k) != slots.Of(keys[0]) {
			same = false
		}
	}
	if same {
		if serr != nil || slot != slots.Of(keys[0]) {
			t.Fatalf("%q: Slot = %d, %v; want %d", args, slot, serr, slots.Of(keys[0]))
		}
		return
	}
	var cs *command.CrossSlotError
	if !errors.As(serr, &cs) || !errors.Is(serr, command.ErrCrossSlot) {
		t.Fatalf("%q: keys in different slots but Slot error %v", args, serr)
	}
	got := make([]string, len(cs.Keys))
	for i, k := range cs.Keys {
		got[i] = k.Key
		if k.Slot != slots.Of(k.Key) {
			t.Fatalf("%q: key %q reported in slot %d", args, k.Key, k.Slot)
		}
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("%q: error lists %q, keys are %q", args, got, keys)
	}
	if len(cs.SuggestedKeys) != len(keys) {
		t.Fatalf("%q: %d suggested keys", args, len(cs.SuggestedKeys))
	}
	first := slots.Of(cs.SuggestedKeys[0])
	for _, k := range cs.SuggestedKeys {
		if slots.Of(k) != first {
			t.Fatalf("%q: suggested keys %q do not share a slot", args, cs.SuggestedKeys)
		}
	}
	_ = cs.Error()
}

// fuzzCommandLines are the command lines FuzzKeyIndexes starts from: every
// command and subcommand of the static table.
var fuzzCommandLines = sync.OnceValue(func() [][]string {
	var out [][]string
	tab := command.DefaultTable()
	names := tab.Names()
	slices.Sort(names)
	for _, n := range names {
		out = append(out, []string{n})
		c, _ := tab.Lookup(n)
		subs := c.Subcommands()
		slices.Sort(subs)
		for _, s := range subs {
			out = append(out, []string{n, s[strings.IndexByte(s, '|')+1:]})
		}
	}
	return out
})

var capturedLearned = sync.OnceValues(func() (*command.Table, error) { return learnCaptured("resp3") })

// FuzzKeyIndexes routes random argument lists for every command, with
// the static table and with a table learned from the captured reply.
func FuzzKeyIndexes(f *testing.F) {
	f.Add(uint16(0), "a b c")
	for i, s := range append(slices.Clone(keySamples), badSamples...) {
		args := sampleArgs(s)
		if len(args) == 0 {
			continue
		}
		f.Add(uint16(i), strings.Join(args[1:], " "))
	}
	f.Add(uint16(7), "STREAMS STREAMS 0")
	f.Add(uint16(9), "-1 a b")
	f.Add(uint16(11), "9223372036854775807 a")
	learned, err := capturedLearned()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, n uint16, rest string) {
		names := fuzzCommandLines()
		base := names[int(n)%len(names)]
		args := append(slices.Clone(base), strings.Split(rest, " ")...)
		checkRouting(t, command.DefaultTable(), args)
		checkRouting(t, learned, args)
		// The name alone, and the raw split.
		checkRouting(t, command.DefaultTable(), strings.Split(rest, " "))
	})
}

// FuzzLearn decodes random RESP bytes into a COMMAND reply (with the
// rueidis mock constructors), learns from it, and routes with what was
// learned: Learn never panics, and a learned table keeps the invariants.
func FuzzLearn(f *testing.F) {
	// Seeds: single entries of the captured replies (whole replies are
	// too big for the mutator to get anywhere), every command that has
	// subcommands or key specs of an unusual kind among them.
	for _, proto := range []string{"resp2", "resp3"} {
		raw, err := readCapture(proto)
		if err != nil {
			f.Fatal(err)
		}
		entries, err := splitRESPArray(raw)
		if err != nil {
			f.Fatal(err)
		}
		for i, e := range entries {
			interesting := false
			for _, w := range []string{"keynum", "keyword", "unknown", "not_key", "incomplete", "object|", "xinfo|"} {
				interesting = interesting || strings.Contains(string(e), w)
			}
			if interesting || i%25 == 0 {
				f.Add(append([]byte("*1\r\n"), e...))
			}
		}
	}
	f.Add([]byte("*1\r\n*10\r\n$3\r\nfoo\r\n:-2\r\n*1\r\n+write\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*1\r\n%3\r\n" +
		"+flags\r\n*0\r\n+begin_search\r\n%2\r\n+type\r\n+keyword\r\n+spec\r\n%2\r\n+keyword\r\n+KEYS\r\n+startfrom\r\n:-2\r\n" +
		"+find_keys\r\n%2\r\n+type\r\n+range\r\n+spec\r\n%3\r\n+lastkey\r\n:-1\r\n+keystep\r\n:1\r\n+limit\r\n:0\r\n*0\r\n"))
	f.Add([]byte("*1\r\n*6\r\n$3\r\nold\r\n:-3\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:2\r\n"))
	f.Add([]byte("*1\r\n_\r\n"))
	f.Add(entryWithTips("*3\r\n+request_policy:multi_shard\r\n+response_policy:agg_sum\r\n+nondeterministic_output\r\n"))
	f.Add(entryWithTips("*1\r\n:1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseRESP(data)
		if err != nil {
			return
		}
		for _, base := range []*command.Table{new(command.Table), command.DefaultTable()} {
			tab, err := base.Learn(m)
			if err != nil {
				if !errors.Is(err, command.ErrCommandReply) {
					t.Fatalf("Learn: unexpected error %v", err)
				}
				continue
			}
			names := tab.Names()
			slices.Sort(names)
			if len(names) > 50 {
				names = names[:50]
			}
			for _, n := range names {
				for _, rest := range [][]string{nil, {"a"}, {"a", "b"}, {"2", "a", "b", "KEYS", "c", "d"}, {"x", "KEYS", "a", "b", "1", "2"}} {
					checkRouting(t, tab, append([]string{n}, rest...))
				}
				c, _ := tab.Lookup(n)
				checkTips(t, c)
				for _, s := range c.Subcommands() {
					checkRouting(t, tab, []string{n, s[strings.IndexByte(s, '|')+1:], "a", "b"})
				}
			}
		}
	})
}

// checkTips: a learned command's tips are known policies.
func checkTips(t *testing.T, c *command.Command) {
	t.Helper()
	if c.Tips.Request > command.RequestSpecial || c.Tips.Response > command.ResponseSpecial {
		t.Fatalf("%s: tips out of range: %+v", c.Name, c.Tips)
	}
	for _, s := range c.Subcommands() {
		sc, _ := c.Subcommand(s[strings.IndexByte(s, '|')+1:])
		if sc.Tips.Request > command.RequestSpecial || sc.Tips.Response > command.ResponseSpecial {
			t.Fatalf("%s: tips out of range: %+v", sc.Name, sc.Tips)
		}
	}
}
