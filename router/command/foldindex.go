package command

import (
	"maps"
	"slices"
	"strings"
)

// foldIndex is a read-only, case-insensitive index of a name → *Command
// map built by addName (every key lower case, plus its upper-case
// alias): open addressing with linear probing, a power-of-two number of
// slots, at most half of them used. A lookup hashes the ASCII-lower-cased
// name in one pass and compares candidates with a fold-equal loop: no
// lower-casing into a buffer, no Go map.
//
// It answers exactly as lookupFold on the map it was built from (see
// newFoldIndex for the one rare case it hands back to the map). The zero
// foldIndex is empty.
type foldIndex struct {
	entries []foldEntry
	mask    uint32
}

// foldEntry is one command under its lower-case name; name == "" marks a
// free slot. When the name has at most 8 bytes, word is the name as a
// word (loadWord) and upper its upper-case spelling as a word: a name
// spelled in lower or in upper case matches one of them as it is.
type foldEntry struct {
	hash  uint32
	name  string
	word  uint64
	upper uint64
	cmd   *Command
}

// foldBits is the 0x20 bit of every byte of a word: set, it lower-cases
// the ASCII letters (and changes some other bytes).
const foldBits = 0x2020202020202020

// foldHash hashes s so that names equal but for ASCII case hash the
// same, in constant time: a name of up to 8 bytes whole (loadWord), a
// longer one by its first and last four bytes (edgeWord), with the 0x20
// bit set in every byte (other bytes than letters may then collide, and
// long names that differ only in their middle do: the comparison sorts
// that out). The length is mixed in.
func foldHash(s string) uint32 {
	if len(s) <= 8 {
		return mixHash(loadWord(s)|foldBits, len(s))
	}
	return mixHash(edgeWord(s), len(s))
}

// mixHash mixes the word x and the length n into a 32-bit hash.
func mixHash(x uint64, n int) uint32 {
	x ^= uint64(n) * 0x9e3779b97f4a7c15
	x *= 0xc4ceb9fe1a85ec53 // murmur3's fmix64 constant: 7 probes at most for the static table, 1.36 on average
	return uint32(x >> 32)
}

// loadWord returns the bytes of s, which has at most 8, as a
// little-endian word padded with zeros.
func loadWord(s string) uint64 {
	if len(s) >= 4 {
		return loadWord4(s)
	}
	return loadWord3(s)
}

// loadWord4 is loadWord for 4 to 8 bytes: the first four and the last
// four, which may overlap (OR puts the same bytes at the same places).
func loadWord4(s string) uint64 {
	return uint64(le32(s)) | uint64(le32(s[len(s)-4:]))<<(8*(len(s)-4)&63)
}

// le32 returns the first four bytes of s as a little-endian word.
func le32(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// loadWord3 is loadWord for 0 to 3 bytes: the first, middle and last.
func loadWord3(s string) uint64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	return uint64(s[0]) | uint64(s[n/2])<<(8*(n/2)) | uint64(s[n-1])<<(8*(n-1)&63)
}

// lowerWord lower-cases the ASCII letters among the 8 bytes of x, and
// changes no other byte: a byte is upper case when its low 7 bits are in
// 'A'..'Z' (sums that cannot carry into the next byte) and its high bit
// is clear.
func lowerWord(x uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	a := x &^ high
	ge := a + (0x80-'A')*ones   // high bit: low 7 bits >= 'A'
	gt := a + (0x80-'Z'-1)*ones // high bit: low 7 bits > 'Z'
	upper := ge &^ gt &^ x & high
	return x | upper>>2
}

// edgeWord returns the first and the last four bytes of s (at least 8)
// with the 0x20 bit set in every byte.
func edgeWord(s string) uint64 {
	return (uint64(le32(s)) | uint64(le32(s[len(s)-4:]))<<32) | 0x2020202020202020
}

// isLowerASCII reports whether s is ASCII without upper-case letters.
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= 0x80 || 'A' <= b && b <= 'Z' {
			return false
		}
	}
	return true
}

// newFoldIndex indexes m, whose keys are names as filed by addName. It
// returns false when m holds a key the index cannot answer for exactly as
// lookupFold does: one that is not lower-case ASCII nor the upper-case
// alias of a lower-case ASCII key of m (names learned from a server are
// ASCII; this keeps the map's semantics for anything else), or the empty
// name.
func newFoldIndex(m map[string]*Command) (foldIndex, bool) {
	n := 0
	for key, c := range m {
		if key == "" {
			return foldIndex{}, false
		}
		if isLowerASCII(key) {
			n++
			continue
		}
		lower := strings.ToLower(key)
		if !isLowerASCII(lower) || strings.ToUpper(lower) != key || m[lower] != c {
			return foldIndex{}, false
		}
	}
	size := 8
	for size < 2*n {
		size *= 2
	}
	x := foldIndex{entries: make([]foldEntry, size), mask: uint32(size - 1)}
	// In sorted order, so that equal maps give equal indexes.
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if !isLowerASCII(key) {
			continue
		}
		c := m[key]
		h := foldHash(key)
		i := h & x.mask
		for x.entries[i].name != "" { // at most half full: a free slot exists
			i = (i + 1) & x.mask
		}
		x.entries[i] = foldEntry{hash: h, name: key, cmd: c}
		if len(key) <= 8 {
			x.entries[i].word = loadWord(key)
			x.entries[i].upper = loadWord(strings.ToUpper(key)) // key is ASCII
		}
	}
	return x, true
}

// lookup returns the command whose lower-case name equals name, a name
// longer than 8 bytes, but for ASCII case. (Table.Lookup looks names of
// 1 to 8 bytes up itself, comparing them as one word: the hot path.)
func (x *foldIndex) lookup(name string) (*Command, bool) {
	if len(x.entries) == 0 {
		return nil, false
	}
	n := len(name)
	h := mixHash(edgeWord(name), n) // foldHash
	for i, probes := h&x.mask, 0; probes < len(x.entries); i, probes = (i+1)&x.mask, probes+1 {
		e := &x.entries[i]
		if e.name == "" {
			return nil, false
		}
		if e.hash == h && len(e.name) == n && equalFold(name, e.name) {
			return e.cmd, true
		}
	}
	return nil, false
}
