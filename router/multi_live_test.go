package router_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

func TestDoMultiOrderLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	const n = 300
	var sets, gets []router.Cmd
	for i := range n {
		k := testKey(t, fmt.Sprint(i))
		sets = append(sets, router.C("SET", k, fmt.Sprint(i)))
		gets = append(gets, router.C("GET", k))
	}
	for i, r := range c.DoMulti(ctx, sets...) {
		require.NoError(t, r.Err, i)
	}
	// Mixed: gets, a missing key, a cross-slot command (MSETNX: never
	// split), a bad command.
	cmds := append([]router.Cmd{}, gets...)
	cmds = append(cmds, router.C("GET", testKey(t, "missing")), router.C("MSETNX", "user:1", "a", "user:2", "b"), router.C("GET"))
	res := c.DoMulti(ctx, cmds...)
	require.Len(t, res, len(cmds))
	for i := range n {
		require.NoError(t, res[i].Err, i)
		v, _ := res[i].Msg.ToString()
		assert.Equal(t, fmt.Sprint(i), v)
	}
	assert.True(t, isNil(res[n].Err))
	assert.ErrorIs(t, res[n+1].Err, router.ErrCrossSlot)
	assert.ErrorIs(t, res[n+2].Err, router.ErrBadCommand)
	assert.Empty(t, c.DoMulti(ctx))
}

func TestDoMultiTransactionLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	tag := "{" + t.Name() + "}"
	a, b := tag+":a", tag+":b"
	res := c.DoMulti(ctx,
		router.C("SET", testKey(t, "before"), "x"),
		router.C("MULTI"),
		router.C("SET", a, "1"),
		router.C("INCR", a),
		router.C("SET", b, "2"),
		router.C("PING"),
		router.C("EXEC"),
		router.C("GET", a),
	)
	require.Len(t, res, 8)
	for i, r := range res {
		require.NoError(t, r.Err, i)
	}
	queued, _ := res[2].Msg.ToString()
	assert.Equal(t, "QUEUED", queued)
	exec, err := res[6].Msg.ToArray()
	require.NoError(t, err)
	require.Len(t, exec, 4)
	n, _ := exec[1].AsInt64()
	assert.Equal(t, int64(2), n)
	v, _ := res[7].Msg.ToString()
	assert.Equal(t, "2", v)

	// A block must be single-slot: nothing of it is sent.
	x, y := "user:1", "user:2"
	require.NotEqual(t, slots.Of(x), slots.Of(y))
	res = c.DoMulti(ctx, router.C("MULTI"), router.C("SET", x, "1"), router.C("SET", y, "2"), router.C("EXEC"), router.C("GET", a))
	for i := range 4 {
		assert.ErrorIs(t, res[i].Err, router.ErrCrossSlot, i)
	}
	var cs *router.CrossSlotError
	if assert.ErrorAs(t, res[0].Err, &cs) {
		var named []string
		for _, ks := range cs.Keys {
			named = append(named, ks.Key)
		}
		assert.Equal(t, []string{x, y}, named, "the error names the block's keys")
	}
	require.NoError(t, res[4].Err)
	for _, k := range []string{x, y} {
		_, err := c.Do(ctx, "GET", k)
		assert.True(t, isNil(err), "%s was not written: %v", k, err)
	}
	// Malformed blocks.
	res = c.DoMulti(ctx, router.C("MULTI"), router.C("SET", a, "1"))
	assert.ErrorIs(t, res[0].Err, router.ErrMultiBlock)
	assert.ErrorIs(t, res[1].Err, router.ErrMultiBlock)
	res = c.DoMulti(ctx, router.C("EXEC"))
	assert.ErrorIs(t, res[0].Err, router.ErrMultiBlock)
}

