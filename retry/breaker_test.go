package retry_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func newTestBreaker(o retry.BreakerOptions) (*retry.Breaker, *fakeClock) {
	clk := newFakeClock()
	o.Now = clk.Now
	return retry.NewBreaker(o), clk
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	b, _ := newTestBreaker(retry.BreakerOptions{})
	require.Equal(t, retry.Closed, b.State())
	for i := 1; i < retry.DefaultBreakerFailures; i++ {
		require.NoError(t, b.Allow())
		b.Failure()
		require.Equal(t, retry.Closed, b.State(), "after %d failures", i)
	}
	require.NoError(t, b.Allow())
	b.Failure()
	assert.Equal(t, retry.Open, b.State())
	err := b.Allow()
	assert.ErrorIs(t, err, retry.ErrOpen)
}

func TestBreakerSuccessResetsCount(t *testing.T) {
	b, _ := newTestBreaker(retry.BreakerOptions{Failures: 3})
	b.Failure()
	b.Failure()
	b.Success()
	b.Failure()
	b.Failure()
	assert.Equal(t, retry.Closed, b.State(), "failures were not consecutive")
	b.Failure()
	assert.Equal(t, retry.Open, b.State())
}

func TestBreakerHalfOpenThenClose(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Failures: 1, Cooldown: time.Second})
	b.Failure()
	require.Equal(t, retry.Open, b.State())

	clk.Advance(999 * time.Millisecond)
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
	clk.Advance(time.Millisecond)
	require.NoError(t, b.Allow(), "cool-down over: one probe")
	assert.Equal(t, retry.HalfOpen, b.State())
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen, "only one probe by default")

	b.Success()
	assert.Equal(t, retry.Closed, b.State())
	assert.NoError(t, b.Allow())
	assert.NoError(t, b.Allow())
}

func TestBreakerCooldownGrowsAndResets(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Failures: 1, Cooldown: time.Second, MaxCooldown: 10 * time.Second})
	b.Failure()
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		clk.Advance(want - time.Millisecond)
		require.ErrorIs(t, b.Allow(), retry.ErrOpen, "still open before %v", want)
		clk.Advance(time.Millisecond)
		require.NoError(t, b.Allow(), "probe after %v", want)
		require.Equal(t, retry.HalfOpen, b.State())
		b.Failure() // the probe failed: open again, longer
		require.Equal(t, retry.Open, b.State())
	}
	// A successful probe closes and resets the cool-down to the base.
	clk.Advance(10 * time.Second)
	require.NoError(t, b.Allow())
	b.Success()
	require.Equal(t, retry.Closed, b.State())
	b.Failure()
	clk.Advance(time.Second)
	assert.NoError(t, b.Allow(), "cool-down back to 1s")
}

func TestBreakerTrip(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Cooldown: time.Second})
	b.Trip()
	require.Equal(t, retry.Open, b.State())
	require.ErrorIs(t, b.Allow(), retry.ErrOpen)

	clk.Advance(800 * time.Millisecond)
	b.Trip() // reported down again: the cool-down restarts
	clk.Advance(800 * time.Millisecond)
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
	clk.Advance(200 * time.Millisecond)
	require.NoError(t, b.Allow())
	require.Equal(t, retry.HalfOpen, b.State())

	b.Trip() // from half-open: like a failed probe
	require.Equal(t, retry.Open, b.State())
	clk.Advance(time.Second)
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen, "cool-down doubled")
	clk.Advance(time.Second)
	assert.NoError(t, b.Allow())
}

func TestBreakerResultsWhileOpenAreIgnored(t *testing.T) {
	b, _ := newTestBreaker(retry.BreakerOptions{Failures: 1})
	b.Failure()
	b.Success() // a late success from a call allowed before the breaker opened
	assert.Equal(t, retry.Open, b.State())
	b.Failure()
	assert.Equal(t, retry.Open, b.State())
}

func TestBreakerLostProbe(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Failures: 1, Cooldown: time.Second})
	b.Failure()
	clk.Advance(time.Second)
	require.NoError(t, b.Allow()) // probe that never reports back
	clk.Advance(999 * time.Millisecond)
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
	clk.Advance(time.Millisecond)
	assert.NoError(t, b.Allow(), "a new probe one cool-down later")
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
}

func TestBreakerProbes(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Failures: 1, Probes: 3})
	b.Failure()
	clk.Advance(retry.DefaultBreakerCooldown)
	for i := range 3 {
		require.NoError(t, b.Allow(), "probe %d", i)
	}
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
	b.Failure()
	assert.Equal(t, retry.Open, b.State(), "one failed probe reopens")
}

func TestBreakerReset(t *testing.T) {
	b, _ := newTestBreaker(retry.BreakerOptions{Failures: 2})
	b.Trip()
	b.Reset()
	assert.Equal(t, retry.Closed, b.State())
	assert.NoError(t, b.Allow())
	b.Failure()
	assert.Equal(t, retry.Closed, b.State(), "the count was reset")
	b.Failure()
	assert.Equal(t, retry.Open, b.State())
}

func TestBreakerHugeCooldown(t *testing.T) {
	b, clk := newTestBreaker(retry.BreakerOptions{Failures: 1, Cooldown: 1 << 62, MaxCooldown: 1<<63 - 1})
	b.Failure()
	clk.Advance(time.Hour)
	require.ErrorIs(t, b.Allow(), retry.ErrOpen)
	clk.Advance(1 << 62)
	require.NoError(t, b.Allow())
	b.Failure() // cool-down doubles past the int64 range: clamped, no wrap to "closed"
	clk.Advance(time.Hour)
	assert.ErrorIs(t, b.Allow(), retry.ErrOpen)
}

