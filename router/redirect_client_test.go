package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// newFakeClient connects a client to the fake group g.
func newFakeClient(t testing.TB, g *fakeGroup, opts router.Options) *router.Client {
	t.Helper()
	opts.Seeds = g.seeds()
	opts.NoLearn = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// keyOn returns a key whose slot f owns in g.
func keyOn(t *testing.T, g *fakeGroup, f *fakeNode) string {
	for i := range 10000 {
		k := fmt.Sprintf("key:%d", i)
		if g.owner(int(slots.Of(k))) == f {
			return k
		}
	}
	t.Fatal("no key found")
	return ""
}

func TestMovedLoopStopsAtHopLimit(t *testing.T) {
	g := newFakeGroup(t, 2)
	for i, f := range g.nodes {
		other := g.nodes[1-i]
		f.setHandle(func(_ *fakeConn, args []string) string {
			return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), other.addr)
		})
	}
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", "k")
	require.Error(t, err)
	var ex *retry.ExhaustedError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, 16, ex.Hops)
	assert.ErrorIs(t, err, retry.ErrExhausted)
	assert.Contains(t, err.Error(), "MOVED")
	var re *rueidis.RedisError
	assert.ErrorAs(t, err, &re, "the last server error is wrapped")
	moved, asked, _ := ctr.Total()
	assert.Equal(t, int64(16), moved)
	assert.Zero(t, asked)
	assert.Equal(t, int64(17), g.nodes[0].count("GET")+g.nodes[1].count("GET"))
	// Each node sent about half of the redirects.
	assert.InDelta(t, 8, ctr.Moved()[g.nodes[0].addr], 1)
}

func TestAskFollowedWithAsking(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	k := keyOn(t, g, a)
	slot := slots.Of(k)
	a.setHandle(func(_ *fakeConn, args []string) string {
		return fmt.Sprintf("-ASK %d %s\r\n", slot, b.addr)
	})
	b.setHandle(func(fc *fakeConn, args []string) string {
		if !fc.asking {
			return fmt.Sprintf("-MOVED %d %s\r\n", slot, a.addr)
		}
		return bulk("from-b")
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		msg, err := c.Do(ctx, "GET", k)
		require.NoError(t, err)
		v, _ := msg.ToString()
		assert.Equal(t, "from-b", v)
	}
	assert.Equal(t, int64(3), b.count("ASKING"))
	assert.Equal(t, int64(3), ctr.Asked()[a.addr])
	moved, _, _ := ctr.Total()
	assert.Zero(t, moved)
	// ASK does not patch the topology.
	_, n, err := c.Route("GET", k)
	require.NoError(t, err)
	assert.Equal(t, a.addr, n.Addr())

	res := c.DoMulti(ctx, router.C("GET", k), router.C("SET", k, "v"))
	require.NoError(t, res[0].Err)
	v, _ := res[0].Msg.ToString()
	assert.Equal(t, "from-b", v)
	assert.NoError(t, res[1].Err)
}

func TestMovedToSelfRedials(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	k := keyOn(t, g, a)
	var n atomic.Int64
	a.setHandle(func(_ *fakeConn, args []string) string {
		if n.Add(1) == 1 {
			return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), a.addr)
		}
		return bulk("ok")
	})
	c := newFakeClient(t, g, router.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", k) // dial
	require.NoError(t, err)
	n.Store(0)
	before := a.accepted.Load()
	msg, err := c.Do(ctx, "GET", k)
	require.NoError(t, err)
	v, _ := msg.ToString()
	assert.Equal(t, "ok", v)
	assert.Greater(t, a.accepted.Load(), before, "MOVED to itself makes the client dial the node again")
}

func TestMovedFollowedAndPatched(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	k := keyOn(t, g, a)
	a.setHandle(func(_ *fakeConn, args []string) string {
		return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), b.addr)
	})
	b.setHandle(func(_ *fakeConn, args []string) string { return bulk("b") })
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := c.Do(ctx, "GET", k)
	require.NoError(t, err)
	v, _ := msg.ToString()
	assert.Equal(t, "b", v)
	_, n, err := c.Route("GET", k)
	require.NoError(t, err)
	assert.Equal(t, b.addr, n.Addr(), "MOVED patched the slot")
	_, err = c.Do(ctx, "GET", k)
	require.NoError(t, err)
	assert.Equal(t, int64(1), ctr.Moved()[a.addr])
}