// TestDoMultiRegroupsRedirectedLive moves a slot behind the client's back:
// the commands of that slot are redirected and regrouped, the others are
// not disturbed, and results keep the caller's order.
func TestDoMultiRegroupsRedirectedLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{Observer: &ctr})
	tag := "{" + t.Name() + "}"
	slot := uint16(slots.Of(tag))
	var cmds []router.Cmd
	for i := range 50 {
		cmds = append(cmds, router.C("SET", fmt.Sprintf("%s:%d", tag, i), fmt.Sprint(i)))
		cmds = append(cmds, router.C("SET", testKey(t, fmt.Sprint(i)), fmt.Sprint(i)))
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Err)
	}
	owner, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, owner)
	require.NoError(t, cl.MoveSlot(ctx, slot, to))
	var gets []router.Cmd
	for i := range 50 {
		gets = append(gets, router.C("GET", fmt.Sprintf("%s:%d", tag, i)), router.C("GET", testKey(t, fmt.Sprint(i))))
	}
	res := c.DoMulti(ctx, gets...)
	for i, r := range res {
		require.NoError(t, r.Err, i)
		v, _ := r.Msg.ToString()
		assert.Equal(t, fmt.Sprint(i/2), v, i)
	}
	assert.Equal(t, int64(50), ctr.Moved()[owner.Addr], "each redirected command followed its MOVED")
}

// TestNewCloseNoLeak checks that New then Close leaves no goroutine.
func TestNewCloseNoLeak(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := liveCtx(t, 30*time.Second)
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()[:1]})
	require.NoError(t, err)
	for i := range 20 {
		_, err := c.Do(ctx, "SET", testKey(t, fmt.Sprint(i)), "v")
		require.NoError(t, err)
	}
	res := c.DoMulti(ctx, router.C("GET", "a"), router.C("GET", "b"), router.C("GET", "c"))
	require.Len(t, res, 3)
	c.Close()
	c.Close()
	_, err = c.Do(ctx, "GET", "a")
	assert.ErrorIs(t, err, router.ErrClosed)
	assert.ErrorIs(t, c.DoMulti(ctx, router.C("GET", "a"))[0].Err, router.ErrClosed)
}

