package hashtag_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/hashtag"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reference is the key-hashing rule written as literally as the Redis
// Cluster specification states it (keyHashSlot in cluster.c).
func reference(key []byte) []byte {
	s := -1
	for i := range key {
		if key[i] == '{' {
			s = i
			break
		}
	}
	if s == -1 {
		return key
	}
	e := -1
	for j := s + 1; j < len(key); j++ {
		if key[j] == '}' {
			e = j
			break
		}
	}
	if e == -1 || e == s+1 {
		return key
	}
	return key[s+1 : e]
}

var cases = []struct {
	key, want string
	tagged    bool
}{
	{"", "", false},
	{"foo", "foo", false},
	{"{user1000}.following", "user1000", true},
	{"{user1000}.followers", "user1000", true},
	{"foo{}{bar}", "foo{}{bar}", false},
	{"foo{{bar}}zap", "{bar", true},
	{"foo{bar}{zap}", "bar", true},
	{"{}", "{}", false},
	{"{", "{", false},
	{"}", "}", false},
	{"}{a}", "a", true},
	{"{a", "{a", false},
	{"a}", "a}", false},
	{"{}{a}", "{}{a}", false},
	{"{{a}}", "{a", true},
	{"a{b}c{d}", "b", true},
	{"{a}}", "a", true},
	{"\x00{\xff}\x00", "\xff", true},
	{"ключ{тег}", "тег", true},
	{"{\u00e9}", "\u00e9", true},
}

func TestExtract(t *testing.T) {
	for _, c := range cases {
		assert.Equal(t, c.want, hashtag.Extract(c.key), "Extract(%q)", c.key)
		assert.Equal(t, []byte(c.want), []byte(hashtag.ExtractBytes([]byte(c.key))), "ExtractBytes(%q)", c.key)
		assert.Equal(t, c.want, string(reference([]byte(c.key))), "reference(%q)", c.key)
		tag, ok := hashtag.Tag(c.key)
		assert.Equal(t, c.tagged, ok, "Tag(%q)", c.key)
		if ok {
			assert.Equal(t, c.want, tag)
		} else {
			assert.Empty(t, tag)
		}
	}
}

func TestExtractBytesAliases(t *testing.T) {
	key := []byte("x{tag}y")
	got := hashtag.ExtractBytes(key)
	assert.Equal(t, "tag", string(got))
	key[2] = 'T'
	assert.Equal(t, "Tag", string(got), "ExtractBytes must return a sub-slice of its input, not a copy")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = hashtag.ExtractBytes(key) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = hashtag.Extract("a{b}c") }))
}

func TestWrapAndKey(t *testing.T) {
	assert.Equal(t, "{cart:7}", hashtag.Wrap("cart:7"))
	assert.Equal(t, "{cart:7}items", hashtag.Key("cart:7", "items"))
	for _, tag := range []string{"a", "cart:7", "{x", "\x00", "long tag with spaces"} {
		assert.True(t, hashtag.Valid(tag), tag)
		assert.Equal(t, tag, hashtag.Extract(hashtag.Key(tag, "anything{else}")), "a valid tag must be what the key hashes")
		assert.Equal(t, tag, hashtag.Extract("prefix"+hashtag.Wrap(tag)), "Wrap must survive a prefix without braces")
	}
	for _, tag := range []string{"", "a}b", "}"} {
		assert.False(t, hashtag.Valid(tag), tag)
	}
}

func TestShared(t *testing.T) {
	tag, ok := hashtag.Shared("{u1}.a", "{u1}.b", "x{u1}")
	assert.True(t, ok)
	assert.Equal(t, "u1", tag)

	_, ok = hashtag.Shared("{u1}.a", "{u2}.a")
	assert.False(t, ok)

	tag, ok = hashtag.Shared("same", "same")
	assert.True(t, ok)
	assert.Equal(t, "same", tag)

	_, ok = hashtag.Shared()
	assert.True(t, ok)
}

func FuzzExtract(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c.key))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		want := reference(key)
		got := hashtag.ExtractBytes(key)
		if string(got) != string(want) {
			t.Fatalf("ExtractBytes(%q) = %q, reference %q", key, got, want)
		}
		if s := hashtag.Extract(string(key)); s != string(want) {
			t.Fatalf("Extract(%q) = %q, reference %q", key, s, want)
		}
		tag, ok := hashtag.Tag(string(key))
		if ok != (len(want) != len(key)) || (ok && tag != string(want)) {
			t.Fatalf("Tag(%q) = %q, %v inconsistent with Extract %q", key, tag, ok, want)
		}
		if ok && hashtag.Valid(tag) && hashtag.Extract(hashtag.Key(tag, string(key))) != tag {
			t.Fatalf("Key(%q, ...) does not hash the tag", tag)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	for _, key := range []string{"plainkey", "user:42:name", "user:{12345}:profile", "a-much-longer-key-without-any-braces-at-all-to-scan-through-0123456789"} {
		b.Run(key[:min(len(key), 12)], func(b *testing.B) {
			for b.Loop() {
				_ = hashtag.Extract(key)
			}
		})
	}
}

// TestExtractShortKeysEveryBrace: keys of 0 to 17 bytes (around the
// word-at-a-time scans for 4 to 7 and 8 to 16 bytes) with '{' and '}' at every pair
// of positions, and bytes next to '{' (0x7a, 0x7c, 0xfb), agree with the
// reference.
func TestExtractShortKeysEveryBrace(t *testing.T) {
	for n := 0; n <= 17; n++ {
		base := make([]byte, n)
		for i := range base {
			base[i] = []byte{'a', 0x7a, 0x7c, 0xfb, 0x00, 0x80}[i%6]
		}
		assert.Equal(t, string(reference(base)), hashtag.Extract(string(base)), "%q", base)
		for o := 0; o < n; o++ {
			for c := 0; c < n; c++ {
				key := append([]byte(nil), base...)
				key[o] = '{'
				if c != o {
					key[c] = '}'
				}
				assert.Equal(t, string(reference(key)), hashtag.Extract(string(key)), "%q", key)
			}
		}
	}
}