func TestTryAgainHonoursDeadline(t *testing.T) {
	g := newFakeGroup(t, 1)
	g.nodes[0].setHandle(func(*fakeConn, []string) string {
		return "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{
		Observer: &ctr,
		Limits:   retry.Limits{MaxAttempts: 100000},
		Backoff:  retry.Backoff{Base: 5 * time.Millisecond, Cap: 40 * time.Millisecond},
	})
	const budget = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, "MGET", "{t}a", "{t}b")
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.True(t, retry.Classify(err).Kind == retry.KindTryAgain || errors.Is(err, context.DeadlineExceeded), "last error: %v", err)
	t.Logf("elapsed %v for a %v deadline", elapsed, budget)
	// Loose: the failure this guards against is a wait past the deadline
	// (a backoff or a hang); scheduling on a loaded machine adds some.
	assert.LessOrEqual(t, elapsed, budget+2*time.Second, "the deadline is honoured (loose bound)")
	assert.Greater(t, elapsed, budget/3, "it did retry for a while")
	assert.Greater(t, ctr.Retries()[retry.KindTryAgain], int64(3))

	// A cancellation during a long backoff returns at once.
	c2 := newFakeClient(t, g, router.Options{
		Limits:  retry.Limits{MaxAttempts: 100000},
		Backoff: retry.Backoff{Base: 10 * time.Second, Cap: 10 * time.Second},
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel2)
	start = time.Now()
	_, err = c2.Do(ctx2, "GET", "k")
	elapsed = time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, elapsed, 5*time.Second, "returned at the cancellation, not after the 10 s backoff")
}

func TestClusterDownAndLoadingRetried(t *testing.T) {
	for _, reply := range []string{
		"-CLUSTERDOWN The cluster is down\r\n",
		"-LOADING Redis is loading the dataset in memory\r\n",
		"-MASTERDOWN Link with MASTER is down\r\n",
		"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
	} {
		g := newFakeGroup(t, 1)
		var n atomic.Int64
		g.nodes[0].setHandle(func(*fakeConn, []string) string {
			if n.Add(1) <= 2 {
				return reply
			}
			return "+OK\r\n"
		})
		var ctr router.Counters
		// FailoverWait -1: CLUSTERDOWN is retried with backoff, as the
		// other replies (by default it is waited out: see
		// TestClusterDownIsWaitedOut).
		c := newFakeClient(t, g, router.Options{Observer: &ctr, FailoverWait: -1})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Do(ctx, "INCR", "k")
		cancel()
		require.NoError(t, err, reply)
		_, _, retries := ctr.Total()
		assert.Equal(t, int64(2), retries, reply)
		assert.Equal(t, int64(3), g.nodes[0].count("INCR"))
	}
}

func TestAttemptsExhausted(t *testing.T) {
	g := newFakeGroup(t, 1)
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return "-CLUSTERDOWN The cluster is down\r\n" })
	c := newFakeClient(t, g, router.Options{FailoverWait: -1, Backoff: retry.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", "k")
	var ex *retry.ExhaustedError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, 5, ex.Attempts)
	assert.Contains(t, err.Error(), "CLUSTERDOWN")
	assert.Equal(t, int64(5), g.nodes[0].count("GET"))
}