// TestDoMultiPooledUnderCancelLive: DoMulti's pooled working memory and
// command batches are reused only when nothing still holds them. Eight
// goroutines pipeline SET/GET pairs on keys of their own over every
// primary through both faces, every other call with a deadline short
// enough to cut some pipelines mid-flight (rueidis then still holds the
// batch: it must not come back to the pool). Every GET that succeeds
// returns the value its own SET just wrote (a reused batch or unit would
// mix up commands), and the race detector watches the reuse.
func TestDoMultiPooledUnderCancelLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	const goroutines, rounds, pairs = 8, 60, 12
	var wg sync.WaitGroup
	var cut atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if r%2 == 1 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(50+r*20)*time.Microsecond)
				}
				keys := make([]string, pairs)
				vals := make([]string, pairs)
				for i := range pairs {
					keys[i] = testKey(t, fmt.Sprint(g), fmt.Sprint(i))
					vals[i] = fmt.Sprintf("g%d-r%d-i%d", g, r, i)
				}
				got := make([]string, pairs)
				errs := make([]error, pairs)
				if r%4 < 2 {
					cmds := make([]router.Cmd, 0, 2*pairs)
					for i := range pairs {
						cmds = append(cmds, router.Cmd{Args: []string{"SET", keys[i], vals[i]}}, router.C("GET", keys[i]))
					}
					for i, res := range c.DoMulti(ctx, cmds...) {
						if i%2 == 1 {
							errs[i/2] = res.Err
							got[i/2], _ = res.Msg.ToString()
						}
					}
				} else {
					cmds := make(rueidis.Commands, 0, 2*pairs)
					for i := range pairs {
						cmds = append(cmds, rc.B().Set().Key(keys[i]).Value(vals[i]).Build(), rc.B().Get().Key(keys[i]).Build())
					}
					for i, res := range rc.DoMulti(ctx, cmds...) {
						if i%2 == 1 {
							errs[i/2] = res.Error()
							got[i/2], _ = res.ToString()
						}
					}
				}
				cancel()
				for i := range pairs {
					if errs[i] != nil {
						cut.Add(1)
						continue
					}
					if got[i] != vals[i] {
						t.Errorf("goroutine %d round %d: GET %s = %q, want %q", g, r, keys[i], got[i], vals[i])
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d GETs cut by their deadline", cut.Load(), goroutines*rounds*pairs)
}

// TestCloseWithBlockingLive: Close ends a blocking command in flight,
// whichever way it was sent: BLPOP q 0 through Do, through DoMulti (on a
// node other than the first command's, so on one of the Client's
// pipeline workers) and on a dedicated connection of the face, WAIT
// through Do (fanned out by its tips) and DoPrimaries, a dedicated
// connection's Receive, XREAD BLOCK 0 through the face's DoStream and
// DoMultiStream. Close returns, the call fails (with ErrClosed, and
// ErrUnknownOutcome for BLPOP, which pops: it may have been served just
// before; a stream with its connection's error), and the server drops
// the blocked client, so an element pushed afterwards stays in the list.
// Before, Close returned but the calls waited on (forever, with
// context.Background), and the BLPOP popped the element pushed after
// Close into a closed Client.
func TestCloseWithBlockingLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	type call func(c *router.Client, q, other string) error
	stream := func(multi bool) call {
		return func(c *router.Client, q, _ string) error {
			r := c.Rueidis()
			cmd := r.B().Xread().Block(0).Streams().Key(q).Id("$").Build()
			if multi {
				s := r.DoMultiStream(context.Background(), cmd)
				for s.HasNext() {
					if _, err := s.WriteTo(io.Discard); err != nil {
						return err
					}
				}
				return s.Error()
			}
			s := r.DoStream(context.Background(), cmd)
			_, err := s.WriteTo(io.Discard)
			return err
		}
	}
	for _, tc := range []struct {
		name    string
		blocked string // in CLIENT LIST while it blocks
		list    bool   // a BLPOP: check that it pops nothing after Close
		closed  bool   // the error wraps ErrClosed
		call    call
	}{
		{"Do/BLPOP", "cmd=blpop", true, true, func(c *router.Client, q, _ string) error {
			_, err := c.Do(context.Background(), "BLPOP", q, "0")
			return err
		}},
		{"DoMulti/BLPOP", "cmd=blpop", true, true, func(c *router.Client, q, other string) error {
			rs := c.DoMulti(context.Background(), router.C("GET", other), router.C("BLPOP", q, "0"))
			if rs[0].Err != nil && !isNil(rs[0].Err) {
				return fmt.Errorf("GET: %w", rs[0].Err)
			}
			return rs[1].Err
		}},
		{"Do/WAIT", "cmd=wait", false, true, func(c *router.Client, _, _ string) error {
			_, err := c.Do(context.Background(), "WAIT", "5", "0")
			return err
		}},
		{"DoPrimaries/WAIT", "cmd=wait", false, true, func(c *router.Client, _, _ string) error {
			return c.DoPrimaries(context.Background(), "WAIT", "5", "0")[0].Err
		}},
		{"Dedicated/BLPOP", "cmd=blpop", true, true, func(c *router.Client, q, _ string) error {
			r := c.Rueidis()
			d, cancel := r.Dedicate()
			defer cancel()
			return d.Do(context.Background(), r.B().Blpop().Key(q).Timeout(0).Build()).Error()
		}},
		{"Dedicated/Receive", "cmd=subscribe", false, true, func(c *router.Client, q, _ string) error {
			r := c.Rueidis()
			d, cancel := r.Dedicate()
			defer cancel()
			return d.Receive(context.Background(), r.B().Subscribe().Channel(q).Build(), func(rueidis.PubSubMessage) {})
		}},
		{"DoStream/XREAD", "cmd=xread", false, false, stream(false)},
		{"DoMultiStream/XREAD", "cmd=xread", false, false, stream(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := liveCtx(t, 60*time.Second)
			c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
			require.NoError(t, err)
			other := testKey(t, "a")
			ownerA, err := cl.OwnerOf(ctx, uint16(slots.Of(other)))
			require.NoError(t, err)
			var q string
			var ownerQ *clustertest.Node
			for i := 0; ownerQ == nil; i++ {
				require.Less(t, i, 1000, "no key on another primary")
				k := testKey(t, "q", fmt.Sprint(i))
				o, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
				require.NoError(t, err)
				if o.Addr != ownerA.Addr {
					q, ownerQ = k, o
				}
			}
			// Empty, also when the test runs again (-count): the element
			// an earlier run pushed would be popped at once.
			_, err = cl.Do(ctx, ownerQ, "DEL", q)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- tc.call(c, q, other) }()
			blocked := func() bool {
				for _, n := range cl.Nodes() {
					m, err := cl.Do(ctx, n, "CLIENT", "LIST")
					require.NoError(t, err)
					if s, _ := m.ToString(); strings.Contains(s, tc.blocked) {
						return true
					}
				}
				return false
			}
			for !blocked() {
				require.NoError(t, ctx.Err(), "the command never blocked")
				time.Sleep(10 * time.Millisecond)
			}
			c.Close()
			select {
			case err := <-done:
				require.Error(t, err)
				if tc.closed {
					assert.ErrorIs(t, err, router.ErrClosed)
				} else {
					assert.ErrorIs(t, err, net.ErrClosed) // a stream: its connection's error
				}
				if tc.list {
					assert.ErrorIs(t, err, router.ErrUnknownOutcome)
				}
			case <-ctx.Done():
				t.Fatal("the call did not end when the Client was closed")
			}
			for blocked() {
				require.NoError(t, ctx.Err(), "the server kept the closed Client's blocked command")
				time.Sleep(10 * time.Millisecond)
			}
			if !tc.list {
				return
			}
			_, err = cl.Do(ctx, ownerQ, "RPUSH", q, "x")
			require.NoError(t, err)
			m, err := cl.Do(ctx, ownerQ, "LLEN", q)
			require.NoError(t, err)
			n, err := m.AsInt64()
			require.NoError(t, err)
			assert.EqualValues(t, 1, n, "the element pushed after Close was popped")
		})
	}
}

