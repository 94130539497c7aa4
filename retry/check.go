package retry

import (
	"fmt"
	"math"
	"time"
)

// negative is the error for a negative field.
func negative[T int | int64 | time.Duration](name string, v T) error {
	return fmt.Errorf("%s: %v is negative", name, v)
}

// Check refuses negative limits, naming the field after prefix (for
// example "router.Options.Limits"). Zero means the default.
func (l Limits) Check(prefix string) error {
	switch {
	case l.MaxRedirects < 0:
		return negative(prefix+".MaxRedirects", l.MaxRedirects)
	case l.MaxAttempts < 0:
		return negative(prefix+".MaxAttempts", l.MaxAttempts)
	}
	return nil
}

// Check refuses negative delays, naming the field after prefix. Zero
// means the default.
func (b Backoff) Check(prefix string) error {
	switch {
	case b.Base < 0:
		return negative(prefix+".Base", b.Base)
	case b.Cap < 0:
		return negative(prefix+".Cap", b.Cap)
	}
	return nil
}

// Check refuses negative counts and durations (Window excepted: negative
// means none), naming the field after prefix. Zero means the default.
func (o BreakerOptions) Check(prefix string) error {
	switch {
	case o.Failures < 0:
		return negative(prefix+".Failures", o.Failures)
	case o.Cooldown < 0:
		return negative(prefix+".Cooldown", o.Cooldown)
	case o.MaxCooldown < 0:
		return negative(prefix+".MaxCooldown", o.MaxCooldown)
	case o.Probes < 0:
		return negative(prefix+".Probes", o.Probes)
	}
	return nil
}

// Check refuses a NaN or infinite ratio or floor and a negative TTL,
// naming the field after prefix. (A negative Ratio or MinPerSecond has a
// meaning: see BudgetOptions.)
func (o BudgetOptions) Check(prefix string) error {
	switch {
	case math.IsNaN(o.Ratio) || math.IsInf(o.Ratio, 0):
		return fmt.Errorf("%s.Ratio: %v is not a number", prefix, o.Ratio)
	case math.IsNaN(o.MinPerSecond) || math.IsInf(o.MinPerSecond, 0):
		return fmt.Errorf("%s.MinPerSecond: %v is not a number", prefix, o.MinPerSecond)
	case o.TTL < 0:
		return negative(prefix+".TTL", o.TTL)
	}
	return nil
}
