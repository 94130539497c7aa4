package topology

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/require"
)

// fuzzWords are the strings the structure decoder can pick by index, so
// the fuzzer reaches field names and values quickly.
var fuzzWords = []string{
	"slots", "nodes", "id", "port", "tls-port", "ip", "endpoint", "hostname", "role",
	"master", "replica", "health", "online", "failed", "loading", "replication-offset",
	"?", "", "127.0.0.1", "::1", "localhost", "fail", "slave", "primary",
	"b785ac81474bfaa23c5100e39c71165368a409a9", "a14c2563d27b4e9256fa1a9bd4d904d89fe3a12e",
}

// Opcodes of the deterministic bytes -> RedisMessage decoder.
const (
	opArray = iota
	opMap
	opInt
	opWord
	opNil
	opError
	opRaw
	opBlob
	opCount
)

// fuzzDecoder builds a rueidis.RedisMessage tree from bytes with the
// rueidis mock constructors: a test-only structure decoder, not RESP.
type fuzzDecoder struct {
	b     []byte
	nodes int
}

func (d *fuzzDecoder) byte() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *fuzzDecoder) msg(depth int) rueidis.RedisMessage {
	d.nodes++
	if depth > 6 || d.nodes > 4000 {
		return mock.RedisInt64(0)
	}
	switch d.byte() % opCount {
	case opArray:
		n := int(d.byte() % 16)
		el := make([]rueidis.RedisMessage, 0, n)
		for i := 0; i < n; i++ {
			el = append(el, d.msg(depth+1))
		}
		return mock.RedisArray(el...)
	case opMap:
		n := int(d.byte() % 10)
		m := make(map[string]rueidis.RedisMessage, n)
		for i := 0; i < n; i++ {
			k := fuzzWords[int(d.byte())%len(fuzzWords)]
			m[k] = d.msg(depth + 1)
		}
		return mock.RedisMap(m)
	case opInt:
		var buf [4]byte
		for i := range buf {
			buf[i] = d.byte()
		}
		return mock.RedisInt64(int64(int32(binary.BigEndian.Uint32(buf[:]))))
	case opWord:
		return mock.RedisBlobString(fuzzWords[int(d.byte())%len(fuzzWords)])
	case opNil:
		return mock.RedisNil()
	case opError:
		return mock.RedisError("ERR fuzz")
	case opRaw:
		n := int(d.byte() % 48)
		if n > len(d.b) {
			n = len(d.b)
		}
		s := string(d.b[:n])
		d.b = d.b[n:]
		return mock.RedisString(s)
	default:
		return mock.RedisBlobString(fuzzWords[int(d.byte())%len(fuzzWords)] + string(rune('0'+d.byte()%10)))
	}
}

// fuzzEncode is the decoder's inverse for seeds: it turns a real reply
// (from testdata/replies) into decoder bytes.
func fuzzEncode(m *rueidis.RedisMessage, out []byte) []byte {
	switch {
	case m.IsMap():
		kv, _ := m.AsMap()
		out = append(out, opMap, byte(len(kv)))
		for k, v := range kv {
			out = append(out, wordIndex(k))
			out = fuzzEncode(&v, out)
		}
	case m.IsArray():
		arr, _ := m.ToArray()
		out = append(out, opArray, byte(len(arr)))
		for i := range arr {
			out = fuzzEncode(&arr[i], out)
		}
	case m.IsInt64():
		v, _ := m.AsInt64()
		var buf [4]byte
		binary.BigEndian.PutUint32(buf[:], uint32(int32(v)))
		out = append(append(out, opInt), buf[:]...)
	case m.IsNil():
		out = append(out, opNil)
	default:
		s, _ := m.ToString()
		if i := wordIndex(s); fuzzWords[i] == s {
			return append(out, opWord, i)
		}
		if len(s) > 47 {
			s = s[:47]
		}
		out = append(append(out, opRaw, byte(len(s))), s...)
	}
	return out
}

func wordIndex(s string) byte {
	for i, w := range fuzzWords {
		if w == s {
			return byte(i)
		}
	}
	return 17 // ""
}