// TestCloseDuringBlockingDialLive: a BLPOP k 0 whose connection of
// rueidis's pool is still being dialed when Close runs ends with an error
// once the dial completes: the new connection is closed at once (Close
// cut the node's connections before it existed, and rueidis's pool hands
// out a connection it opened after being closed). The test's dialer
// holds that one dial until Close has returned. Before, the BLPOP was
// sent on a connection nobody would close and never returned (the
// edge audit's fault pass found it; a random version hung about once in
// 10 runs).
func TestCloseDuringBlockingDialLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	k := testKey(t, "closedial")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	var armed atomic.Bool
	dialing := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	c, err := router.New(ctx, router.Options{
		Seeds:        cl.Addrs(),
		StallTimeout: -1,
		ClientOption: rueidis.ClientOption{
			DialCtxFn: func(dctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
				if dst == owner.Addr && armed.Load() {
					select {
					case dialing <- struct{}{}:
					default:
					}
					<-release
				}
				return d.DialContext(dctx, "tcp", dst)
			},
		},
	})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Do(ctx, "DEL", k) // the node's shared pipeline is up
	require.NoError(t, err)
	armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), "BLPOP", k, "0")
		done <- err
	}()
	select {
	case <-dialing:
	case <-ctx.Done():
		t.Fatal("BLPOP did not dial a connection of its own")
	}
	c.Close() // returns while the dial is held
	unblock()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-ctx.Done():
		t.Error("BLPOP k 0 still running long after Close returned")
		_, err := cl.Do(context.Background(), owner, "LPUSH", k, "x") // let it end
		require.NoError(t, err)
		<-done
	}
}

