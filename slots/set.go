package slots

import (
	"iter"
	"math/bits"
)

const words = Count / 64

// Set is a set of slots: a fixed 16384-bit bitmap (2 KiB). The zero value
// is the empty set. Set is a value type; copying it copies the set.
type Set struct {
	w [words]uint64
}

// SetOf returns the set holding every slot of the given ranges. Invalid
// ranges are ignored.
func SetOf(rs ...Range) Set {
	var s Set
	for _, r := range rs {
		s.AddRange(r)
	}
	return s
}

// FullSet returns the set of all 16384 slots.
func FullSet() Set {
	var s Set
	for i := range s.w {
		s.w[i] = ^uint64(0)
	}
	return s
}

// Add puts slot x in the set. Slots outside 0..16383 are ignored.
func (s *Set) Add(x Slot) {
	if x < Count {
		s.w[x>>6] |= 1 << (x & 63)
	}
}

// Remove takes slot x out of the set.
func (s *Set) Remove(x Slot) {
	if x < Count {
		s.w[x>>6] &^= 1 << (x & 63)
	}
}

// Has reports whether slot x is in the set.
func (s *Set) Has(x Slot) bool {
	return x < Count && s.w[x>>6]&(1<<(x&63)) != 0
}

// AddRange adds every slot of r. An invalid range adds nothing.
func (s *Set) AddRange(r Range) { s.setRange(r, true) }

// RemoveRange removes every slot of r.
func (s *Set) RemoveRange(r Range) { s.setRange(r, false) }

func (s *Set) setRange(r Range, on bool) {
	if !r.Valid() {
		return
	}
	for x := int(r.Start); x <= int(r.End); {
		i, b := x>>6, uint(x&63)
		n := min(64-int(b), int(r.End)-x+1)
		mask := ^uint64(0) >> (64 - uint(n)) << b
		if on {
			s.w[i] |= mask
		} else {
			s.w[i] &^= mask
		}
		x += n
	}
}

// Count returns the number of slots in the set.
func (s *Set) Count() int {
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// Empty reports whether the set holds no slot.
func (s *Set) Empty() bool {
	for _, w := range s.w {
		if w != 0 {
			return false
		}
	}
	return true
}

// Equal reports whether s and o hold the same slots.
func (s *Set) Equal(o *Set) bool { return s.w == o.w }

// Union returns the slots in s or o.
func (s *Set) Union(o *Set) Set {
	var r Set
	for i := range r.w {
		r.w[i] = s.w[i] | o.w[i]
	}
	return r
}

// Intersect returns the slots in both s and o.
func (s *Set) Intersect(o *Set) Set {
	var r Set
	for i := range r.w {
		r.w[i] = s.w[i] & o.w[i]
	}
	return r
}

// Diff returns the slots in s that are not in o.
func (s *Set) Diff(o *Set) Set {
	var r Set
	for i := range r.w {
		r.w[i] = s.w[i] &^ o.w[i]
	}
	return r
}

// Complement returns the slots not in s.
func (s *Set) Complement() Set {
	var r Set
	for i := range r.w {
		r.w[i] = ^s.w[i]
	}
	return r
}

// All iterates over the slots in the set in ascending order.
func (s *Set) All() iter.Seq[Slot] {
	return func(yield func(Slot) bool) {
		for i, w := range s.w {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				if !yield(Slot(i<<6 | b)) {
					return
				}
				w &= w - 1
			}
		}
	}
}

// Ranges returns the set compressed to maximal runs, in ascending order.
func (s *Set) Ranges() []Range { return s.AppendRanges(nil) }

// AppendRanges appends the set's maximal runs to dst and returns it.
func (s *Set) AppendRanges(dst []Range) []Range {
	x := 0
	for x < Count {
		start, ok := s.next(x, true)
		if !ok {
			break
		}
		end, ok := s.next(start, false)
		if !ok {
			end = Count
		}
		dst = append(dst, Range{Start: Slot(start), End: Slot(end - 1)})
		x = end
	}
	return dst
}

// String formats the set as its runs, "0-5460 10923-16383".
func (s *Set) String() string { return FormatRanges(s.Ranges(), " ") }

// next returns the first slot >= from whose membership equals member.
func (s *Set) next(from int, member bool) (int, bool) {
	for i := from >> 6; i < words; i++ {
		w := s.w[i]
		if !member {
			w = ^w
		}
		if i == from>>6 {
			w &= ^uint64(0) << uint(from&63)
		}
		if w != 0 {
			return i<<6 | bits.TrailingZeros64(w), true
		}
	}
	return 0, false
}
