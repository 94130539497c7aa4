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
// free slot.
type foldEntry struct {
	hash uint32
	name string
	cmd  *Command
}

// foldHash hashes s so that names equal but for ASCII case hash the
// same, in constant time: it reads the first and the last four bytes
// (all of a name up to 8 bytes; for a short name, its first, middle and
// last byte) with the 0x20 bit set, which lower-cases the ASCII letters,
// and the length. Other bytes may collide, and longer names that differ
// only in their middle do: the comparison sorts that out.
func foldHash(s string) uint32 {
	n := len(s)
	var x uint64
	switch {
	case n >= 4:
		t := s[n-4:]
		x = uint64(uint32(s[0])|uint32(s[1])<<8|uint32(s[2])<<16|uint32(s[3])<<24) |
			uint64(uint32(t[0])|uint32(t[1])<<8|uint32(t[2])<<16|uint32(t[3])<<24)<<32
	case n > 0:
		x = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16
	}
	x = (x | 0x2020202020202020) ^ uint64(n)*0x9e3779b97f4a7c15
	x *= 0xff51afd7ed558ccd
	return uint32(x >> 32)
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
	}
	return x, true
}

// lookup returns the command whose lower-case name equals name but for
// ASCII case. It is the hot path of Table.Command: foldHash is repeated
// here, inline (TestLookupMatchesMap fails if the two differ).
func (x *foldIndex) lookup(name string) (*Command, bool) {
	if len(x.entries) == 0 {
		return nil, false
	}
	n := len(name)
	var w uint64
	switch {
	case n >= 4:
		t := name[n-4:]
		w = uint64(uint32(name[0])|uint32(name[1])<<8|uint32(name[2])<<16|uint32(name[3])<<24) |
			uint64(uint32(t[0])|uint32(t[1])<<8|uint32(t[2])<<16|uint32(t[3])<<24)<<32
	case n > 0:
		w = uint64(name[0]) | uint64(name[n/2])<<8 | uint64(name[n-1])<<16
	}
	w = (w | 0x2020202020202020) ^ uint64(n)*0x9e3779b97f4a7c15
	w *= 0xff51afd7ed558ccd
	h := uint32(w >> 32)
	for i, probes := h&x.mask, 0; probes < len(x.entries); i, probes = (i+1)&x.mask, probes+1 {
		e := &x.entries[i]
		if e.name == "" {
			return nil, false
		}
		if e.hash == h && equalFold(name, e.name) {
			return e.cmd, true
		}
	}
	return nil, false
}
