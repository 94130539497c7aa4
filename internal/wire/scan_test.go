package wire

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// validReplies are well-formed RESP2/RESP3 streams and the number of
// top-level replies (pushes and attributes not counted) in each.
var validReplies = []struct {
	in   string
	tops int
}{
	{"+OK\r\n", 1},
	{"-ERR wrong\r\n", 1},
	{":42\r\n:-1\r\n", 2},
	{"$5\r\nhello\r\n", 1},
	{"$0\r\n\r\n", 1},
	{"$-1\r\n", 1},
	{"*-1\r\n", 1},
	{"*0\r\n", 1},
	{"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", 1},
	{"%2\r\n+k\r\n:1\r\n+k2\r\n*0\r\n", 1},
	{"~2\r\n+a\r\n+b\r\n", 1},
	{"_\r\n#t\r\n#f\r\n,3.14\r\n(12345678901234567890\r\n", 5},
	{"=15\r\ntxt:Some string\r\n", 1},
	{"!21\r\nSYNTAX invalid syntax\r\n", 1},
	{">3\r\n+message\r\n+ch\r\n+hi\r\n+OK\r\n", 1},
	{"|1\r\n+ttl\r\n:3600\r\n+value\r\n", 1},
	{"*1\r\n|1\r\n+a\r\n+b\r\n:7\r\n", 1},
	{"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;0\r\n", 1},
	{"*?\r\n:1\r\n*?\r\n.\r\n:2\r\n.\r\n", 1},
	{"%?\r\n+a\r\n:1\r\n.\r\n", 1},
	{".\r\n", 1},
	{"*3\r\n.\r\n_\r\n.\r\n", 1},
	{"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*1\r\n$4\r\nPING\r\n", 2},
}

func feedSplit(t *testing.T, in string, at int) (*scanner, int) {
	t.Helper()
	tops := 0
	s := newScanner(Limits{}, "n", func(byte) string { tops++; return "" })
	require.NoError(t, s.feed([]byte(in[:at])), "first part of %q", in)
	require.NoError(t, s.feed([]byte(in[at:])), "second part of %q", in)
	return s, tops
}

func TestScanValid(t *testing.T) {
	for _, c := range validReplies {
		for at := 0; at <= len(c.in); at++ {
			s, tops := feedSplit(t, c.in, at)
			require.Equal(t, c.tops, tops, "%q split at %d", c.in, at)
			require.Empty(t, s.frames, "%q split at %d: an aggregate is left open", c.in, at)
			require.EqualValues(t, stType, s.st, "%q split at %d: an item is left open", c.in, at)
			require.EqualValues(t, len(c.in), s.off)
		}
	}
}

func TestScanHostile(t *testing.T) {
	cases := map[string]string{
		"huge array":          "*9223372036854775807\r\n",
		"huge bulk":           "$9223372036854775807\r\n",
		"huge attribute":      "|9223372036854775807\r\n",
		"beyond int64":        "*9223372036854775808\r\n",
		"twenty digits":       "$99999999999999999999\r\n",
		"negative bulk":       "$-2\r\n",
		"negative array":      "*-5\r\n",
		"null map":            "%-1\r\n",
		"map overflow":        "%4611686018427387904\r\n",
		"bulk past limit":     "$536870913\r\n",
		"array past limit":    "*16777217\r\n",
		"negative chunk":      "$?\r\n;-3\r\n",
		"huge chunk":          "$?\r\n;9999999999\r\n",
		"unknown type":        "@x\r\n",
		"long length line":    "$" + strings.Repeat("0", 40) + "\r\n",
		"not a digit":         "$1x\r\n",
		"no crlf":             "$\n",
		"chunk marker ?":      "$?\r\n;?\r\n",
		"stray chunk at top":  ";4\r\nabcd\r\n",
		"nested too deep":     strings.Repeat("*1\r\n", DefaultMaxDepth+1),
		"deep streamed":       strings.Repeat("*?\r\n", DefaultMaxDepth+1),
		"deep under an attr":  "|1\r\n+a\r\n" + strings.Repeat("~1\r\n", DefaultMaxDepth+1),
		"verbatim negative":   "=-7\r\n",
		"blob error too long": "!9223372036854775807\r\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			s := newScanner(Limits{}, "127.0.0.1:1", nil)
			err := s.feed([]byte(in))
			require.ErrorIs(t, err, ErrProtocol)
			require.Contains(t, err.Error(), "127.0.0.1:1")
			require.ErrorIs(t, s.feed([]byte("+OK\r\n")), ErrProtocol, "errors are sticky")
		})
	}
}

