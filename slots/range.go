package slots

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidRange is wrapped by every error ParseRange and ParseRanges
// return, so callers can test for it with errors.Is.
var ErrInvalidRange = errors.New("slots: invalid slot range")

// Range is an inclusive run of slots, Start to End, as written by
// redis-cli and CLUSTER NODES ("0-5460", or "5461" for a single slot).
type Range struct {
	Start, End Slot
}

// Valid reports whether r is non-empty and inside 0..16383.
func (r Range) Valid() bool { return r.Start <= r.End && r.End < Count }

// Len returns the number of slots in r (0 for an invalid range).
func (r Range) Len() int {
	if !r.Valid() {
		return 0
	}
	return int(r.End-r.Start) + 1
}

// Contains reports whether s lies in r.
func (r Range) Contains(s Slot) bool { return r.Start <= s && s <= r.End }

// String formats r in redis-cli notation: "0-5460", or "7" for one slot.
func (r Range) String() string {
	if r.Start == r.End {
		return strconv.Itoa(int(r.Start))
	}
	return strconv.Itoa(int(r.Start)) + "-" + strconv.Itoa(int(r.End))
}

// ParseRange parses "N" or "N-M" (0 <= N <= M <= 16383).
func ParseRange(s string) (Range, error) {
	lo, hi, isPair := strings.Cut(s, "-")
	start, err := parseSlot(lo, s)
	if err != nil {
		return Range{}, err
	}
	end := start
	if isPair {
		if end, err = parseSlot(hi, s); err != nil {
			return Range{}, err
		}
	}
	if start > end {
		return Range{}, fmt.Errorf("%w %q: start %d is after end %d", ErrInvalidRange, s, start, end)
	}
	return Range{Start: start, End: end}, nil
}

// ParseRanges parses ranges separated by spaces and/or commas, as in
// "0-5460 5461,5462-10922". An empty string gives no ranges.
func ParseRanges(s string) ([]Range, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	out := make([]Range, 0, len(fields))
	for _, f := range fields {
		r, err := ParseRange(f)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// FormatRanges joins ranges in redis-cli notation separated by sep.
func FormatRanges(rs []Range, sep string) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// parseSlot parses one decimal slot number; whole is the text being parsed,
// for the error message.
func parseSlot(p, whole string) (Slot, error) {
	if p == "" {
		return 0, fmt.Errorf("%w %q: missing slot number", ErrInvalidRange, whole)
	}
	if len(p) > 5 {
		return 0, fmt.Errorf("%w %q: slot %q out of range 0-%d", ErrInvalidRange, whole, p, Max)
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q: %q is not a slot number", ErrInvalidRange, whole, p)
		}
		n = n*10 + int(c-'0')
	}
	if n >= Count {
		return 0, fmt.Errorf("%w %q: slot %d out of range 0-%d", ErrInvalidRange, whole, n, Max)
	}
	return Slot(n), nil
}
