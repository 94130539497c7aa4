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

// foldHash is FNV-1a over the bytes of s with the 0x20 bit set, which
// lower-cases the ASCII letters: names equal but for ASCII case hash the
// same (other bytes may collide, which the comparison sorts out).
func foldHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i]|0x20)) * 16777619
	}
	return h
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
// ASCII case.
func (x *foldIndex) lookup(name string) (*Command, bool) {
	if len(x.entries) == 0 {
		return nil, false
	}
	h := foldHash(name)
	for i, n := h&x.mask, 0; n < len(x.entries); i, n = (i+1)&x.mask, n+1 {
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
