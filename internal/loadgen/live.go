package loadgen

import (
	"context"
	"fmt"
	"io"
	"time"
)

// DefaultLiveEvery is Live's interval when none is given.
const DefaultLiveEvery = time.Second

// LiveLine formats one live line from two snapshots of a load, prev taken
// before cur: the interval's throughput, single-command latency
// percentiles and errors per second, then the totals.
func LiveLine(prev, cur *Stats) string {
	dt := (cur.Elapsed - prev.Elapsed).Seconds()
	var ops, errs float64
	if dt > 0 {
		ops = float64(cur.Ops-prev.Ops) / dt
		errs = float64(cur.Errors-prev.Errors) / dt
	}
	var h Histogram
	if cur.Latency != nil {
		h.Merge(cur.Latency)
	}
	if prev.Latency != nil {
		h.Sub(prev.Latency)
	}
	return fmt.Sprintf("%6.1fs %9.0f ops/s  p50 %s  p99 %s  p999 %s  %.0f errors/s  (%d ops, %d errors, %d unknown outcomes)",
		cur.Elapsed.Seconds(), ops, Dur(h.Quantile(0.5)), Dur(h.Quantile(0.99)), Dur(h.Quantile(0.999)), errs,
		cur.Ops, cur.Errors, cur.Unknown)
}

// Live writes a live line (LiveLine) to w every interval (0:
// DefaultLiveEvery) until the load is done or ctx ends. Each line
// overwrites the previous one on a terminal ("\r", then the line, then
// "erase to end of line"); the last is cleared. It returns the first
// write error.
func (l *Load) Live(ctx context.Context, w io.Writer, every time.Duration) error {
	if w == nil || every < 0 {
		return fmt.Errorf("%w: Live needs a writer and an interval >= 0", ErrInvalidOptions)
	}
	if every == 0 {
		every = DefaultLiveEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	prev := l.Snapshot()
	for range maxRounds {
		select {
		case <-l.done:
			_, err := io.WriteString(w, "\r\x1b[K")
			return err
		case <-ctx.Done():
			_, err := io.WriteString(w, "\r\x1b[K")
			return err
		case <-tick.C:
		}
		cur := l.Snapshot()
		if _, err := io.WriteString(w, "\r"+LiveLine(&prev, &cur)+"\x1b[K"); err != nil {
			return err
		}
		prev = cur
	}
	return nil
}

// Dur formats a latency for people: µs below a millisecond, ms below a
// second, else seconds.
func Dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
