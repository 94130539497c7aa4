package router_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
)

// eventLog is an Observer that records the availability events.
type eventLog struct {
	router.Counters
	mu     sync.Mutex
	events []router.Event
}

func (l *eventLog) OnEvent(e router.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) count(k router.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (l *eventLog) last(k router.EventKind) (router.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if l.events[i].Kind == k {
			return l.events[i], true
		}
	}
	return router.Event{}, false
}

// TestClusterDownIsWaitedOut: CLUSTERDOWN for longer than the retry limits
// allow (twelve replies; five attempts by default) is waited out, as a
// failover is, and the command then succeeds.
func TestClusterDownIsWaitedOut(t *testing.T) {
	g := newFakeGroup(t, 1)
	var n atomic.Int64
	g.nodes[0].setHandle(func(*fakeConn, []string) string {
		if n.Add(1) <= 12 {
			return "-CLUSTERDOWN The cluster is down\r\n"
		}
		return "+OK\r\n"
	})
	var log eventLog
	c := newFakeClient(t, g, router.Options{Observer: &log})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)
	assert.Equal(t, int64(13), n.Load())
	assert.Equal(t, 1, log.count(router.EventFailoverWaitBegin))
	end, ok := log.last(router.EventFailoverWaitEnd)
	require.True(t, ok)
	assert.NoError(t, end.Err)
	assert.Positive(t, end.Duration)
}

// TestFailoverWaitEnds: a primary that stays unreachable ends the wait
// after FailoverWait, or when the caller's context ends, with an error
// that says what was waited for and wraps the cause.
func TestFailoverWaitEnds(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	ka := keyOn(t, g, a)
	var log eventLog
	c := newFakeClient(t, g, router.Options{
		Observer:     &log,
		FailoverWait: 400 * time.Millisecond,
		Breaker:      retry.BreakerOptions{Failures: 1, Cooldown: time.Minute},
	})
	a.close() // dials are refused from now on
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "SET", ka, "v")
	require.ErrorIs(t, err, router.ErrNoPrimary)
	var fw *router.FailoverWaitError
	require.ErrorAs(t, err, &fw)
	assert.Equal(t, a.addr, fw.Addr)
	assert.GreaterOrEqual(t, fw.Waited, 400*time.Millisecond)
	assert.Nil(t, fw.Ctx)
	assert.Contains(t, err.Error(), "waited")
	assert.True(t, errors.Is(err, retry.ErrOpen) || retry.Classify(fw.Err).Kind == retry.KindConn, "wraps the cause: %v", err)
	// Breaker events come from the client's watch goroutine.
	assert.Eventually(t, func() bool { return log.count(router.EventBreaker) > 0 }, 10*time.Second, time.Millisecond,
		"the breaker's opening was reported")

	// The caller's deadline ends it first.
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	c2 := newFakeClient(t, g, router.Options{})
	_, err = c2.Do(short, "SET", ka, "v")
	require.ErrorIs(t, err, router.ErrNoPrimary)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A negative FailoverWait fails fast.
	c3 := newFakeClient(t, g, router.Options{FailoverWait: -1})
	_, err = c3.Do(ctx, "SET", ka, "v")
	require.Error(t, err)
	require.NotErrorIs(t, err, router.ErrNoPrimary)
}

// TestFailoverWaitersDoNotSpin: twenty callers wait out a CLUSTERDOWN
// that lasts a second: each tries again once per publication or
// PollInterval, not in a tight loop.
func TestFailoverWaitersDoNotSpin(t *testing.T) {
	g := newFakeGroup(t, 1)
	var down atomic.Bool
	down.Store(true)
	var replies atomic.Int64
	g.nodes[0].setHandle(func(*fakeConn, []string) string {
		if down.Load() {
			replies.Add(1)
			return "-CLUSTERDOWN The cluster is down\r\n"
		}
		return "+OK\r\n"
	})
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const callers = 20
	var wg sync.WaitGroup
	errs := make([]error, callers)
	start := time.Now()
	for i := range callers {
		wg.Go(func() { _, errs[i] = c.Do(ctx, "SET", "k", "v") })
	}
	time.AfterFunc(time.Second, func() { down.Store(false) })
	wg.Wait()
	waited := time.Since(start)
	for i, err := range errs {
		require.NoError(t, err, "caller %d", i)
	}
	// Each caller: one attempt per wake-up (a publication or a poll).
	// Refreshes publish at most every MinInterval (100 ms) and polls come
	// every PollInterval: a generous bound is 3 attempts per 100 ms.
	limit := int64(callers) * (3*int64(waited/(100*time.Millisecond)) + 3)
	t.Logf("%d CLUSTERDOWN replies to %d callers over %v (limit %d)", replies.Load(), callers, waited, limit)
	assert.LessOrEqual(t, replies.Load(), limit)
}

// TestCloseEndsFailoverWait: Close ends a command that waits for a
// failover: it returns ErrClosed at once, not when the wait runs out.
func TestCloseEndsFailoverWait(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	ka := keyOn(t, g, a)
	var log eventLog
	c := newFakeClient(t, g, router.Options{Observer: &log, FailoverWait: time.Minute})
	a.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "SET", ka, "v")
		done <- err
	}()
	require.Eventually(t, func() bool { return log.count(router.EventFailoverWaitBegin) > 0 }, 10*time.Second, time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		require.ErrorIs(t, err, router.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the failover wait")
	}
}

// TestSharedDialFailureCountsOnce: callers that share one failed dial are
// one piece of evidence: the breaker counts dials, not callers.
func TestSharedDialFailureCountsOnce(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	ka := keyOn(t, g, a)
	release := make(chan struct{})
	var dials atomic.Int64
	opts := router.Options{
		FailoverWait: -1,
		Limits:       retry.Limits{MaxAttempts: 1},
		Breaker:      retry.BreakerOptions{Failures: 5, Cooldown: time.Minute},
	}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		if dst == a.addr {
			dials.Add(1)
			<-release
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return d.DialContext(ctx, "tcp", dst)
	}
	c := newFakeClient(t, g, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var opens atomic.Int64
	for range 20 {
		wg.Go(func() {
			if _, err := c.Do(ctx, "SET", ka, "v"); errors.Is(err, retry.ErrOpen) {
				opens.Add(1)
			}
		})
	}
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	wg.Wait()
	t.Logf("20 callers, %d dials, %d saw the breaker open", dials.Load(), opens.Load())
	if dials.Load() < 5 {
		assert.Zero(t, opens.Load(), "fewer than 5 failed dials cannot open a breaker of 5 failures")
	}
}
