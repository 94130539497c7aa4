package retry_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func TestBackoffCeiling(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		b       retry.Backoff
		attempt int
		want    time.Duration
	}{
		{"default 0", retry.Backoff{}, 0, retry.DefaultBackoffBase},
		{"default 1", retry.Backoff{}, 1, 2 * retry.DefaultBackoffBase},
		{"default 4", retry.Backoff{}, 4, 16 * retry.DefaultBackoffBase},
		{"default capped", retry.Backoff{}, 5, retry.DefaultBackoffCap},
		{"negative attempt", retry.Backoff{}, -3, retry.DefaultBackoffBase},
		{"huge attempt", retry.Backoff{}, 1000, retry.DefaultBackoffCap},
		{"max int attempt", retry.Backoff{}, math.MaxInt, retry.DefaultBackoffCap},
		{"custom", retry.Backoff{Base: 10 * ms, Cap: time.Second}, 3, 80 * ms},
		{"custom capped", retry.Backoff{Base: 10 * ms, Cap: time.Second}, 7, time.Second},
		{"base above cap", retry.Backoff{Base: 2 * time.Second, Cap: time.Second}, 0, time.Second},
		{"negative fields mean defaults", retry.Backoff{Base: -1, Cap: -1}, 0, retry.DefaultBackoffBase},
		{"1ns base, no overflow at 62", retry.Backoff{Base: 1, Cap: math.MaxInt64}, 62, 1 << 62},
		{"1ns base, no overflow at 63", retry.Backoff{Base: 1, Cap: math.MaxInt64}, 63, math.MaxInt64},
		{"1ns base, no overflow at 64", retry.Backoff{Base: 1, Cap: math.MaxInt64}, 64, math.MaxInt64},
		{"3ns base near overflow", retry.Backoff{Base: 3, Cap: math.MaxInt64}, 62, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.b.Ceiling(tt.attempt))
		})
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	for _, b := range []retry.Backoff{
		{},
		{Base: time.Millisecond, Cap: 50 * time.Millisecond},
		{Base: 1, Cap: math.MaxInt64},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		prevCeil := time.Duration(0)
		for attempt := 0; attempt < 80; attempt++ {
			ceil := b.Ceiling(attempt)
			require.GreaterOrEqual(t, ceil, prevCeil, "ceiling never shrinks")
			maxDelay := b.Ceiling(math.MaxInt)
			require.LessOrEqual(t, ceil, maxDelay)
			prevCeil = ceil

			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for range 500 {
				d := b.Delay(attempt, rng.Uint64)
				require.GreaterOrEqual(t, d, time.Duration(0))
				require.LessOrEqual(t, d, ceil)
				lo, hi = min(lo, d), max(hi, d)
			}
			if ceil >= 100 {
				// Full jitter: 500 uniform samples cover most of [0, ceil].
				assert.Less(t, lo, ceil/10, "attempt %d", attempt)
				assert.Greater(t, hi, ceil-ceil/10, "attempt %d", attempt)
			}
		}
	}
}

func TestBackoffDelayExtremes(t *testing.T) {
	b := retry.Backoff{Base: 10 * time.Millisecond, Cap: time.Second}
	zero := func() uint64 { return 0 }
	top := func() uint64 { return math.MaxUint64 }
	assert.Equal(t, time.Duration(0), b.Delay(3, zero))
	assert.Equal(t, 80*time.Millisecond, b.Delay(3, top), "the ceiling itself is reachable")
	assert.Equal(t, time.Second, b.Delay(1<<40, top))
	big := retry.Backoff{Base: 1, Cap: math.MaxInt64}
	assert.Equal(t, time.Duration(math.MaxInt64), big.Delay(100, top))
}

func TestBackoffDelayDeterministic(t *testing.T) {
	var b retry.Backoff
	r1 := rand.New(rand.NewPCG(7, 7))
	r2 := rand.New(rand.NewPCG(7, 7))
	for attempt := range 20 {
		assert.Equal(t, b.Delay(attempt, r1.Uint64), b.Delay(attempt, r2.Uint64))
	}
}

func TestBackoffDelayDefaultRand(t *testing.T) {
	var b retry.Backoff
	for attempt := range 20 {
		d := b.Delay(attempt, nil)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, b.Ceiling(attempt))
	}
}

func TestWaitFullSleep(t *testing.T) {
	start := time.Now()
	require.NoError(t, retry.Wait(context.Background(), 5*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
}

func TestWaitHonoursDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := retry.Wait(ctx, time.Hour)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// Loose bound: far below the hour asked for; generous for a loaded CI box.
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestWaitHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	err := retry.Wait(ctx, time.Hour)
	require.ErrorIs(t, err, context.Canceled)
}

func TestWaitDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, retry.Wait(ctx, time.Hour), context.Canceled)
	require.ErrorIs(t, retry.Wait(ctx, 0), context.Canceled, "a done ctx wins even for no wait")
	require.NoError(t, retry.Wait(context.Background(), 0))
	require.NoError(t, retry.Wait(context.Background(), -time.Second))
}

func TestFits(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(100*time.Millisecond))
	defer cancel()
	assert.True(t, retry.FitsAt(ctx, 50*time.Millisecond, now))
	assert.False(t, retry.FitsAt(ctx, 100*time.Millisecond, now))
	assert.False(t, retry.FitsAt(ctx, 200*time.Millisecond, now))
	assert.True(t, retry.FitsAt(context.Background(), time.Hour, now))
	assert.True(t, retry.Fits(context.Background(), time.Hour))

	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	assert.True(t, retry.Fits(ctx2, time.Millisecond))
	assert.False(t, retry.Fits(ctx2, 2*time.Hour))
}

// TestNilContext: Wait refuses a nil context with an error, Fits and
// FitsAt take it as one without a deadline (they panicked before).
func TestNilContext(t *testing.T) {
	var nilctx context.Context
	assert.NotPanics(t, func() { assert.Error(t, retry.Wait(nilctx, time.Millisecond)) })
	assert.NotPanics(t, func() { assert.True(t, retry.Fits(nilctx, time.Second)) })
	assert.NotPanics(t, func() { assert.True(t, retry.FitsAt(nilctx, time.Second, time.Now())) })
}
