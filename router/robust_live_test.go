package router_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestOneResetDoesNotOpenBreakerLive resets the one connection that ten
// concurrent GETs share: the reads are retried (0 errors), the breaker
// counts one failure, not ten, and a SET right after succeeds.
func TestOneResetDoesNotOpenBreakerLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "reset")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "v")
	require.NoError(t, err)
	p := newResetProxy(t, owner.Addr)
	c := newLiveClient(t, cl, router.Options{
		MapAddr: func(announced string) string {
			if announced == owner.Addr {
				return p.addr
			}
			return ""
		},
	})
	_, err = c.Do(ctx, "GET", k) // the connection is up
	require.NoError(t, err)

	const readers = 10
	p.resetAfter(k, readers)
	var wg sync.WaitGroup
	errs := make([]error, readers)
	// Without a deadline every GET shares the node's pipeline (a lone
	// caller with a deadline would take a connection of its own).
	shared, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range readers {
		wg.Go(func() {
			msg, err := c.Do(shared, "GET", k)
			if err == nil {
				var v string
				v, err = msg.ToString()
				if err == nil && v != "v" {
					err = assert.AnError
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), p.resets.Load(), "one reset, with every GET in flight")
	for i, err := range errs {
		assert.NoError(t, err, "read %d", i)
	}
	start := time.Now()
	_, err = c.Do(ctx, "SET", k, "w")
	require.NoError(t, err, "the breaker of a healthy node stays closed")
	t.Logf("SET after the reset took %v", time.Since(start))
}

// TestOtherCallersDeadlineIsNotMineLive: A runs a 300 ms script with a
// 50 ms deadline; B, on the same node and connection with no deadline,
// sends a GET and an INCR after A's script was written. B's commands
// succeed: A's deadline is A's alone.
func TestOtherCallersDeadlineIsNotMineLive(t *testing.T) {
	c, ctx, k, _, evalWritten, script := busyScriptSetup(t, "busy-300ms")
	aDone := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.Do(actx, "EVAL", script, "1", k)
		aDone <- err
	}()
	<-evalWritten
	msg, err := c.Do(ctx, "GET", k)
	require.NoError(t, err, "B's GET: A's deadline is not B's error")
	v, _ := msg.ToString()
	assert.Equal(t, "1", v)
	n, err := c.Do(ctx, "INCR", k)
	require.NoError(t, err, "B's INCR: no unknown outcome from A's deadline")
	got, _ := n.AsInt64()
	assert.Equal(t, int64(2), got)
	// A's own deadline is A's error (unless its timer fired only after the
	// reply came, as on a badly overloaded machine).
	if aErr := <-aDone; aErr != nil {
		require.ErrorIs(t, aErr, context.DeadlineExceeded)
	}
	// The node's breaker is closed.
	_, err = c.Do(ctx, "GET", k)
	require.NoError(t, err)
	assert.NotErrorIs(t, err, retry.ErrOpen)
}

// watchConn calls seen once a write containing pattern went out.
type watchConn struct {
	net.Conn
	pattern []byte
	seen    func()
}

func (w *watchConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if bytes.Contains(p, w.pattern) {
		w.seen()
	}
	return n, err
}

// TestClosedWithWriteInFlightIsUnknownLive: the pool closes a node's
// client (the node left the topology, or is redialed) while an INCR is
// in flight behind a slow script: rueidis fails it with ErrClosing after
// it was written. The INCR is not sent again: ErrUnknownOutcome, and it
// was executed at most once.
func TestClosedWithWriteInFlightIsUnknownLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "closing")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "1")
	require.NoError(t, err)
	c := newLiveClient(t, cl, router.Options{})
	_, err = c.Do(ctx, "GET", k) // the connection is up
	require.NoError(t, err)

	const script = `local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
while true do
  t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 1500000 then break end
end
return 1`
	var armed atomic.Bool // armed just before the INCR
	router.SetAfterGetHook(c, func(drop func()) {
		if armed.CompareAndSwap(true, false) {
			time.AfterFunc(200*time.Millisecond, drop) // the INCR is on the wire by then
		}
	})
	slow := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "EVAL", script, "1", k)
		slow <- err
	}()
	// Wait until the script runs (a PING on another connection stalls).
	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := cl.Do(pctx, owner, "PING")
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	armed.Store(true)
	_, err = c.Do(ctx, "INCR", k)
	require.ErrorIs(t, err, router.ErrUnknownOutcome, "a write in flight on a closed client is not resent: %v", err)
	<-slow
	require.Eventually(t, func() bool {
		m, err := cl.Do(ctx, owner, "GET", k)
		if err != nil {
			return false
		}
		v, _ := m.ToString()
		return v == "1" || v == "2"
	}, 5*time.Second, 20*time.Millisecond, "executed at most once")
	m, err := cl.Do(ctx, owner, "GET", k)
	require.NoError(t, err)
	v, _ := m.ToString()
	assert.Contains(t, []string{"1", "2"}, v)
}

// busyScriptSetup connects a client to the shared cluster whose
// connections close the returned channel once a command containing tag
// has been written, sets key k to "1" on its owner, and returns a Lua
// script, marked with tag, that keeps that node busy for 300 ms (for the
// tests of one caller's deadline among callers sharing a connection).
func busyScriptSetup(t *testing.T, tag string) (c *router.Client, ctx context.Context, k string, owner *clustertest.Node, written <-chan struct{}, script string) {
	t.Helper()
	cl := clustertest.Need(t, cluster)
	ctx = liveCtx(t, 30*time.Second)
	k = testKey(t, "deadline")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "1")
	require.NoError(t, err)
	evalWritten := make(chan struct{})
	var once sync.Once
	opts := router.Options{}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", dst)
		if err != nil {
			return nil, err
		}
		return &watchConn{Conn: conn, pattern: []byte(tag), seen: func() { once.Do(func() { close(evalWritten) }) }}, nil
	}
	c = newLiveClient(t, cl, opts)
	_, err = c.Do(ctx, "GET", k)
	require.NoError(t, err)
	script = "-- " + tag + `
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
while true do
  t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 300000 then break end
end
return 1`
	return c, ctx, k, owner, evalWritten, script
}
