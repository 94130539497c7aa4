package retry

import (
	"math"
	"sync"
	"time"
)

// Default budget parameters, used when the corresponding BudgetOptions
// field is zero.
const (
	DefaultBudgetRatio        = 0.2
	DefaultBudgetMinPerSecond = 10
	DefaultBudgetTTL          = 10 * time.Second
)

// BudgetOptions configures a Budget. The zero value uses the defaults.
type BudgetOptions struct {
	// Ratio is how many retries each request earns: with 0.2, retries may
	// add at most 20% to the recent request load. Zero means
	// DefaultBudgetRatio; negative means requests earn nothing (only the
	// MinPerSecond floor remains).
	Ratio float64
	// MinPerSecond is a floor of retries per second allowed regardless of
	// traffic, so a quiet client can still retry. Zero means
	// DefaultBudgetMinPerSecond; negative means no floor.
	MinPerSecond float64
	// TTL is how long a deposit counts as "recent". Zero means
	// DefaultBudgetTTL (Check refuses
	// negative values).
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// budgetSlices is the number of time slices the TTL window is divided into.
const budgetSlices = 10

// budgetScale is the number of units one request deposits.
const budgetScale = 1000

// Budget is a retry budget (token bucket), like Finagle's RetryBudget and
// gRPC's retry throttling: every request deposits Ratio of a token, every
// retry withdraws one, deposits and withdrawals expire after TTL, and a
// reserve of MinPerSecond*TTL tokens lets a quiet client retry too. It
// stops retry storms from multiplying the load on a struggling cluster.
//
// A Budget is safe for concurrent use. A nil *Budget allows every retry.
type Budget struct {
	now      func() time.Time
	base     time.Time
	slice    time.Duration
	deposit  int64 // units added per request
	withdraw int64 // units taken per retry
	reserve  int64 // units always available

	mu      sync.Mutex
	head    int64 // absolute index of the current slice
	total   int64 // sum of buckets
	buckets [budgetSlices]int64
}

// NewBudget returns a Budget configured by opts.
func NewBudget(opts BudgetOptions) *Budget {
	ratio := opts.Ratio
	if ratio == 0 {
		ratio = DefaultBudgetRatio
	}
	minPerSec := opts.MinPerSecond
	if minPerSec == 0 {
		minPerSec = DefaultBudgetMinPerSecond
	}
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = DefaultBudgetTTL
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	b := &Budget{now: now, base: now(), slice: ttl / budgetSlices}
	if b.slice <= 0 {
		b.slice = 1
	}
	b.deposit = budgetScale
	b.withdraw = budgetScale
	switch {
	case ratio < 0 || math.IsNaN(ratio):
		b.deposit = 0
	case ratio < 1:
		// Deposit budgetScale per request, withdraw budgetScale/ratio per
		// retry (capped so tiny ratios cannot overflow).
		b.withdraw = int64(math.Min(budgetScale/ratio, 1<<40))
	default:
		b.deposit = int64(math.Min(budgetScale*ratio, 1<<30))
	}
	if minPerSec > 0 && !math.IsInf(minPerSec, 1) {
		b.reserve = int64(math.Min(minPerSec*ttl.Seconds()*float64(b.withdraw), 1<<60))
	} else if math.IsInf(minPerSec, 1) {
		b.reserve = 1 << 60
	}
	return b
}

// advance moves the window to the current time, expiring old slices.
// b.mu must be held.
func (b *Budget) advance() {
	idx := int64(b.now().Sub(b.base) / b.slice)
	if idx <= b.head {
		return // same slice, or the clock went backwards
	}
	n := idx - b.head
	if n > budgetSlices {
		n = budgetSlices
	}
	for i := int64(1); i <= n; i++ {
		j := (b.head + i) % budgetSlices
		b.total -= b.buckets[j]
		b.buckets[j] = 0
	}
	b.head = idx
}

// Deposit records one request (call it once per command, not per retry).
func (b *Budget) Deposit() {
	if b == nil || b.deposit == 0 {
		return
	}
	b.mu.Lock()
	b.advance()
	b.buckets[b.head%budgetSlices] += b.deposit
	b.total += b.deposit
	b.mu.Unlock()
}

// Withdraw asks for one retry. It returns true, spending a token, when the
// budget allows it, and false when retries are exhausted; then fail with
// the last error instead of retrying.
func (b *Budget) Withdraw() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	if b.total+b.reserve < b.withdraw {
		return false
	}
	b.buckets[b.head%budgetSlices] -= b.withdraw
	b.total -= b.withdraw
	return true
}

// Available returns how many retries the budget would allow right now
// (rounded down). A nil *Budget returns math.MaxInt.
func (b *Budget) Available() int {
	if b == nil {
		return math.MaxInt
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	n := b.total + b.reserve
	if n <= 0 {
		return 0
	}
	return int(n / b.withdraw)
}