func TestUnknownOutcomeFake(t *testing.T) {
	g := newFakeGroup(t, 1)
	f := g.nodes[0]
	var gets atomic.Int64
	f.setHandle(func(_ *fakeConn, args []string) string {
		switch args[0] {
		case "INCR", "SET":
			return "" // executed, then the connection breaks
		case "GET":
			if gets.Add(1) == 1 {
				return ""
			}
			return bulk("v")
		}
		return "+OK\r\n"
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr, Breaker: retry.BreakerOptions{Failures: 100}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "INCR", "k")
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	var uo *router.UnknownOutcomeError
	require.ErrorAs(t, err, &uo)
	assert.Equal(t, f.addr, uo.Addr)
	assert.Equal(t, int64(1), f.count("INCR"), "never sent again")

	msg, err := c.Do(ctx, "GET", "k")
	require.NoError(t, err, "a read is retried")
	v, _ := msg.ToString()
	assert.Equal(t, "v", v)
	assert.Equal(t, int64(1), ctr.Retries()[retry.KindConn])

	// DoMulti: the same rules per command.
	res := c.DoMulti(ctx, router.C("INCR", "k"))
	assert.ErrorIs(t, res[0].Err, router.ErrUnknownOutcome)
	assert.Equal(t, int64(2), f.count("INCR"), "never sent again")

	// Idempotent writes are retried (and here fail again and again).
	_, err = c.DoCmd(ctx, router.Idempotent("SET", "k", "v"))
	require.Error(t, err)
	assert.NotErrorIs(t, err, router.ErrUnknownOutcome)
	assert.Greater(t, f.count("SET"), int64(1))
}

func TestMalformedRepliesNeverPanic(t *testing.T) {
	g := newFakeGroup(t, 1)
	replies := []string{
		"-MOVED\r\n",
		"-MOVED 99999 127.0.0.1:1\r\n",
		"-MOVED 12 nohostport\r\n",
		"-ASK x y\r\n",
		"-ASK 1 :0\r\n",
		"-TRYAGAIN\r\n",
		"-\r\n",
		"-ERR\r\n",
	}
	var i atomic.Int64
	g.nodes[0].setHandle(func(*fakeConn, []string) string {
		return replies[int(i.Load())%len(replies)]
	})
	c := newFakeClient(t, g, router.Options{CommandTimeout: 2 * time.Second, Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond}})
	for range replies {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := c.Do(ctx, "GET", "k")
		_ = c.DoMulti(ctx, router.C("GET", "k"), router.C("GET", "j"))
		cancel()
		t.Logf("%q: %v", replies[i.Load()], err)
		i.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", "k") // "-MOVED" again
	assert.ErrorIs(t, err, retry.ErrMalformedRedirect)
}

func TestBreakerFailsFast(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	ka, kb := keyOn(t, g, a), keyOn(t, g, b)
	b.setHandle(func(*fakeConn, []string) string { return bulk("b") })
	c := newFakeClient(t, g, router.Options{
		Breaker:      retry.BreakerOptions{Failures: 2, Cooldown: time.Minute},
		Backoff:      retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		FailoverWait: -1, // fail fast (by default: TestFailoverWaitEnds)
	})
	a.close() // a is gone: dials are refused
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "SET", ka, "v")
	require.Error(t, err)
	_, err = c.Do(ctx, "SET", ka, "v")
	require.Error(t, err)
	assert.ErrorIs(t, err, retry.ErrOpen, "the breaker opened: %v", err)
	start := time.Now()
	_, err = c.Do(ctx, "GET", ka)
	assert.ErrorIs(t, err, retry.ErrOpen)
	assert.Less(t, time.Since(start), 100*time.Millisecond, "fails fast")
	var ne *router.NodeError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, a.addr, ne.Addr)
	// The other node is unaffected.
	msg, err := c.Do(ctx, "GET", kb)
	require.NoError(t, err)
	v, _ := msg.ToString()
	assert.Equal(t, "b", v)
}

