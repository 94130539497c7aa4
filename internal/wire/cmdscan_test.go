package wire

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// respCommand writes args as rueidis does: an array of bulk strings.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// generalCount counts the commands in stream with the general scanner
// (the one the write side used before cmdScanner) and reports whether a
// command was named like a subscribe command.
func generalCount(t *testing.T, stream string) (int, bool) {
	t.Helper()
	n, sub := 0, false
	s := newScanner(Limits{}, "n", func(byte) string { n++; return "" })
	s.firstOf = '*'
	s.first = func(content []byte, _ int64, _ bool) string {
		const suffix = "subscribe"
		if len(content) >= len(suffix) && foldEqual(content[len(content)-len(suffix):], suffix) {
			sub = true
		}
		return ""
	}
	require.NoError(t, s.feed([]byte(stream)))
	return n, sub
}

// TestCmdScanAgreesWithScanner: on streams of commands as rueidis writes
// them, split into random pieces, the command scanner counts what the
// general scanner counts, and sees the subscribe commands it sees.
func TestCmdScanAgreesWithScanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"GET", "set", "MGET", "SUBSCRIBE", "ssubscribe", "PUnsubscribe", "CLIENT", "x", "HELLO"}
	for round := range 300 {
		var stream strings.Builder
		for range 1 + rng.IntN(20) {
			args := []string{names[rng.IntN(len(names))]}
			for range rng.IntN(5) {
				args = append(args, strings.Repeat("v\r\n$*", rng.IntN(40)))
			}
			stream.WriteString(respCommand(args...))
		}
		in := stream.String()
		want, wantSub := generalCount(t, in)
		var s cmdScanner
		got, gotSub := 0, false
		for rest := in; len(rest) > 0; {
			k := 1 + rng.IntN(min(len(rest), 64))
			n, sub, ok := s.feed([]byte(rest[:k]))
			require.True(t, ok, "round %d: %q", round, in)
			got += n
			gotSub = gotSub || sub
			rest = rest[k:]
		}
		require.Equal(t, want, got, "round %d", round)
		require.Equal(t, wantSub, gotSub, "round %d", round)
		require.Equal(t, uint8(csStart), s.st, "round %d: a whole stream ends between commands", round)
	}
}

// TestCmdScanGivesUp: what rueidis does not write stops the counting for
// good, and the commands begun before the bad byte are still reported.
func TestCmdScanGivesUp(t *testing.T) {
	for _, in := range []string{
		"PING\r\n",                        // inline command
		"*1\r\n+PING\r\n",                 // not a bulk
		"*0\r\n",                          // empty array
		"*x\r\n",                          // not a count
		"*\r\n",                           // no digits
		"*1\r\n$1\r\naa\r\n*1",            // a bulk longer than it says: the next '*' is off
		"*1\r\n$99999999999999999999\r\n", // too many digits
		"*1\n",                            // no CR
	} {
		var s cmdScanner
		_, _, ok := s.feed([]byte(in))
		require.False(t, ok, "%q", in)
		n, _, ok := s.feed([]byte(respCommand("GET", "k")))
		require.False(t, ok, "%q: a failed scanner stays failed", in)
		require.Zero(t, n)
	}
	var s cmdScanner
	n, _, ok := s.feed([]byte(respCommand("GET", "k") + "?"))
	require.False(t, ok)
	require.Equal(t, 1, n)
}

func FuzzCmdScan(f *testing.F) {
	f.Add([]byte(respCommand("GET", "k")+respCommand("SUBSCRIBE", "ch")), uint16(7))
	f.Add([]byte("*9223372036854775807\r\n"), uint16(3))
	f.Add([]byte("*1\r\n$9223372036854775807\r\n"), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, at uint16) {
		var whole, split cmdScanner
		wn, wsub, wok := whole.feed(in)
		k := int(at) % (len(in) + 1)
		n1, s1, ok := split.feed(in[:k])
		n2, s2, ok2 := split.feed(in[k:])
		if ok {
			ok = ok2
		}
		require.Equal(t, wok, ok, "split at %d", k)
		if wok {
			require.Equal(t, wn, n1+n2)
			require.Equal(t, wsub, s1 || s2)
			// Both are at the same place of the same command.
			require.Equal(t, [3]int64{int64(whole.st), whole.left, whole.skip}, [3]int64{int64(split.st), split.left, split.skip})
		}
	})
}
