package retry

import (
	"errors"
	"strconv"
)

// Default limits, used when the corresponding Limits field is zero or
// negative.
const (
	DefaultMaxRedirects = 16
	DefaultMaxAttempts  = 5
)

// Limits bounds one command's redirect/retry loop. The zero value uses the
// defaults.
type Limits struct {
	// MaxRedirects is how many redirects (MOVED and ASK hops) one command
	// may follow. Zero means DefaultMaxRedirects (Check refuses
	// negative values).
	MaxRedirects int
	// MaxAttempts is how many times one command may be tried, counting the
	// first try and every retry after a non-redirect error (Backoff,
	// Refresh, RetryConn) but not redirect hops. Zero means
	// DefaultMaxAttempts (Check refuses
	// negative values).
	MaxAttempts int
}

func (l Limits) maxRedirects() int {
	if l.MaxRedirects <= 0 {
		return DefaultMaxRedirects
	}
	return l.MaxRedirects
}

func (l Limits) maxAttempts() int {
	if l.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return l.MaxAttempts
}

// Counter returns a counter for one command's loop, with the first try
// already counted (Attempts 1, Hops 0).
func (l Limits) Counter() Counter {
	return Counter{limits: l, Hops: 0, Attempts: 1}
}

// Counter counts one command's redirect hops and attempts against Limits.
// Create it with Limits.Counter; it is not safe for concurrent use (one
// command's loop runs in one goroutine).
type Counter struct {
	limits Limits
	// Hops is the number of redirects followed so far.
	Hops int
	// Attempts is the number of tries so far, excluding redirect hops.
	Attempts int
}

// Step asks to take action a, counting it. It returns true when a is a
// retry (see Action.IsRetry) within the limits: Follow and Ask count a hop,
// the others an attempt. It returns false, counting nothing, when the limit
// is reached or a is not a retry; then return c.Exhausted(lastErr) (for
// a limit) or handle the terminal action.
func (c *Counter) Step(a Action) bool {
	switch a {
	case ActionFollow, ActionAsk:
		if c.Hops >= c.limits.maxRedirects() {
			return false
		}
		c.Hops++
		return true
	case ActionBackoff, ActionRefresh, ActionRetryConn:
		if c.Attempts >= c.limits.maxAttempts() {
			return false
		}
		c.Attempts++
		return true
	}
	return false
}

// Exhausted returns the final error for a loop that ran out of hops or
// attempts, wrapping last.
func (c *Counter) Exhausted(last error) *ExhaustedError {
	return &ExhaustedError{Hops: c.Hops, Attempts: c.Attempts, Last: last}
}

// ErrExhausted matches (with errors.Is) every *ExhaustedError.
var ErrExhausted = errors.New("retry: retries exhausted")

// ExhaustedError is returned when a command's redirect or retry limit was
// reached. It wraps the last error, so errors.Is and errors.As reach the
// last server or connection error, and errors.Is(err, ErrExhausted) holds.
type ExhaustedError struct {
	// Hops is the number of redirects followed.
	Hops int
	// Attempts is the number of tries made, excluding redirect hops.
	Attempts int
	// Last is the error of the final try.
	Last error
}

// Error says how many attempts and redirects were made and the last error.
func (e *ExhaustedError) Error() string {
	s := "retry: gave up after " + plural(e.Attempts, "attempt") + " and " + plural(e.Hops, "redirect")
	if e.Last != nil {
		s += ": " + e.Last.Error()
	}
	return s
}

// Unwrap returns the last error.
func (e *ExhaustedError) Unwrap() error { return e.Last }

// Is reports whether target is ErrExhausted.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

func plural(n int, word string) string {
	s := strconv.Itoa(n) + " " + word
	if n != 1 {
		s += "s"
	}
	return s
}
