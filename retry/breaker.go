package retry

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOpen is returned by Breaker.Allow while the breaker refuses calls.
var ErrOpen = errors.New("retry: circuit breaker open")

// State is a circuit breaker's state.
type State uint32

// The breaker states.
const (
	// Closed: calls flow; consecutive failures are counted.
	Closed State = iota
	// Open: calls fail fast with ErrOpen until the cool-down ends.
	Open
	// HalfOpen: a limited number of probe calls are let through; a success
	// closes the breaker, a failure opens it again for a longer cool-down.
	HalfOpen
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Closed:
		return "Closed"
	case Open:
		return "Open"
	case HalfOpen:
		return "HalfOpen"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Default breaker parameters, used when the corresponding BreakerOptions
// field is zero or negative.
const (
	DefaultBreakerFailures    = 5
	DefaultBreakerCooldown    = time.Second
	DefaultBreakerMaxCooldown = 30 * time.Second
	DefaultBreakerProbes      = 1
)

// BreakerOptions configures a Breaker. The zero value uses the defaults.
type BreakerOptions struct {
	// Failures is the number of consecutive failures that opens the
	// breaker. Zero means DefaultBreakerFailures (Check refuses
	// negative values).
	Failures int
	// Cooldown is how long the breaker stays open the first time. Each
	// failed probe doubles it, up to MaxCooldown; closing resets it. Zero
	// means DefaultBreakerCooldown (Check refuses negative values).
	Cooldown time.Duration
	// MaxCooldown caps the growing cool-down. Zero means
	// DefaultBreakerMaxCooldown, or Cooldown if that is larger (Check
	// refuses negative values).
	MaxCooldown time.Duration
	// Probes is how many calls are let through at once while half-open.
	// Zero means DefaultBreakerProbes (Check refuses
	// negative values).
	Probes int
	// Window is the time within which SharedFailure reports count as one
	// failure (while closed): the callers that shared one broken
	// connection are one piece of evidence, not many. Zero or negative
	// means no window: every report counts.
	Window time.Duration
	// OnStateChange, when not nil, is called on every change of state
	// (Closed, Open, HalfOpen), with the breaker's lock held: it must be
	// fast and must not call the breaker.
	OnStateChange func(from, to State)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Breaker is a per-node circuit breaker. It opens after Failures
// consecutive failures or when Trip reports the node down; while open,
// Allow fails fast with ErrOpen; after the cool-down it lets up to Probes
// calls through (half-open); a success closes it, a failure opens it again
// with a doubled cool-down (capped at MaxCooldown).
//
// Every call to Allow that returns nil should be followed by exactly one
// Success or Failure. If a probe never reports back, new probes are let
// through one cool-down later, so a lost probe cannot wedge the breaker.
// Results are not tied to individual calls: a Success reported while
// half-open closes the breaker even if it came from a call allowed before
// the breaker opened; results reported while open are ignored.
//
// A Breaker is safe for concurrent use; in the Closed state Allow and
// Success take no lock and do not allocate. Create it with NewBreaker:
// the zero Breaker is not usable.
type Breaker struct {
	now         func() time.Time
	base        time.Time
	failures    int32
	probes      int32
	minCooldown time.Duration
	maxCooldown time.Duration
	window      int64 // ns; 0: none

	state     atomic.Uint32 // State
	fails     atomic.Int32  // consecutive failures while closed
	lastFail  atomic.Int64  // ns since base + 1 of the last counted failure; 0: none
	openUntil atomic.Int64  // ns since base; valid while Open

	mu         sync.Mutex
	cooldown   time.Duration // current cool-down
	inFlight   int32         // probes admitted while half-open
	probeSince int64         // ns since base when the last probe batch began
	onChange   func(from, to State)
}

// setLocked moves the breaker to st (b.mu held) and reports a change.
func (b *Breaker) setLocked(st State) {
	from := State(b.state.Swap(uint32(st)))
	if from != st && b.onChange != nil {
		b.onChange(from, st)
	}
}

// NewBreaker returns a closed Breaker configured by opts.
func NewBreaker(opts BreakerOptions) *Breaker {
	b := &Breaker{
		onChange:    opts.OnStateChange,
		now:         opts.Now,
		failures:    DefaultBreakerFailures,
		probes:      DefaultBreakerProbes,
		minCooldown: opts.Cooldown,
		maxCooldown: opts.MaxCooldown,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if opts.Failures > 0 {
		b.failures = int32(min(opts.Failures, 1<<30))
	}
	if opts.Probes > 0 {
		b.probes = int32(min(opts.Probes, 1<<30))
	}
	if opts.Window > 0 {
		b.window = int64(opts.Window)
	}
	if b.minCooldown <= 0 {
		b.minCooldown = DefaultBreakerCooldown
	}
	if b.maxCooldown <= 0 {
		b.maxCooldown = DefaultBreakerMaxCooldown
	}
	b.maxCooldown = max(b.maxCooldown, b.minCooldown)
	b.cooldown = b.minCooldown
	b.base = b.now()
	return b
}

func (b *Breaker) elapsed() int64 { return int64(b.now().Sub(b.base)) }

// State returns the breaker's current state. An Open breaker whose
// cool-down has ended still reports Open until the next Allow moves it to
// HalfOpen.
func (b *Breaker) State() State { return State(b.state.Load()) }

// Peek reports, without taking a probe slot, whether a call to the node
// may be tried: ErrOpen while the breaker is open and its cool-down runs,
// else nil (closed, half-open, or open with the cool-down over). It is for
// calls whose outcome the caller of Allow could not report (a stream
// whose reply is read by its own caller): they do not take, and so never
// hold, the probe that would close the breaker.
func (b *Breaker) Peek() error {
	if State(b.state.Load()) == Open && b.elapsed() < b.openUntil.Load() {
		return ErrOpen
	}
	return nil
}

// Allow reports whether a call to the node may proceed: nil, or ErrOpen
// (compare with errors.Is) while the breaker is open or half-open with all
// probe slots taken.
func (b *Breaker) Allow() error {
	switch State(b.state.Load()) {
	case Closed:
		return nil
	case Open:
		if b.elapsed() < b.openUntil.Load() {
			return ErrOpen
		}
	}
	return b.allowSlow()
}

func (b *Breaker) allowSlow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.elapsed()
	switch State(b.state.Load()) {
	case Closed:
		return nil
	case Open:
		if now < b.openUntil.Load() {
			return ErrOpen
		}
		b.inFlight = 0
		b.setLocked(HalfOpen)
	}
	// Half-open.
	if b.inFlight == 0 || now-b.probeSince >= int64(b.cooldown) {
		// A new batch of probes; earlier ones that never reported back
		// are forgotten after one cool-down.
		b.inFlight = 0
		b.probeSince = now
	}
	if b.inFlight >= b.probes {
		return ErrOpen
	}
	b.inFlight++
	return nil
}

// Success reports a successful call. It resets the failure count; while
// half-open it closes the breaker.
func (b *Breaker) Success() {
	if State(b.state.Load()) == Closed {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if State(b.state.Load()) == HalfOpen {
		b.fails.Store(0)
		b.cooldown = b.minCooldown
		b.inFlight = 0
		b.setLocked(Closed)
	}
}

// Failure reports a failed call (a failed dial, a connection error or a
// timeout — not a server error reply, which proves the node is alive, and
// not the caller's own cancellation). While closed it counts towards
// Failures; while half-open it opens the breaker again with a doubled
// cool-down. See SharedFailure for failures several calls share.
func (b *Breaker) Failure() {
	if State(b.state.Load()) == Closed {
		b.lastFail.Store(b.elapsed() + 1)
		if b.fails.Add(1) < b.failures {
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch State(b.state.Load()) {
	case Closed:
		if b.fails.Load() >= b.failures {
			b.openLocked(b.minCooldown)
		}
	case HalfOpen:
		b.openLocked(min(b.cooldown*2, b.maxCooldown))
	}
}

// SharedFailure reports the failure of a connection that several calls
// may have shared (a reset, a read error): while closed, reports within
// Window of the last counted failure are the same event and count once.
// Otherwise it is Failure.
func (b *Breaker) SharedFailure() {
	if b.window > 0 && State(b.state.Load()) == Closed {
		now := b.elapsed() + 1
		last := b.lastFail.Load()
		if last != 0 && now-last < b.window {
			return // the same event as the failure counted last
		}
		if !b.lastFail.CompareAndSwap(last, now) {
			return // a concurrent report of the same event won
		}
		if b.fails.Add(1) < b.failures {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if State(b.state.Load()) == Closed && b.fails.Load() >= b.failures {
			b.openLocked(b.minCooldown)
		}
		return
	}
	b.Failure()
}

// Trip opens the breaker at once, e.g. when the topology reports the node
// as failed. From half-open the cool-down grows as for a failure; an open
// breaker's cool-down is restarted.
func (b *Breaker) Trip() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch State(b.state.Load()) {
	case Closed:
		b.openLocked(b.minCooldown)
	case HalfOpen:
		b.openLocked(min(b.cooldown*2, b.maxCooldown))
	case Open:
		b.openLocked(b.cooldown)
	}
}

// Reset closes the breaker and forgets failures and cool-down growth,
// e.g. when the topology reports the node healthy again.
func (b *Breaker) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails.Store(0)
	b.lastFail.Store(0)
	b.cooldown = b.minCooldown
	b.inFlight = 0
	b.setLocked(Closed)
}

// openLocked opens the breaker for d. b.mu must be held. openUntil is
// stored before the state so that a lock-free Allow that sees Open also
// sees the matching deadline.
func (b *Breaker) openLocked(d time.Duration) {
	if d < 0 {
		d = b.maxCooldown // overflow of cooldown*2
	}
	b.cooldown = d
	b.inFlight = 0
	now := b.elapsed()
	until := now + int64(d)
	if until < now {
		until = 1<<63 - 1
	}
	b.openUntil.Store(until)
	b.setLocked(Open)
}
