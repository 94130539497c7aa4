package migrate

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func testExecutor(t *testing.T, attempts int) (*executor, *[]Event) {
	t.Helper()
	var evs []Event
	o, err := Options{Seeds: []string{"127.0.0.1:1"}, Attempts: attempts,
		Backoff:  retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		Observer: func(e Event) { evs = append(evs, e) }}.withDefaults()
	require.NoError(t, err)
	return &executor{opts: o}, &evs
}

// TestAttempt: transient errors (LOADING, TRYAGAIN, a refused connection,
// the step's own timeout) are retried with retry events, up to Attempts;
// other errors are not; a cancelled context stops with ErrStopped.
func TestAttempt(t *testing.T) {
	ctx := context.Background()
	step := Event{Kind: EventStep, Step: StepMigrate, Slot: 7}
	for _, transientErr := range []error{
		errors.New("LOADING Redis is loading the dataset in memory"),
		errors.New("TRYAGAIN Multiple keys request during rehashing of slot"),
		fmt.Errorf("dial: %w", syscall.ECONNREFUSED),
		context.DeadlineExceeded,
	} {
		e, evs := testExecutor(t, 5)
		n := 0
		err := e.attempt(ctx, step, func(context.Context) error {
			n++
			if n < 3 {
				return transientErr
			}
			return nil
		}, time.Second)
		require.NoError(t, err, "%v", transientErr)
		require.Equal(t, 3, n)
		var retries int
		for _, ev := range *evs {
			if ev.Kind == EventRetry {
				retries++
				require.Equal(t, StepMigrate, ev.Step)
				require.Equal(t, transientErr, ev.Err)
			}
		}
		require.Equal(t, 2, retries)
		require.Equal(t, EventStep, (*evs)[0].Kind, "the step is announced once, first")
	}

	e, _ := testExecutor(t, 4)
	n := 0
	err := e.attempt(ctx, step, func(context.Context) error { n++; return errors.New("TRYAGAIN x") }, time.Second)
	require.Error(t, err)
	require.Equal(t, 4, n, "Attempts bounds the tries")

	n = 0
	err = e.attempt(ctx, step, func(context.Context) error { n++; return errors.New("ERR I'm not the owner of hash slot 7") }, time.Second)
	require.ErrorContains(t, err, "not the owner")
	require.Equal(t, 1, n, "other errors are not retried")

	// The step's own deadline is a timeout, retried.
	n = 0
	err = e.attempt(ctx, step, func(sctx context.Context) error {
		n++
		if n == 1 {
			<-sctx.Done()
			return sctx.Err()
		}
		return nil
	}, 10*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = e.attempt(cctx, step, func(context.Context) error { return nil }, time.Second)
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorIs(t, err, context.Canceled)
}