func TestScanLimits(t *testing.T) {
	s := newScanner(Limits{MaxBulk: 4}, "n", nil)
	require.NoError(t, s.feed([]byte("$4\r\nabcd\r\n")))
	require.ErrorIs(t, s.feed([]byte("$5\r\n")), ErrProtocol)

	s = newScanner(Limits{MaxBulk: 4}, "n", nil)
	require.ErrorIs(t, s.feed([]byte("+abcdefgh\r\n")), ErrProtocol, "a simple line beyond MaxBulk")

	s = newScanner(Limits{MaxElements: 2}, "n", nil)
	require.NoError(t, s.feed([]byte("*2\r\n:1\r\n:2\r\n%1\r\n:1\r\n:2\r\n")))
	require.ErrorIs(t, s.feed([]byte("%2\r\n")), ErrProtocol)

	s = newScanner(Limits{MaxDepth: 2}, "n", nil)
	require.NoError(t, s.feed([]byte("*1\r\n*1\r\n:1\r\n")))
	require.ErrorIs(t, s.feed([]byte("*1\r\n*1\r\n*1\r\n")), ErrProtocol)
}

func TestLimitsCheck(t *testing.T) {
	require.NoError(t, Limits{}.Check("Options.ReplyLimits"))
	require.ErrorContains(t, Limits{MaxBulk: -1}.Check("Options.ReplyLimits"), "Options.ReplyLimits.MaxBulk")
	require.ErrorContains(t, Limits{MaxElements: -1}.Check("X"), "X.MaxElements")
	require.ErrorContains(t, Limits{MaxDepth: -1}.Check("X"), "X.MaxDepth")
	require.ErrorContains(t, Limits{MaxBulk: 1<<63 - 1}.Check("X"), "X.MaxBulk")
	require.ErrorContains(t, Limits{MaxElements: 1 << 62}.Check("X"), "X.MaxElements")
	require.EqualValues(t, int64(maxMaxBulk), Limits{MaxBulk: 1<<63 - 1}.WithDefaults().MaxBulk)
	d := Limits{}.WithDefaults()
	require.EqualValues(t, DefaultMaxBulk, d.MaxBulk)
	require.EqualValues(t, DefaultMaxElements, d.MaxElements)
	require.EqualValues(t, DefaultMaxDepth, d.MaxDepth)
}

// FuzzScan checks that the scanner never panics, that splitting the input
// does not change its verdict, and that it accepts the valid replies.
func FuzzScan(f *testing.F) {
	for _, c := range validReplies {
		f.Add([]byte(c.in), uint16(1))
	}
	f.Add([]byte("*9223372036854775807\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, at uint16) {
		whole := newScanner(Limits{MaxDepth: 64}, "n", nil)
		werr := whole.feed(in)
		k := int(at) % (len(in) + 1)
		split := newScanner(Limits{MaxDepth: 64}, "n", nil)
		serr := split.feed(in[:k])
		if serr == nil {
			serr = split.feed(in[k:])
		}
		if (werr == nil) != (serr == nil) {
			t.Fatalf("whole: %v, split at %d: %v", werr, k, serr)
		}
		if werr == nil {
			require.Equal(t, whole.st, split.st)
			require.Equal(t, whole.frames, split.frames)
		}
	})
}