// TestCanceledBlockingCallLive: BLPOP k 0 under a context with a distant
// deadline, cancelled once the server shows the client blocked, ends
// with the context's error (and ErrUnknownOutcome: BLPOP pops), through
// Do and DoMulti, and the server drops the blocked client. Before,
// rueidis put the deadline on the pooled connection's socket and did not
// watch the context: the call went on until the deadline (the fault
// audit found it).
func TestCanceledBlockingCallLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	for _, multi := range []bool{false, true} {
		t.Run(fmt.Sprintf("multi=%v", multi), func(t *testing.T) {
			ctx := liveCtx(t, 60*time.Second)
			k := testKey(t, "blpop")
			owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
			require.NoError(t, err)
			c := newLiveClient(t, cl, router.Options{})
			_, err = c.Do(ctx, "DEL", k)
			require.NoError(t, err)
			blocked := func() int {
				m, err := cl.Do(ctx, owner, "INFO", "clients")
				require.NoError(t, err)
				s, _ := m.ToString()
				var n int
				for _, line := range splitLines(s) {
					if _, err := fmt.Sscanf(line, "blocked_clients:%d", &n); err == nil {
						return n
					}
				}
				return 0
			}
			waitUntil(t, 30*time.Second, "no blocked client left by an earlier test", func() bool { return blocked() == 0 })
			cctx, cancel := context.WithTimeout(ctx, time.Hour) // ctx's deadline comes first: the test's bound
			defer cancel()
			done := make(chan error, 1)
			go func() {
				if multi {
					done <- c.DoMulti(cctx, router.C("BLPOP", k, "0"))[0].Err
					return
				}
				_, err := c.Do(cctx, "BLPOP", k, "0")
				done <- err
			}()
			waitUntil(t, 30*time.Second, "BLPOP blocked on the server", func() bool { return blocked() > 0 })
			cancel()
			select {
			case err := <-done:
				assert.ErrorIs(t, err, context.Canceled)
				assert.ErrorIs(t, err, router.ErrUnknownOutcome)
			case <-ctx.Done():
				t.Error("BLPOP still running after its context was canceled")
				_, err := c.Do(context.Background(), "LPUSH", k, "x") // let it end
				require.NoError(t, err)
				<-done
			}
			waitUntil(t, 30*time.Second, "the server dropped the blocked client", func() bool { return blocked() == 0 })
		})
	}
}

// TestCanceledWaitLive: WAIT 5 0 (for replicas the cluster does not
// have: for ever) through DoPrimaries, under a context with a distant
// deadline, ends with the context's error when it is cancelled early,
// as a BLPOP does (TestCanceledBlockingCallLive). Before, doNode put the
// deadline on the pooled connection's socket and rueidis did not watch
// the context.
func TestCanceledWaitLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	c := newLiveClient(t, cl, router.Options{})
	waiting := func() bool {
		for _, n := range cl.Nodes() {
			m, err := cl.Do(ctx, n, "CLIENT", "LIST")
			require.NoError(t, err)
			if s, _ := m.ToString(); strings.Contains(s, "cmd=wait") {
				return true
			}
		}
		return false
	}
	waitUntil(t, 30*time.Second, "no WAIT left by an earlier test", func() bool { return !waiting() })
	cctx, cancel := context.WithTimeout(ctx, time.Hour) // ctx's deadline comes first: the test's bound
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.DoPrimaries(cctx, "WAIT", "5", "0")[0].Err }()
	waitUntil(t, 30*time.Second, "WAIT blocked on the server", waiting)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-ctx.Done():
		t.Fatal("WAIT still running after its context was canceled")
	}
}
