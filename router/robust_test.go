package router_test

import (
	"crypto/tls"

	"context"
	"errors"
	"github.com/redis/rueidis"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// These tests call the entry points with input that used to panic, some
// of it inside goroutines the client starts (DoMulti on two nodes,
// DoPrimaries), where a panic ends the test binary: a crash fails them.

func TestBadInputNeverPanics(t *testing.T) {
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ka, kb := keyOn(t, g, g.nodes[0]), keyOn(t, g, g.nodes[1])

	bad := [][]string{
		{}, {""}, {"", "x"},
		{"SUBSCRIBE", "ch"}, {"subscribe", "ch"}, {"PSUBSCRIBE", "p*"}, {"SSubscribe", "ch"},
		{"UNSUBSCRIBE"}, {"punsubscribe"}, {"SUNSUBSCRIBE", "ch"}, {"MYMODULE.SUBSCRIBE", "x"},
		{"MONITOR"}, {"QUIT"}, {"RESET"}, {"HELLO", "2"}, {"AUTH", "pw"}, {"READONLY"},
		{"CLIENT", "REPLY", "OFF"}, {"client", "tracking", "on"},
	}
	for _, args := range bad {
		_, err := c.Do(ctx, args...)
		require.ErrorIs(t, err, router.ErrBadCommand, "Do %q", args)
		_, err = c.DoCmd(ctx, router.Idempotent(args...))
		require.ErrorIs(t, err, router.ErrBadCommand, "DoCmd %q", args)
		_, _, err = c.Route(args...)
		require.ErrorIs(t, err, router.ErrBadCommand, "Route %q", args)
		_, _, err = router.Route(c.Topology().Current(), nil, router.ReadPrimary, args...)
		require.ErrorIs(t, err, router.ErrBadCommand, "router.Route %q", args)
		// Commands on two nodes: DoMulti runs a goroutine per node.
		res := c.DoMulti(ctx, router.C("GET", ka), router.C(args...), router.C("GET", kb), router.Idempotent(args...))
		require.Len(t, res, 4)
		assert.NoError(t, res[0].Err)
		assert.ErrorIs(t, res[1].Err, router.ErrBadCommand, "DoMulti %q", args)
		assert.NoError(t, res[2].Err)
		assert.ErrorIs(t, res[3].Err, router.ErrBadCommand, "DoMulti %q", args)
		for _, r := range c.DoPrimaries(ctx, args...) {
			assert.ErrorIs(t, r.Err, router.ErrBadCommand, "DoPrimaries %q", args)
		}
	}
	_, err := c.Do(ctx, "SUBSCRIBE", "ch")
	assert.Contains(t, err.Error(), "Receive", "the error points to the pub/sub way")

	//nolint:staticcheck // a nil context on purpose
	var nilCtx context.Context
	_, err = c.Do(nilCtx, "GET", ka)
	require.ErrorIs(t, err, router.ErrBadCommand)
	for _, r := range c.DoPrimaries(nilCtx, "PING") {
		require.ErrorIs(t, r.Err, router.ErrBadCommand)
	}
	for _, r := range c.DoMulti(nilCtx, router.C("GET", ka), router.C("GET", kb)) {
		require.ErrorIs(t, r.Err, router.ErrBadCommand)
	}
	require.ErrorIs(t, c.Scan(nilCtx, router.ScanOptions{}, func(string) error { return nil }), router.ErrBadCommand)
	require.ErrorIs(t, c.Scan(ctx, router.ScanOptions{}, nil), router.ErrBadCommand)
	_, err = c.DBSize(nilCtx)
	require.ErrorIs(t, err, router.ErrBadCommand)
	_, err = c.Node(nilCtx, g.nodes[0].addr)
	require.ErrorIs(t, err, router.ErrBadCommand)
	_, err = router.New(nilCtx, router.Options{Seeds: g.seeds()})
	require.ErrorIs(t, err, router.ErrBadCommand)

	// The client still works.
	_, err = c.Do(ctx, "GET", ka)
	require.NoError(t, err)
}

// panicObserver panics in OnRedirect and records OnPanic events.
type panicObserver struct {
	router.Counters
	panics atomic.Int64
}

func (o *panicObserver) OnPanic(e router.PanicEvent) {
	if errors.Is(e.Err, router.ErrPanic) {
		o.panics.Add(1)
	}
}

func TestPanicInDialIsAnError(t *testing.T) {
	g := newFakeGroup(t, 2)
	var obs panicObserver
	var armed atomic.Bool
	opts := router.Options{Observer: &obs}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		if armed.Load() && dst == g.nodes[1].addr {
			panic("a dialer below the client panicked")
		}
		return d.DialContext(ctx, "tcp", dst)
	}
	c := newFakeClient(t, g, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	armed.Store(true)
	ka, kb := keyOn(t, g, g.nodes[0]), keyOn(t, g, g.nodes[1])
	res := c.DoMulti(ctx, router.C("GET", ka), router.C("GET", kb))
	assert.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, router.ErrPanic)
	assert.Positive(t, obs.panics.Load(), "the observer heard of it")
}

