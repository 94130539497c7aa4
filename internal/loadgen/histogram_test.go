package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBucketsCoverEveryValue checks that bucket bounds are contiguous,
// that every value falls inside its bucket's bounds, and that a bucket is
// at most 1/16 of its values wide.
func TestBucketsCoverEveryValue(t *testing.T) {
	var prevHi uint64
	for i := range numBuckets {
		lo, hi := bucketBounds(i)
		if i > 0 {
			require.Equal(t, prevHi+1, lo, "bucket %d", i)
		}
		require.LessOrEqual(t, lo, hi)
		require.Equal(t, i, bucketOf(lo), "lo of %d", i)
		require.Equal(t, i, bucketOf(hi), "hi of %d", i)
		if lo >= subBuckets {
			require.LessOrEqual(t, float64(hi-lo+1)/float64(lo), 1.0/subBuckets, "bucket %d", i)
		}
		prevHi = hi
	}
	assert.Equal(t, ^uint64(0), prevHi, "the last bucket ends at the largest uint64")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := rng.Uint64() >> rng.IntN(64)
		lo, hi := bucketBounds(bucketOf(v))
		require.True(t, lo <= v && v <= hi, "%d in [%d, %d]", v, lo, hi)
	}
}

// TestQuantiles compares the histogram's quantiles with the exact ones
// of a sorted sample: never below, at most 6.25% above.
func TestQuantiles(t *testing.T) {
	var h Histogram
	assert.Zero(t, h.Quantile(0.5), "empty")
	rng := rand.New(rand.NewPCG(3, 4))
	var vals []time.Duration
	for range 100000 {
		// log-uniform between 1µs and 100ms
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, rng.Float64()*5))
		vals = append(vals, d)
		h.Record(d)
	}
	slices.Sort(vals)
	require.Equal(t, uint64(len(vals)), h.Count())
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		idx := max(int(q*float64(len(vals))+0.5)-1, 0)
		exact := vals[idx]
		got := h.Quantile(q)
		assert.GreaterOrEqual(t, got, exact, "q %v", q)
		assert.LessOrEqual(t, float64(got), float64(exact)*(1+1.0/subBuckets)+1, "q %v", q)
	}
	assert.Equal(t, h.Quantile(1), h.Quantile(7), "q clamped")
}

// TestSmallValuesExact checks that values below 16ns are counted exactly,
// and that negative durations count as 0.
func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{3, 3, 3, 9, -5} {
		h.Record(d)
	}
	assert.Equal(t, time.Duration(0), h.Quantile(0))
	assert.Equal(t, time.Duration(3), h.Quantile(0.5))
	assert.Equal(t, time.Duration(9), h.Quantile(1))
}

// TestMergeSub checks that Merge adds counts and Sub leaves an interval's.
func TestMergeSub(t *testing.T) {
	var a, b, snap Histogram
	a.Record(time.Millisecond)
	snap.Merge(&a)
	a.Record(time.Second)
	a.Record(time.Second)
	b.Merge(&a)
	b.Sub(&snap)
	assert.Equal(t, uint64(2), b.Count())
	assert.InDelta(t, float64(time.Second), float64(b.Quantile(0.5)), float64(time.Second)/subBuckets)
	b.Sub(&a)
	assert.Zero(t, b.Count(), "never below zero")
}

// TestRecordDoesNotAllocate is the hot path's promise.
func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	allocs := testing.AllocsPerRun(1000, func() { h.Record(1234 * time.Microsecond) })
	assert.Zero(t, allocs)
}

// TestRecordConcurrent records from several goroutines (run with -race).
func TestRecordConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000 + i))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(4000), h.Count())
}

// BenchmarkRecord measures the hot path (0 allocations).
func BenchmarkRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i & 0xfffff))
	}
}
