package slots_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
)

func TestParseRange(t *testing.T) {
	good := map[string]slots.Range{
		"0-5460":      {0, 5460},
		"5461":        {5461, 5461},
		"0-16383":     {0, 16383},
		"16383":       {16383, 16383},
		"7-7":         {7, 7},
		"00010-00020": {10, 20},
	}
	for in, want := range good {
		got, err := slots.ParseRange(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want.Len(), int(want.End-want.Start)+1)
	}
	for _, in := range []string{"", "-", "1-", "-1", "16384", "0-16384", "99999", "5-3", "a", "1-2-3", "+1", " 1", "1 ", "１", "100000"} {
		_, err := slots.ParseRange(in)
		require.Error(t, err, "%q", in)
		assert.ErrorIs(t, err, slots.ErrInvalidRange, "%q", in)
	}
}

func TestRangeString(t *testing.T) {
	assert.Equal(t, "0-5460", slots.Range{0, 5460}.String())
	assert.Equal(t, "42", slots.Range{42, 42}.String())
	rs, err := slots.ParseRanges("0-5460 5461,5462-10922\t16383")
	require.NoError(t, err)
	assert.Equal(t, []slots.Range{{0, 5460}, {5461, 5461}, {5462, 10922}, {16383, 16383}}, rs)
	assert.Equal(t, "0-5460,5461,5462-10922,16383", slots.FormatRanges(rs, ","))
	rs, err = slots.ParseRanges("")
	require.NoError(t, err)
	assert.Empty(t, rs)
	_, err = slots.ParseRanges("0-1 x")
	assert.ErrorIs(t, err, slots.ErrInvalidRange)
	assert.False(t, slots.Range{5, 4}.Valid())
	assert.Zero(t, slots.Range{5, 4}.Len())
	assert.True(t, slots.Range{3, 9}.Contains(9))
	assert.False(t, slots.Range{3, 9}.Contains(10))
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"0-5460", "5461", "16383", "16384", "5-3", "", "-", "1-2-3", "00001-00002"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := slots.ParseRange(s)
		if err != nil {
			return
		}
		if !r.Valid() {
			t.Fatalf("ParseRange(%q) accepted invalid %v", s, r)
		}
		back, err := slots.ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}

// modelSet is a map-backed set, the reference for Set.
type modelSet map[slots.Slot]bool

func (m modelSet) ranges() []slots.Range {
	var out []slots.Range
	for x := 0; x < slots.Count; x++ {
		if !m[slots.Slot(x)] {
			continue
		}
		if n := len(out); n > 0 && int(out[n-1].End) == x-1 {
			out[n-1].End = slots.Slot(x)
		} else {
			out = append(out, slots.Range{Start: slots.Slot(x), End: slots.Slot(x)})
		}
	}
	return out
}

func TestSetAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 60 {
		var a, b slots.Set
		ma, mb := modelSet{}, modelSet{}
		for range r.IntN(40) {
			lo := slots.Slot(r.IntN(slots.Count))
			hi := min(lo+slots.Slot(r.IntN(300)), slots.Max)
			rg := slots.Range{Start: lo, End: hi}
			set, m := &a, ma
			if r.IntN(2) == 0 {
				set, m = &b, mb
			}
			if r.IntN(4) == 0 {
				set.RemoveRange(rg)
				for x := lo; x <= hi; x++ {
					delete(m, x)
				}
			} else {
				set.AddRange(rg)
				for x := lo; x <= hi; x++ {
					m[x] = true
				}
			}
			x := slots.Slot(r.IntN(slots.Count))
			set.Add(x)
			m[x] = true
			y := slots.Slot(r.IntN(slots.Count))
			set.Remove(y)
			delete(m, y)
		}
		require.Equal(t, len(ma), a.Count(), "round %d", round)
		require.Equal(t, ma.ranges(), a.Ranges(), "round %d", round)
		require.Equal(t, mb.ranges(), b.Ranges(), "round %d", round)
		require.Equal(t, len(ma) == 0, a.Empty())

		u, d, in := a.Union(&b), a.Diff(&b), a.Intersect(&b)
		for x := 0; x < slots.Count; x++ {
			s := slots.Slot(x)
			if a.Has(s) != ma[s] || u.Has(s) != (ma[s] || mb[s]) || d.Has(s) != (ma[s] && !mb[s]) || in.Has(s) != (ma[s] && mb[s]) {
				t.Fatalf("round %d slot %d: Has/Union/Diff/Intersect disagree with the model", round, x)
			}
		}
		c := a.Complement()
		require.Equal(t, slots.Count-len(ma), c.Count())
		back := slots.SetOf(a.Ranges()...)
		require.True(t, back.Equal(&a))
		n := 0
		for s := range a.All() {
			require.True(t, ma[s])
			n++
		}
		require.Equal(t, len(ma), n)
	}
}

func TestSetEdges(t *testing.T) {
	full := slots.FullSet()
	assert.Equal(t, slots.Count, full.Count())
	assert.Equal(t, []slots.Range{{0, 16383}}, full.Ranges())
	assert.Equal(t, "0-16383", full.String())
	var s slots.Set
	s.Add(16384) // out of range: ignored
	s.AddRange(slots.Range{Start: 10, End: 5})
	assert.True(t, s.Empty())
	assert.False(t, s.Has(20000))
	s.AddRange(slots.Range{Start: 63, End: 64})
	s.Add(slots.Max)
	assert.Equal(t, "63-64 16383", s.String())
	for range s.All() {
		break // early stop must not panic
	}
}