func TestReadonlyReplyRefreshes(t *testing.T) {
	g := newFakeGroup(t, 1)
	var n atomic.Int64
	g.nodes[0].setHandle(func(*fakeConn, []string) string {
		if n.Add(1) == 1 {
			return "-READONLY You can't write against a read only replica.\r\n"
		}
		return "+OK\r\n"
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := g.nodes[0].count("CLUSTER")
	_, err := c.Do(ctx, "SET", "k", "v")
	require.NoError(t, err)
	assert.Equal(t, int64(1), ctr.Retries()[retry.KindReadOnly])
	assert.Greater(t, g.nodes[0].count("CLUSTER"), before, "the topology was refreshed")
}

func TestRetryBudgetStopsRetries(t *testing.T) {
	g := newFakeGroup(t, 1)
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return "-TRYAGAIN busy\r\n" })
	c := newFakeClient(t, g, router.Options{
		RetryBudget: &retry.BudgetOptions{Ratio: -1, MinPerSecond: 0.3, TTL: time.Second}, // 0.3 retries in reserve: none
		Backoff:     retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", "k")
	require.Error(t, err)
	assert.Equal(t, retry.KindTryAgain, retry.Classify(err).Kind)
	assert.NotErrorIs(t, err, retry.ErrExhausted, "the budget, not the limits, stopped it")
	assert.Equal(t, int64(1), g.nodes[0].count("GET"))
}

func TestDoMultiFakeRedirectsAndRefresh(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	ka, kb := keyOn(t, g, a), keyOn(t, g, b)
	var readonlyOnce atomic.Bool
	a.setHandle(func(_ *fakeConn, args []string) string {
		if strings.HasPrefix(args[1], ka+"x") {
			return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), b.addr)
		}
		if args[0] == "SET" && readonlyOnce.CompareAndSwap(false, true) {
			return "-READONLY You can't write against a read only replica.\r\n"
		}
		return bulk("a:" + args[1])
	})
	b.setHandle(func(_ *fakeConn, args []string) string {
		if args[0] == "HGET" {
			return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		}
		return bulk("b:" + args[1])
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kx := ka + "x"
	for i := 0; g.owner(int(slots.Of(kx))) != a && i < 1000; i++ {
		kx = fmt.Sprintf("%sx%d", ka, i)
	}
	require.True(t, g.owner(int(slots.Of(kx))) == a, "test key on a")
	res := c.DoMulti(ctx,
		router.C("GET", ka), router.C("GET", kb), router.C("GET", kx), router.C("SET", ka, "v"), router.C("HGET", kb, "f"),
	)
	want := []string{"a:" + ka, "b:" + kb, "b:" + kx, "a:" + ka}
	for i, w := range want {
		require.NoError(t, res[i].Err, i)
		v, _ := res[i].Msg.ToString()
		assert.Equal(t, w, v, i)
	}
	assert.ErrorContains(t, res[4].Err, "WRONGTYPE", "the server's own error, as is")
	var re *rueidis.RedisError
	assert.ErrorAs(t, res[4].Err, &re)
	assert.Equal(t, int64(1), ctr.Moved()[a.addr])
	assert.Equal(t, int64(1), ctr.Retries()[retry.KindReadOnly])
}

func TestWriteCutByDeadlineIsUnknownOutcome(t *testing.T) {
	g := newFakeGroup(t, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
		if args[0] != "INCR" {
			return ":0\r\n"
		}
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return ":1\r\n"
	})
	c := newFakeClient(t, g, router.Options{})
	// The connection is up first, so that the deadline below ends the
	// wait for INCR's reply, not the dial. (A command queued on the
	// pipelined connection is written even when its caller gives up.)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	_, err := c.Do(wctx, "GET", "k")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, "INCR", "k")
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = c.Do(ctx, "INCR", "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, router.ErrUnknownOutcome, "not sent: the context had ended")
}

// TestMapAddrAppliesToRedirects checks that the address-mapping hook is
// applied to MOVED and ASK targets: the nodes announce an address nobody
// listens on, the hook maps it to the real one.
func TestMapAddrAppliesToRedirects(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	ka := keyOn(t, g, a)
	const announced = "127.0.0.1:1" // nothing listens there
	a.setHandle(func(_ *fakeConn, args []string) string {
		if args[0] == "GET" {
			return fmt.Sprintf("-ASK %d %s\r\n", slots.Of(args[1]), announced)
		}
		return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), announced)
	})
	b.setHandle(func(_ *fakeConn, args []string) string { return bulk("b") })
	c := newFakeClient(t, g, router.Options{MapAddr: func(s string) string {
		if s == announced {
			return b.addr
		}
		return ""
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := c.Do(ctx, "GET", ka)
	require.NoError(t, err)
	v, _ := msg.ToString()
	assert.Equal(t, "b", v)
	_, err = c.Do(ctx, "SET", ka, "v")
	require.NoError(t, err)
	_, n, err := c.Route("SET", ka, "v")
	require.NoError(t, err)
	assert.Equal(t, b.addr, n.Addr(), "MOVED patched the slot with the mapped address")
	assert.Equal(t, int64(1), b.count("SET"))
}

// FuzzErrorReplies sends every command to a fake node answering one
// arbitrary error line: the loop never panics, always ends, and returns
// an error.
func FuzzErrorReplies(f *testing.F) {
	for _, s := range []string{
		"MOVED 1 127.0.0.1:1", "MOVED", "MOVED 16384 a:1", "MOVED 1 :", "MOVED -1 x:2", "ASK 0 [::1]:0",
		"ASK 12 host:65536", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY x",
		"ERR", "", "MOVED 1 127.0.0.1:1 extra", "ASK 99999999999999999999 a:1",
	} {
		f.Add(s)
	}
	g := newFakeGroup(f, 1)
	var reply atomic.Pointer[string]
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return *reply.Load() })
	empty := ""
	reply.Store(&empty)
	c := newFakeClient(f, g, router.Options{
		Limits:  retry.Limits{MaxRedirects: 3, MaxAttempts: 3},
		Backoff: retry.Backoff{Base: time.Microsecond, Cap: time.Millisecond},
		MapAddr: func(string) string { return g.nodes[0].addr }, // every target is the fake
	})
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, line)
		r := "-" + line + "\r\n"
		reply.Store(&r)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.Do(ctx, "GET", "k")
		if err == nil {
			t.Fatalf("%q: no error", line)
		}
		for _, res := range c.DoMulti(ctx, router.C("GET", "k"), router.C("SET", "j", "v")) {
			if res.Err == nil {
				t.Fatalf("%q: no error in DoMulti", line)
			}
		}
	})
}

func BenchmarkClientRoute(b *testing.B) {
	g := newFakeGroup(b, 3)
	c := newFakeClient(b, g, router.Options{ReadPolicy: router.PreferReplica})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Route("GET", "user:42"); err != nil {
			b.Fatal(err)
		}
	}
}
