package slots_test

import (
	"bufio"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
)

func TestCRC16SpecVector(t *testing.T) {
	assert.Equal(t, uint16(0x31C3), slots.CRC16([]byte("123456789")))
	assert.Equal(t, uint16(0x31C3), refCRC16([]byte("123456789")))
	assert.Equal(t, uint16(0), slots.CRC16(nil))
}

// TestCRC16MatchesReference covers every length around the 16-byte blocks
// of the fast path, with random contents.
func TestCRC16MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1100)
	for n := 0; n <= len(buf); n++ {
		for range 4 {
			for i := range buf[:n] {
				buf[i] = byte(r.Uint32())
			}
			require.Equal(t, refCRC16(buf[:n]), slots.CRC16(buf[:n]), "length %d", n)
		}
	}
}

func TestOfKnownSlots(t *testing.T) {
	// Slots as printed by the Redis Cluster specification and redis-cli.
	assert.Equal(t, slots.Slot(12182), slots.Of("foo"))
	assert.Equal(t, slots.Slot(5061), slots.Of("bar"))
	assert.Equal(t, slots.Of("somethingelse"), slots.Of("{somethingelse}{a}"))
	assert.Equal(t, slots.Of("user1000"), slots.Of("{user1000}.following"))
	assert.Equal(t, slots.Of("foo{}{bar}"), slots.Slot(refSlot([]byte("foo{}{bar}"))))
	assert.Equal(t, slots.Of("{bar"), slots.Of("foo{{bar}}zap"))
	assert.Equal(t, slots.Of("x{tag}"), slots.OfBytes([]byte("y{tag}z")))
}

func TestOfAllocatesNothing(t *testing.T) {
	key := []byte("some:{user:1234}:key:with:a:tag-and-a-longer-tail-0123456789")
	s := string(key)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = slots.Of(s) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = slots.OfBytes(key) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = slots.CRC16(key) }))
}

// TestVectors checks Of against slots computed by a real Redis server
// (CLUSTER KEYSLOT) and committed under testdata; see TestKeyslotServer
// for how they are made.
func TestVectors(t *testing.T) {
	vs := readVectors(t)
	require.GreaterOrEqual(t, len(vs), 10000)
	for _, v := range vs {
		require.Equal(t, v.slot, slots.OfBytes(v.key), "key %x", v.key)
		require.Equal(t, v.slot, slots.Of(string(v.key)), "key %x", v.key)
	}
}

type vector struct {
	key  []byte
	slot slots.Slot
}

const vectorsFile = "testdata/keyslot_vectors.txt"

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open(vectorsFile)
	require.NoError(t, err)
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, s, ok := strings.Cut(line, " ")
		require.True(t, ok, "malformed vector line %q", line)
		key, err := hex.DecodeString(k)
		require.NoError(t, err, line)
		n, err := strconv.Atoi(s)
		require.NoError(t, err, line)
		out = append(out, vector{key: key, slot: slots.Slot(n)})
	}
	require.NoError(t, sc.Err())
	return out
}

// vectorKeys returns the keys sent to the server: adversarial shapes, then
// seeded random bytes of length 0-300 (some with braces planted).
func vectorKeys() [][]byte {
	shapes := []string{
		"", "{", "}", "{}", "}{", "{}{a}", "{{a}}", "a{b}c{d}", "}{a}", "{a", "a}", "{a}", "{}a", "a{}",
		"foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{user1000}.following", "123456789",
		"\x00", "\xff", "\x00{\xff}", "{\x00}", "{\xff\xfe}", "ключ", "{ключ}x", "é{é}", "日本語{タグ}",
		"\xf0\x9f\x98\x80", "{\xf0\x9f\x98\x80}", "\xc3", "{\xc3}\xa9", strings.Repeat("{", 300), strings.Repeat("}", 300),
		strings.Repeat("a", 300), "{" + strings.Repeat("b", 298) + "}",
	}
	keys := make([][]byte, 0, 10500)
	for _, s := range shapes {
		keys = append(keys, []byte(s))
	}
	r := rand.New(rand.NewPCG(16384, 0x31C3))
	for len(keys) < 10500 {
		n := r.IntN(301)
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(r.Uint32())
		}
		if n >= 3 && r.IntN(2) == 0 { // plant a tag somewhere
			i := r.IntN(n - 2)
			j := i + 1 + r.IntN(n-i-1)
			k[i], k[j] = '{', '}'
		}
		keys = append(keys, k)
	}
	return keys
}

func FuzzOf(f *testing.F) {
	for _, k := range vectorKeys()[:60] {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		want := refSlot(key)
		if got := slots.OfBytes(key); uint16(got) != want {
			t.Fatalf("OfBytes(%x) = %d, reference %d", key, got, want)
		}
		if got := slots.Of(string(key)); uint16(got) != want {
			t.Fatalf("Of(%x) = %d, reference %d", key, got, want)
		}
		if got, ref := slots.CRC16(key), refCRC16(key); got != ref {
			t.Fatalf("CRC16(%x) = %#x, reference %#x", key, got, ref)
		}
	})
}

// TestOfMatchesReference checks Of and OfBytes against the reference at
// every length up to 40 bytes (Of's short path takes up to 15, each
// remainder of its 8-, 4- and 1-byte steps), with and without a hash tag.
func TestOfMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 40; n++ {
		for range 8 {
			key := make([]byte, n)
			for i := range key {
				key[i] = 'a' + byte(r.IntN(26))
			}
			require.Equal(t, refSlot(key), uint16(slots.Of(string(key))), "%q", key)
			require.Equal(t, refSlot(key), uint16(slots.OfBytes(key)), "%q", key)
			tagged := []byte("{" + string(key) + "}x")
			require.Equal(t, refSlot(tagged), uint16(slots.Of(string(tagged))), "%q", tagged)
		}
	}
}
