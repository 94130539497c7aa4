// Package hashtag extracts the part of a Redis Cluster key that is hashed
// to choose its slot, following the hash-tag rules of the Redis Cluster
// specification.
//
// If a key contains a '{' and, somewhere after it, a '}' with at least one
// byte between them, only the bytes between the first '{' and the first '}'
// after it are hashed. Otherwise the whole key is hashed. Keys are treated
// as bytes and never decoded as text.
package hashtag

import (
	"strings"

	"github.com/slotrouter/slotrouter/internal/wordscan"
)

// Extract returns exactly the bytes of key that Redis Cluster hashes.
//
//	Extract("user:{42}:name") == "42"
//	Extract("foo{}{bar}")     == "foo{}{bar}" // empty first tag: whole key
//	Extract("foo{{bar}}zap")  == "{bar"
func Extract(key string) string {
	s, e, ok := span(key)
	if !ok {
		return key
	}
	return key[s:e]
}

// ExtractBytes is Extract for a key held as bytes. The result aliases key;
// it allocates nothing.
func ExtractBytes(key []byte) []byte {
	s, e, ok := span(wordscan.View(key))
	if !ok {
		return key
	}
	return key[s:e]
}

// Tag returns the hash tag of key (the bytes between the braces) and true,
// or "" and false when key has no usable hash tag and is hashed whole.
func Tag(key string) (string, bool) {
	s, e, ok := span(key)
	if !ok {
		return "", false
	}
	return key[s:e], true
}

// Wrap returns tag enclosed in braces, "{tag}", the form to embed in keys
// that must share a slot. Wrap does not check that tag is usable: a tag
// containing '}' is cut at that byte by the server, and an empty tag makes
// the server hash the whole key; see Valid.
func Wrap(tag string) string {
	return "{" + tag + "}"
}

// Key returns "{tag}suffix": a key whose slot is decided by tag alone.
func Key(tag, suffix string) string {
	return "{" + tag + "}" + suffix
}

// Valid reports whether tag can be used as a hash tag: non-empty and free
// of '}'. (A '{' inside a tag is allowed: "{{a}" hashes "{a".)
func Valid(tag string) bool {
	if tag == "" {
		return false
	}
	return strings.IndexByte(tag, '}') < 0
}

// Shared reports whether all keys hash the same bytes, and returns those
// bytes. Keys that hash the same bytes always share a slot (the converse
// does not hold: different bytes may collide in CRC16). With no keys it
// returns "", true.
func Shared(keys ...string) (string, bool) {
	if len(keys) == 0 {
		return "", true
	}
	first := Extract(keys[0])
	for _, k := range keys[1:] {
		if Extract(k) != first {
			return "", false
		}
	}
	return first, true
}

// span finds the hashed part of key: the bytes between the first '{' and
// the first '}' after it, when that part is non-empty.
func span(key string) (start, end int, ok bool) {
	// A key of 4 to 16 bytes: its first and last 8 (or 4) bytes, which
	// overlap in a shorter key, tested as two words for '{' without the
	// call into IndexByte. Without one (the common case) it has no tag;
	// with one, the words say where the first is.
	var open int
	switch n := len(key); {
	case n >= 8 && n <= 16:
		a, b := wordscan.Braces(key[:8]), wordscan.Braces(key[n-8:])
		if a|b == 0 {
			return 0, 0, false
		}
		open = firstOf(a, b, n-8)
	case n >= 4 && n < 8:
		a, b := wordscan.Braces4(key[:4]), wordscan.Braces4(key[n-4:])
		if a|b == 0 {
			return 0, 0, false
		}
		open = firstOf(uint64(a), uint64(b), n-4)
	default:
		if open = strings.IndexByte(key, '{'); open < 0 {
			return 0, 0, false
		}
	}
	n := strings.IndexByte(key[open+1:], '}')
	if n <= 0 { // no '}' after the '{', or "{}" (empty tag)
		return 0, 0, false
	}
	return open + 1, open + 1 + n, true
}

// firstOf is the position of the first '{' in a key whose first word's
// and last word's (at offset off) Braces are a and b, not both zero.
func firstOf(a, b uint64, off int) int {
	if a != 0 {
		return wordscan.First(a)
	}
	return off + wordscan.First(b)
}
