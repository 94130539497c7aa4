package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: log-linear. Values below 2^subBits nanoseconds have a
// bucket each; above, every power of two is split into 2^subBits equal
// buckets, so a bucket is at most 1/2^subBits (6.25%) of its values wide.
const (
	subBits    = 4
	subBuckets = 1 << subBits
	// numBuckets covers every uint64 value: exponents subBits..63.
	numBuckets = (64 - subBits + 1) * subBuckets
)

// Histogram counts durations in log-linear buckets (relative error at
// most 6.25%). Record is safe for concurrent use and does not allocate;
// the zero value is an empty histogram. A Histogram must not be copied
// after first use (use Merge into a new one).
type Histogram struct {
	counts [numBuckets]atomic.Uint64
}

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - 1 // subBits..63
	sub := (v >> (e - subBits)) & (subBuckets - 1)
	return (e-subBits+1)*subBuckets + int(sub)
}

// bucketBounds returns the lowest and highest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subBuckets {
		return uint64(i), uint64(i)
	}
	e := i/subBuckets + subBits - 1
	sub := uint64(i % subBuckets)
	width := uint64(1) << (e - subBits)
	lo = (subBuckets + sub) << (e - subBits)
	return lo, lo + width - 1
}

// Record counts one duration; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Merge adds o's counts to h. o may be recorded into meanwhile; the
// result then holds some of those records.
func (h *Histogram) Merge(o *Histogram) {
	for i := range h.counts {
		if v := o.counts[i].Load(); v != 0 {
			h.counts[i].Add(v)
		}
	}
}

// Sub removes o's counts from h (o an earlier copy of h's counts, for an
// interval's histogram); a bucket never goes below zero.
func (h *Histogram) Sub(o *Histogram) {
	for i := range h.counts {
		v, w := h.counts[i].Load(), o.counts[i].Load()
		if w > v {
			w = v
		}
		h.counts[i].Store(v - w)
	}
}

// Quantile returns the duration below which a fraction q (0..1) of the
// records lie: the upper bound of the bucket that holds that record,
// so at most 6.25% above the true value. It returns 0 for an empty
// histogram; q outside 0..1 is clamped.
func (h *Histogram) Quantile(q float64) time.Duration {
	var snap [numBuckets]uint64
	var total uint64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	if total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	// rank is the 1-based rank of the record asked for.
	rank := uint64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen uint64
	for i, c := range snap {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			if hi > uint64(1<<63-1) {
				hi = 1<<63 - 1
			}
			return time.Duration(hi)
		}
	}
	return 0 // not reached: seen reaches total
}