func checkFuzzView(t *testing.T, v View, err error) {
	if err != nil {
		if !errors.Is(err, ErrMalformedReply) && !errors.Is(err, ErrErrorReply) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	for _, sh := range v.Shards {
		if sh.Primary == nil || sh.Primary.Announced == "" {
			t.Fatalf("shard without a usable primary: %+v", sh)
		}
		for _, r := range sh.Ranges {
			if !r.Valid() {
				t.Fatalf("invalid range %v", r)
			}
		}
	}
	// Whatever parsed must reconcile without panicking.
	if _, err := Reconcile(nil, []View{v}, ReconcileOptions{}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
}

func addReplySeeds(f *testing.F, cmd string) {
	for _, shape := range []string{"healthy", "failed", "failedover", "hostname"} {
		for _, resp3 := range []bool{false, true} {
			m := capturedMessage(f, shape, cmd, resp3)
			f.Add(fuzzEncode(&m, nil))
		}
	}
}

func FuzzParseShards(f *testing.F) {
	addReplySeeds(f, "shards")
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &fuzzDecoder{b: data}
		v, err := ParseShards(d.msg(0), "127.0.0.1:7000")
		checkFuzzView(t, v, err)
	})
}

func FuzzParseSlots(f *testing.F) {
	addReplySeeds(f, "slots")
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &fuzzDecoder{b: data}
		v, err := ParseSlots(d.msg(0), "[::1]:7000")
		checkFuzzView(t, v, err)
	})
}

func FuzzParseNodes(f *testing.F) {
	for _, shape := range []string{"healthy", "migrating", "failed", "failedover", "hostname"} {
		m := capturedMessage(f, shape, "nodes", false)
		text, err := m.ToString()
		require.NoError(f, err)
		f.Add(text, answeredOf(f, shape))
	}
	f.Add("aaaa :0@0 myself,master - 0 0 1 connected 0-5 [6->-bbbb] [7-<-cccc]\n", "")
	f.Fuzz(func(t *testing.T, text, answered string) {
		v, err := ParseNodes(text, answered)
		checkFuzzView(t, v, err)
		if err == nil && len(v.Facts) == 0 {
			t.Fatal("no facts without an error")
		}
	})
}

// TestWriteFuzzSeeds refreshes testdata/fuzz seed files from the captured
// replies (TOPOLOGY_CAPTURE=1 only).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("TOPOLOGY_CAPTURE") != "1" {
		t.Skip("set TOPOLOGY_CAPTURE=1 to rewrite fuzz seeds")
	}
	for _, cmd := range []string{"shards", "slots"} {
		name := map[string]string{"shards": "FuzzParseShards", "slots": "FuzzParseSlots"}[cmd]
		dir := filepath.Join("testdata", "fuzz", name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, shape := range []string{"healthy", "failedover"} {
			m := capturedMessage(t, shape, cmd, true)
			b := fuzzEncode(&m, nil)
			body := "go test fuzz v1\n[]byte(" + quoteGo(b) + ")\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "seed-"+shape), []byte(body), 0o644))
		}
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseNodes")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	m := capturedMessage(t, "migrating", "nodes", false)
	text, _ := m.ToString()
	body := "go test fuzz v1\nstring(" + quoteGo([]byte(text)) + ")\nstring(\"127.0.0.1:20133\")\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seed-migrating"), []byte(body), 0o644))
}

func quoteGo(b []byte) string {
	const hex = "0123456789abcdef"
	out := []byte{'"'}
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c >= 0x20 && c < 0x7f:
			out = append(out, c)
		default:
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return string(append(out, '"'))
}

// The fuzz decoder reproduces real replies, so seeds start where it matters.
func TestFuzzDecoderRoundTrip(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		m := capturedMessage(t, "failedover", "shards", resp3)
		want, err := ParseShards(m, "127.0.0.1:1")
		require.NoError(t, err)
		d := &fuzzDecoder{b: fuzzEncode(&m, nil)}
		got, err := ParseShards(d.msg(0), "127.0.0.1:1")
		require.NoError(t, err)
		require.Equal(t, summarize(&want), summarize(&got))

		m = capturedMessage(t, "failed", "slots", resp3)
		want, err = ParseSlots(m, "127.0.0.1:1")
		require.NoError(t, err)
		d = &fuzzDecoder{b: fuzzEncode(&m, nil)}
		got, err = ParseSlots(d.msg(0), "127.0.0.1:1")
		require.NoError(t, err)
		require.Equal(t, summarize(&want), summarize(&got))
	}
}
