package topology

import "time"

// Cause says what started a refresh.
type Cause uint8

const (
	// CauseInitial is the first, synchronous refresh done by New.
	CauseInitial Cause = iota
	// CauseRefresh is a call to Refresher.Refresh.
	CauseRefresh
	// CauseTrigger is one or more calls to Refresher.Trigger (coalesced),
	// including the refreshes ApplyMoved asks for.
	CauseTrigger
	// CausePeriodic is the periodic refresh.
	CausePeriodic
	// CauseRetry is a new attempt after a refresh that failed.
	CauseRetry
)

// String names the cause.
func (c Cause) String() string {
	switch c {
	case CauseInitial:
		return "initial"
	case CauseRefresh:
		return "refresh"
	case CauseTrigger:
		return "trigger"
	case CausePeriodic:
		return "periodic"
	case CauseRetry:
		return "retry"
	}
	return "unknown"
}

// RefreshEvent describes one refresh attempt of a Refresher.
type RefreshEvent struct {
	// Cause is what started the refresh. When several causes were
	// coalesced into one attempt, a Refresh call wins over triggers, and
	// triggers over the periodic timer.
	Cause Cause
	// Reason is the reason given to the first Trigger call coalesced into
	// this attempt ("" for other causes).
	Reason string
	// Triggers is how many Trigger calls this attempt answers.
	Triggers int
	// Start is when the attempt started, Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Probed reports that the periodic refresh first compared the digests
	// of the nodes' CLUSTER NODES replies with those of the last rebuild.
	Probed bool
	// Skipped reports that the digests were unchanged and the snapshot was
	// not rebuilt (Probed is true, New is nil).
	Skipped bool
	// Asked are the dialable addresses asked (probe and fetch), Answered
	// those whose views were used.
	Asked    []string
	Answered []string
	// FromSeeds reports that no known node answered and the seeds were
	// asked.
	FromSeeds bool
	// Err is why the attempt failed (nil on success). It wraps
	// ErrNoNodeAnswered when nobody answered.
	Err error
	// Failures counts the consecutive failed attempts, this one included
	// (0 on success).
	Failures int
	// Backoff is, after a failure, how long the Refresher waits before the
	// next attempt.
	Backoff time.Duration
	// Old is the snapshot before the attempt; New the one published (nil
	// when the attempt failed or was skipped).
	Old, New *Snapshot
	// Changes is Diff(Old, New) when a snapshot was published.
	Changes Changes
}

// Observer receives an event for every refresh attempt. OnRefresh is called
// from the Refresher's own goroutine, one call at a time; it must return
// quickly and must not block (hand the event to a channel with a default
// case, a logger, or a metrics counter), nor call Refresh, which would wait
// for the goroutine that is calling it.
type Observer interface {
	OnRefresh(RefreshEvent)
}

// PanicObserver is implemented by an Observer that wants to hear of a
// panic the Refresher recovered in its OnRefresh (the Refresher goes on
// with the next refresh either way). OnPanic is called on the
// Refresher's goroutine with an error wrapping ErrPanic; a panic in
// OnPanic itself is recovered and dropped.
type PanicObserver interface {
	OnPanic(err error)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(RefreshEvent)

// OnRefresh calls f(e).
func (f ObserverFunc) OnRefresh(e RefreshEvent) { f(e) }
