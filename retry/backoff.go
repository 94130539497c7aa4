package retry

import (
	"context"
	"errors"
	"math/bits"
	"math/rand/v2"
	"time"
)

// Default backoff parameters, used when the corresponding Backoff field is
// zero or negative.
const (
	DefaultBackoffBase = 8 * time.Millisecond
	DefaultBackoffCap  = 250 * time.Millisecond
)

// Backoff computes exponential delays with full jitter: the delay before
// retry number attempt is uniform in [0, min(Cap, Base*2^attempt)]. The
// zero value uses DefaultBackoffBase and DefaultBackoffCap. A Backoff is a
// plain value and safe for concurrent use.
type Backoff struct {
	// Base is the ceiling for attempt 0. Zero means
	// DefaultBackoffBase (Check refuses
	// negative values).
	Base time.Duration
	// Cap bounds every delay. Zero means DefaultBackoffCap (Check refuses
	// negative values). If
	// Base exceeds Cap, Cap wins.
	Cap time.Duration
}

func (b Backoff) params() (base, maxDelay time.Duration) {
	base, maxDelay = b.Base, b.Cap
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if maxDelay <= 0 {
		maxDelay = DefaultBackoffCap
	}
	return base, maxDelay
}

// Ceiling returns the upper bound of the delay for the given attempt (the
// retry number, 0 for the first retry):
// min(Cap, Base*2^attempt). Attempts below zero count as zero. It never
// overflows, however large attempt is.
func (b Backoff) Ceiling(attempt int) time.Duration {
	base, maxDelay := b.params()
	if attempt < 0 {
		attempt = 0
	}
	if base >= maxDelay {
		return maxDelay
	}
	// base < maxDelay, so base<<attempt <= maxDelay exactly when base <= maxDelay>>attempt;
	// for attempt >= 63 maxDelay>>attempt is 0 < base.
	if attempt < 63 && base <= maxDelay>>attempt {
		return base << attempt
	}
	return maxDelay
}

// Delay returns a random delay in [0, b.Ceiling(attempt)] (full jitter).
// rnd supplies uniformly distributed 64-bit values; nil means
// math/rand/v2's Uint64, which is safe for concurrent use. Pass a seeded
// source's Uint64 (e.g. rand.New(rand.NewPCG(1, 2)).Uint64) for
// deterministic tests.
func (b Backoff) Delay(attempt int, rnd func() uint64) time.Duration {
	ceil := b.Ceiling(attempt)
	if rnd == nil {
		rnd = rand.Uint64
	}
	// Lemire's multiply-shift: the high word of r*(ceil+1) is uniform in
	// [0, ceil] up to a negligible bias, without a division.
	hi, _ := bits.Mul64(rnd(), uint64(ceil)+1)
	return time.Duration(hi)
}

// errNilContext is Wait's error for a nil context.
var errNilContext = errors.New("retry: nil context")

// Wait sleeps for d, or until ctx is done, whichever comes first. It
// returns nil after a full sleep and ctx.Err() otherwise; a ctx that is
// already done returns at once, even when d <= 0. It uses a stopped
// time.Timer and starts no goroutine. A nil ctx is refused with an error.
func Wait(ctx context.Context, d time.Duration) error {
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fits reports whether waiting d still leaves time before ctx's deadline
// (always true when ctx has no deadline, or is nil). A router uses it to fail at once
// with the last error instead of sleeping past the deadline; add the
// expected duration of the retry itself to d to keep a margin.
func Fits(ctx context.Context, d time.Duration) bool {
	return FitsAt(ctx, d, time.Now())
}

// FitsAt is Fits with an explicit current time, for callers (and tests)
// with their own clock.
func FitsAt(ctx context.Context, d time.Duration, now time.Time) bool {
	if ctx == nil {
		return true // no context, no deadline
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	return now.Add(d).Before(deadline)
}