func TestStateString(t *testing.T) {
	assert.Equal(t, "Closed", retry.Closed.String())
	assert.Equal(t, "Open", retry.Open.String())
	assert.Equal(t, "HalfOpen", retry.HalfOpen.String())
	assert.Equal(t, "State(9)", retry.State(9).String())
}

func TestBreakerRealClock(t *testing.T) {
	b := retry.NewBreaker(retry.BreakerOptions{Failures: 1, Cooldown: time.Millisecond})
	b.Failure()
	require.ErrorIs(t, b.Allow(), retry.ErrOpen)
	require.Eventually(t, func() bool { return b.Allow() == nil }, time.Second, time.Millisecond)
}

// TestBreakerStress hammers one breaker from many goroutines while the
// clock moves; run with -race.
func TestBreakerStress(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBreaker(retry.BreakerOptions{Failures: 3, Cooldown: 10 * time.Millisecond, MaxCooldown: 80 * time.Millisecond, Probes: 2, Now: clk.Now})
	const workers, iters = 16, 2000
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var clockWG sync.WaitGroup
	clockWG.Add(1)
	go func() {
		defer clockWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
				clk.Advance(time.Millisecond)
				_ = b.State()
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range iters {
				err := b.Allow()
				if err != nil {
					if !errors.Is(err, retry.ErrOpen) {
						t.Errorf("unexpected error %v", err)
						return
					}
					refused.Add(1)
					continue
				}
				allowed.Add(1)
				switch r := rng.IntN(100); {
				case r < 40:
					b.Failure()
				case r < 99:
					b.Success()
				default:
					b.Trip()
				}
				if s := b.State(); s > retry.HalfOpen {
					t.Errorf("invalid state %v", s)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	clockWG.Wait()
	assert.Equal(t, int64(workers*iters), allowed.Load()+refused.Load())
	assert.Positive(t, allowed.Load())
	assert.Positive(t, refused.Load(), "40%% failures must open the breaker at times")

	b.Reset()
	assert.NoError(t, b.Allow())
}

// TestBreakerConcurrentFailuresOpen: only failures from many goroutines
// must end with the breaker open; only successes must keep it closed.
func TestBreakerConcurrentFailuresOpen(t *testing.T) {
	run := func(b *retry.Breaker, f func()) {
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					_ = b.Allow()
					f()
				}
			}()
		}
		wg.Wait()
	}
	failing, _ := newTestBreaker(retry.BreakerOptions{})
	run(failing, failing.Failure)
	assert.Equal(t, retry.Open, failing.State())

	healthy, _ := newTestBreaker(retry.BreakerOptions{})
	var refused atomic.Int64
	run(healthy, func() {
		if healthy.Allow() != nil {
			refused.Add(1)
		}
		healthy.Success()
	})
	assert.Equal(t, retry.Closed, healthy.State())
	assert.Zero(t, refused.Load())
}

func TestBreakerAllowClosedAllocs(t *testing.T) {
	b := retry.NewBreaker(retry.BreakerOptions{})
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		err = b.Allow()
		b.Success()
	})
	require.NoError(t, err)
	assert.Zero(t, allocs)
}

// TestBreakerSharedFailureWindow: the callers that shared one broken
// connection report it together; within Window they count once, and
// failed dials (Failure) count each.
func TestBreakerSharedFailureWindow(t *testing.T) {
	now := time.Unix(1e9, 0)
	clock := func() time.Time { return now }
	b := retry.NewBreaker(retry.BreakerOptions{Failures: 3, Window: 100 * time.Millisecond, Now: clock})
	for range 10 {
		b.SharedFailure() // ten callers, one reset
	}
	require.Equal(t, retry.Closed, b.State())
	now = now.Add(150 * time.Millisecond)
	b.SharedFailure() // a second event
	require.Equal(t, retry.Closed, b.State())
	now = now.Add(150 * time.Millisecond)
	b.SharedFailure() // a third: open
	require.Equal(t, retry.Open, b.State())

	b.Reset()
	for range 3 {
		b.Failure() // three refused dials at the same instant
	}
	require.Equal(t, retry.Open, b.State(), "every failed dial counts")

	// No window: every report counts.
	nb := retry.NewBreaker(retry.BreakerOptions{Failures: 3, Now: clock})
	for range 3 {
		nb.SharedFailure()
	}
	require.Equal(t, retry.Open, nb.State())
}

// TestBreakerPeekTakesNoProbe: Peek refuses while the cool-down runs and
// lets a caller through after it without taking the half-open probe,
// which Allow still gets.
func TestBreakerPeekTakesNoProbe(t *testing.T) {
	now := time.Unix(0, 0)
	b := retry.NewBreaker(retry.BreakerOptions{Failures: 1, Probes: 1, Cooldown: time.Second, Now: func() time.Time { return now }})
	require.NoError(t, b.Peek())
	b.Failure()
	require.ErrorIs(t, b.Peek(), retry.ErrOpen)
	now = now.Add(2 * time.Second)
	for range 3 {
		require.NoError(t, b.Peek())
	}
	require.NoError(t, b.Allow(), "the probe is still there")
	require.ErrorIs(t, b.Allow(), retry.ErrOpen, "one probe")
	b.Success()
	assert.Equal(t, retry.Closed, b.State())
}
