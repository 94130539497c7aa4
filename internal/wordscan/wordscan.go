// Package wordscan has the byte tricks that package slots and package
// hashtag share on their hot paths: a byte test eight bytes at a time,
// and a []byte viewed as a string without copying. Its functions are
// small enough to be inlined into their callers.
package wordscan

import "unsafe"

// View returns b as a string without copying. The string must not
// outlive b or be retained; it is only scanned.
func View(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// HasBrace reports whether one of the first 8 bytes of s is '{' (s has
// at least 8 bytes): it XORs them, as one word, with '{' in every byte
// and tests the word for a zero byte (exactly, without false positives).
func HasBrace(s string) bool {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	x ^= 0x7b7b7b7b7b7b7b7b
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}