// hostileNode accepts connections on a loopback port and answers the
// first bytes it reads with reply.
func hostileNode(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				if _, err := conn.Read(buf); err != nil {
					return
				}
				_, _ = conn.Write([]byte(reply))
				_, _ = conn.Read(buf) // until the client hangs up
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func TestHostileNodeHandshake(t *testing.T) {
	for _, reply := range []string{"*9223372036854775807\r\n", "$9223372036854775807\r\n", "|9223372036854775807\r\n"} {
		addr := hostileNode(t, reply)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// As a seed: New fails with the protocol error.
		_, err := router.New(ctx, router.Options{Seeds: []string{addr}, NoLearn: true})
		require.ErrorIs(t, err, router.ErrProtocol, "%q", reply)
		// topology on its own too.
		_, err = topology.New(ctx, topology.Options{Seeds: []string{addr}})
		require.ErrorIs(t, err, topology.ErrProtocol, "%q", reply)
		cancel()
	}
}

func TestHostileNodeAsRedirectTarget(t *testing.T) {
	g := newFakeGroup(t, 2)
	evil := hostileNode(t, "*9223372036854775807\r\n")
	g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
		return "-ASK 1 " + evil + "\r\n"
	})
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", keyOn(t, g, g.nodes[0]))
	require.ErrorIs(t, err, router.ErrProtocol)
	// Healthy nodes still serve.
	_, err = c.Do(ctx, "GET", keyOn(t, g, g.nodes[1]))
	require.NoError(t, err)
}

