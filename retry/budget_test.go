package retry_test

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func withdrawAll(b *retry.Budget, limit int) int {
	n := 0
	for n < limit && b.Withdraw() {
		n++
	}
	return n
}

func TestBudgetRatio(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.2, MinPerSecond: -1, Now: clk.Now})
	assert.False(t, b.Withdraw(), "no requests, no floor: no retries")
	for range 10 {
		b.Deposit()
	}
	assert.Equal(t, 2, b.Available())
	assert.Equal(t, 2, withdrawAll(b, 100))
	assert.Equal(t, 0, b.Available())

	for range 5 {
		b.Deposit()
	}
	assert.Equal(t, 1, withdrawAll(b, 100))
}

func TestBudgetRatioAboveOne(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 2, MinPerSecond: -1, Now: clk.Now})
	b.Deposit()
	assert.Equal(t, 2, withdrawAll(b, 100))
}

func TestBudgetFloor(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: -1, MinPerSecond: 1, TTL: 10 * time.Second, Now: clk.Now})
	b.Deposit() // earns nothing with a negative ratio
	assert.Equal(t, 10, withdrawAll(b, 100), "MinPerSecond*TTL retries per window")
	clk.Advance(5 * time.Second)
	assert.False(t, b.Withdraw(), "withdrawals still recent")
	clk.Advance(6 * time.Second)
	assert.Equal(t, 10, withdrawAll(b, 100), "old withdrawals expired")
}

func TestBudgetDepositsExpire(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.5, MinPerSecond: -1, TTL: time.Second, Now: clk.Now})
	for range 10 {
		b.Deposit()
	}
	assert.Equal(t, 5, b.Available())
	clk.Advance(500 * time.Millisecond)
	assert.Equal(t, 5, b.Available(), "still recent")
	clk.Advance(600 * time.Millisecond)
	assert.Equal(t, 0, b.Available(), "older than TTL")
	assert.False(t, b.Withdraw())

	clk.Advance(time.Hour) // a long jump clears everything without looping per slice
	assert.Equal(t, 0, b.Available())
	b.Deposit()
	b.Deposit()
	assert.Equal(t, 1, b.Available())
}

func TestBudgetClockBackwards(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 1, MinPerSecond: -1, Now: clk.Now})
	b.Deposit()
	clk.Advance(-time.Hour)
	b.Deposit()
	assert.Equal(t, 2, b.Available())
}

func TestBudgetDefaults(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Now: clk.Now})
	want := int(retry.DefaultBudgetMinPerSecond * retry.DefaultBudgetTTL.Seconds())
	assert.Equal(t, want, b.Available(), "the floor alone")
	for range 50 {
		b.Deposit()
	}
	assert.Equal(t, want+int(50*retry.DefaultBudgetRatio), b.Available())

	real := retry.NewBudget(retry.BudgetOptions{})
	assert.True(t, real.Withdraw())
}

func TestBudgetNil(t *testing.T) {
	var b *retry.Budget
	b.Deposit()
	assert.True(t, b.Withdraw())
	assert.Equal(t, math.MaxInt, b.Available())
}

func TestBudgetExtremeOptions(t *testing.T) {
	clk := newFakeClock()
	for _, o := range []retry.BudgetOptions{
		{Ratio: 1e-300, MinPerSecond: -1},
		{Ratio: math.Inf(1), MinPerSecond: math.Inf(1)},
		{Ratio: math.NaN(), MinPerSecond: math.NaN()},
		{Ratio: 1e300, MinPerSecond: 1e300, TTL: 1},
	} {
		o.Now = clk.Now
		b := retry.NewBudget(o)
		require.NotPanics(t, func() {
			for range 1000 {
				b.Deposit()
				b.Withdraw()
			}
			_ = b.Available()
		}, "%+v", o)
		assert.GreaterOrEqual(t, b.Available(), 0)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	clk := newFakeClock()
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.5, MinPerSecond: -1, Now: clk.Now})
	const workers, perWorker = 8, 1000
	var got atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				b.Deposit()
				if b.Withdraw() {
					got.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// Nothing expired, so every token is either spent or still there.
	assert.Equal(t, workers*perWorker/2, int(got.Load())+b.Available())
	assert.LessOrEqual(t, int(got.Load()), workers*perWorker/2)
}

// BenchmarkBudgetDeposit is one Deposit per operation from every P at
// once: the per-command cost of a retry budget under concurrency.
func BenchmarkBudgetDeposit(b *testing.B) {
	bu := retry.NewBudget(retry.BudgetOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Deposit()
		}
	})
}
