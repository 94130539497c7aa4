package command_test

import (
	"testing"

	"github.com/slotrouter/slotrouter/router/command"
)

var benchCommands = []struct {
	name string
	args []string
}{
	{"GET", []string{"GET", "user:{42}:name"}},
	{"SET", []string{"SET", "user:{42}:name", "value"}},
	{"MGET10SameTag", []string{"MGET", "{u}1", "{u}2", "{u}3", "{u}4", "{u}5", "{u}6", "{u}7", "{u}8", "{u}9", "{u}10"}},
	{"EVAL2Keys", []string{"EVAL", "return redis.call('GET', KEYS[1])", "2", "{o}a", "{o}b", "arg"}},
	{"XREAD2Streams", []string{"XREAD", "COUNT", "10", "STREAMS", "{s}a", "{s}b", "0", "0"}},
	{"get_lowercase", []string{"get", "user:{42}:name"}},
	{"ObjectEncoding", []string{"OBJECT", "ENCODING", "k"}},
}

// BenchmarkSlot is the routing decision: command lookup, key positions,
// slot of every key, cross-slot check.
func BenchmarkSlot(b *testing.B) {
	tab := command.DefaultTable()
	for _, bc := range benchCommands {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := tab.Slot(bc.args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKeyIndexes is the key positions alone.
func BenchmarkKeyIndexes(b *testing.B) {
	tab := command.DefaultTable()
	var buf [16]int
	for _, bc := range benchCommands {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tab.KeyIndexes(bc.args, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIsReadOnly is the replica-read / retry decision.
func BenchmarkIsReadOnly(b *testing.B) {
	tab := command.DefaultTable()
	args := []string{"GET", "k"}
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.IsReadOnly(args)
	}
}

// BenchmarkLearn learns the whole captured Redis 7.0.15 COMMAND reply
// into the static table, as the client does once at start.
func BenchmarkLearn(b *testing.B) {
	raw, err := readCapture("resp3")
	if err != nil {
		b.Fatal(err)
	}
	m, err := parseRESP(raw)
	if err != nil {
		b.Fatal(err)
	}
	tab := command.DefaultTable()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.Learn(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup is the command-name lookup alone, in the spellings
// callers use (upper, lower, mixed case) and for an unknown name.
func BenchmarkLookup(b *testing.B) {
	tab := command.DefaultTable()
	for _, name := range []string{"GET", "get", "Get", "ZREVRANGEBYSCORE", "NOSUCHCMD"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab.Lookup(name)
			}
		})
	}
}