// fakeClock is a clock for the breakers that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestHalfOpenClosedByServerErrorReply(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	ka := keyOn(t, g, a)
	var down atomic.Bool
	a.setHandle(func(_ *fakeConn, args []string) string {
		if down.Load() {
			return "" // close the connection without a reply
		}
		return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	})
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	c := newFakeClient(t, g, router.Options{
		Breaker:      retry.BreakerOptions{Failures: 1, Cooldown: time.Minute, Now: clock.Now, Window: -1},
		Limits:       retry.Limits{MaxAttempts: 1},
		FailoverWait: -1, // an open breaker fails fast
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	down.Store(true)
	_, err := c.Do(ctx, "INCR", ka)
	require.Error(t, err)
	_, err = c.Do(ctx, "INCR", ka)
	require.ErrorIs(t, err, retry.ErrOpen, "one connection failure opened the breaker (Failures: 1)")
	down.Store(false)
	clock.Add(2 * time.Minute) // the cool-down ends: the next call is the probe
	_, err = c.Do(ctx, "INCR", ka)
	var re *rueidis.RedisError
	require.ErrorAs(t, err, &re, "the probe got WRONGTYPE: %v", err)
	for range 3 {
		_, err = c.Do(ctx, "INCR", ka)
		require.ErrorAs(t, err, &re, "a reply closed the breaker: %v", err)
	}
}

func TestOwnCancellationNeverOpensBreaker(t *testing.T) {
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{Breaker: retry.BreakerOptions{Failures: 2, Cooldown: time.Minute}})
	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	for range 10 {
		c.DoPrimaries(canceled, "PING")
		_, _ = c.DBSize(canceled)
		_ = c.FlushAll(canceled)
		_ = c.Scan(canceled, router.ScanOptions{}, func(string) error { return nil })
		_, _ = c.Do(canceled, "GET", "k")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range c.DoPrimaries(ctx, "PING") {
		require.NoError(t, r.Err, "the caller's own cancellation is no evidence against %s", r.Node.Addr)
	}
}

// TestClosingConnectionPicksAgain: the pool closes a node's client (the
// node left the topology, or is redialed) just after a caller took it:
// rueidis answers ErrClosing without sending, and the caller picks again.
func TestClosingConnectionPicksAgain(t *testing.T) {
	g := newFakeGroup(t, 2)
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return bulk("v") })
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var drops atomic.Int64
	router.SetAfterGetHook(c, func(drop func()) {
		if drops.Add(1) == 1 {
			drop()
		}
	})
	msg, err := c.Do(ctx, "INCR", keyOn(t, g, g.nodes[0]))
	require.NoError(t, err, "a command refused by a closing client was never sent: pick again")
	v, _ := msg.ToString()
	assert.Equal(t, "v", v)
	assert.Equal(t, int64(2), drops.Load())
}

// TestCloseDuringCallIsErrClosed: Close lands between taking a connection
// and sending on it: the caller gets ErrClosed, as documented.
func TestCloseDuringCallIsErrClosed(t *testing.T) {
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	router.SetAfterGetHook(c, func(func()) { c.Close() })
	_, err := c.Do(ctx, "INCR", keyOn(t, g, g.nodes[0]))
	require.ErrorIs(t, err, router.ErrClosed)
}

// TestNonsenseOptionsRefused: New refuses options that make no sense and
// names the field.
func TestNonsenseOptionsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seeds := []string{"127.0.0.1:1"} // never dialed: the options are refused first
	for field, o := range map[string]router.Options{
		"router.Options.Seeds":                   {},
		"router.Options.ReadPolicy":              {Seeds: seeds, ReadPolicy: 42},
		"router.Options.DialTimeout":             {Seeds: seeds, DialTimeout: -1},
		"router.Options.CommandTimeout":          {Seeds: seeds, CommandTimeout: -time.Second},
		"router.Options.MaxReplicaLag":           {Seeds: seeds, MaxReplicaLag: -1},
		"router.Options.ReplyLimits.MaxBulk":     {Seeds: seeds, ReplyLimits: topology.ReplyLimits{MaxBulk: -1}},
		"router.Options.Limits.MaxAttempts":      {Seeds: seeds, Limits: retry.Limits{MaxAttempts: -1}},
		"router.Options.Backoff.Cap":             {Seeds: seeds, Backoff: retry.Backoff{Cap: -1}},
		"router.Options.Breaker.Failures":        {Seeds: seeds, Breaker: retry.BreakerOptions{Failures: -3}},
		"router.Options.RetryBudget.TTL":         {Seeds: seeds, RetryBudget: &retry.BudgetOptions{TTL: -1}},
		"router.Options.Topology.NodeTimeout":    {Seeds: seeds, Topology: topology.Options{NodeTimeout: -1}},
		"router.Options.Topology.MinInterval":    {Seeds: seeds, Topology: topology.Options{MinInterval: -1}},
		"router.Options.Topology.ReplyLimits.Ma": {Seeds: seeds, Topology: topology.Options{ReplyLimits: topology.ReplyLimits{MaxDepth: -1}}},
	} {
		_, err := router.New(ctx, o)
		require.ErrorContains(t, err, field)
	}
}
