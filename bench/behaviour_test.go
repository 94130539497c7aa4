package bench_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// opStats counts what one client surfaced to its caller during a
// behaviour test. It is safe for concurrent use.
type opStats struct {
	ops, errs atomic.Int64

	mu      sync.Mutex
	samples []string // the first few distinct error texts
}

// maxSamples is how many distinct error texts opStats keeps.
const maxSamples = 3

// record counts one operation and its error, if any.
func (s *opStats) record(err error) {
	s.ops.Add(1)
	if err == nil {
		return
	}
	s.errs.Add(1)
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) >= maxSamples {
		return
	}
	for _, m := range s.samples {
		if m == msg {
			return
		}
	}
	s.samples = append(s.samples, msg)
}

// sampleText returns the error texts kept, or "-".
func (s *opStats) sampleText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return "-"
	}
	return strings.Join(s.samples, " | ")
}

// setAll writes every key through c (bounded by ctx).
func setAll(ctx context.Context, c client, keys []string) error {
	for _, k := range keys {
		if err := c.Set(ctx, k, "v"); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}

// opTimeout bounds each operation of the behaviour tests.
const opTimeout = 2 * time.Second

// doOp runs GET (read) or SET (write) of key through c with its own
// deadline, independent of the loop's, so that stopping a loop never
// shows up as an error.
func doOp(c client, write bool, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if write {
		return c.Set(ctx, key, "v")
	}
	_, err := c.Get(ctx, key)
	return err
}
