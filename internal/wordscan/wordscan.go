// Package wordscan has the byte tricks that package slots and package
// hashtag share on their hot paths: a test for '{' four or eight bytes
// at a time, and a []byte viewed as a string without copying. Its
// functions are small enough to be inlined into their callers.
package wordscan

import (
	"math/bits"
	"unsafe"
)

// View returns b as a string without copying. The string must not
// outlive b or be retained; it is only scanned.
func View(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Braces is non-zero exactly when one of the first 8 bytes of s is '{'
// (s has at least 8 bytes): it XORs them, as one word, with '{' in every
// byte and tests the word for a zero byte (exactly, without false
// positives). A word, not a bool, so that a caller tests two with one
// branch: Braces(a)|Braces(b) != 0.
func Braces(s string) uint64 {
	return zeroBytes(word(s) ^ braces)
}

// Braces4 is Braces for the first 4 bytes of s (at least 4).
func Braces4(s string) uint32 {
	_ = s[3]
	x := uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
	x ^= braces & 0xffffffff
	return (x - 0x01010101) &^ x & 0x80808080
}

// First is the position of the first '{' in the bytes whose Braces (or
// Braces4) is m, not zero: the lowest bit of m is exact (only the bits
// above it may be set by a borrow).
func First(m uint64) int {
	return bits.TrailingZeros64(m) >> 3
}

// braces is '{' in every byte of a word.
const braces = 0x7b7b7b7b7b7b7b7b

// word returns the first 8 bytes of s (at least 8) as a little-endian
// word.
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroBytes is non-zero exactly when x has a zero byte.
func zeroBytes(x uint64) uint64 {
	return (x - 0x0101010101010101) &^ x & 0x8080808080808080
}
