package router_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// fastTry runs scenario on a fresh pair of fake nodes and client, its
// call made right after the first node was marked busy (needed for a
// read with a deadline, which doFast leaves to the loop on a node that
// is not busy), until the fast first attempt (doFast) sent it: a watch
// tick between the marking and such a read, or a snapshot published
// since the node table was built, sends it the usual way instead (each
// try takes well under a tick, 150 ms, so a few tries at most).
func fastTry(t *testing.T, scenario func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func()))) {
	t.Helper()
	for try := 0; try < 20; try++ {
		g := newFakeGroup(t, 2)
		c := newFakeClient(t, g, router.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, n := range g.nodes { // a state and a client for both nodes
			_, err := c.Do(ctx, "SET", keyOn(t, g, n), "v")
			require.NoError(t, err)
		}
		cancel()
		var fast atomic.Int64
		router.SetFastHook(c, func() { fast.Add(1) })
		k := keyOn(t, g, g.nodes[0])
		scenario(t, g, c, k, func(do func()) {
			router.MarkBusy(c, g.nodes[0].addr)
			do()
		})
		if fast.Load() > 0 {
			return
		}
	}
	t.Fatal("the fast path never took the call")
}

// movedOnce is a handler that answers the first SET of k with a MOVED to
// g's second node, and every other command with OK.
func movedOnce(g *fakeGroup, k string) func(*fakeConn, []string) string {
	var moved atomic.Bool
	return func(_ *fakeConn, args []string) string {
		if args[0] == "SET" && args[1] == k && moved.CompareAndSwap(false, true) {
			return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(k), g.nodes[1].addr)
		}
		return "+OK\r\n"
	}
}

// TestFastPathHandsOverItsFailedAttempt: a first attempt sent by the
// fast path and failed is handled as the loop's own: a MOVED is
// followed, a write whose connection broke after it was sent is not sent
// again (its outcome is unknown), a read is.
func TestFastPathHandsOverItsFailedAttempt(t *testing.T) {
	t.Run("MOVED", func(t *testing.T) {
		fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
			g.nodes[0].setHandle(movedOnce(g, k))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			before := g.nodes[1].count("SET")
			call(func() {
				_, err := c.Do(ctx, "SET", k, "v")
				require.NoError(t, err)
			})
			assert.Equal(t, before+1, g.nodes[1].count("SET"), "followed to the node the MOVED named")
		})
	})
	t.Run("write cut after it was sent", func(t *testing.T) {
		fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
			g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
				if args[0] == "INCR" {
					return "" // closes the connection without a reply
				}
				return "+OK\r\n"
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			before := g.nodes[0].count("INCR")
			call(func() {
				_, err := c.Do(ctx, "INCR", k)
				require.ErrorIs(t, err, router.ErrUnknownOutcome)
			})
			assert.Equal(t, before+1, g.nodes[0].count("INCR"), "sent once, not again")
		})
	})
	t.Run("read cut", func(t *testing.T) {
		fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
			var cut atomic.Bool
			g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
				if args[0] == "GET" && cut.CompareAndSwap(false, true) {
					return ""
				}
				return bulk("v")
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			call(func() {
				v, err := c.Do(ctx, "GET", k)
				require.NoError(t, err)
				s, _ := v.ToString()
				assert.Equal(t, "v", s)
			})
		})
	})
}

// TestFastPathFaceMoved: the rueidis face's own command, sent by the
// fast path and answered MOVED, is followed with a command rebuilt from
// the args (rueidis recycled the caller's): a short command's args
// copied on the stack, a long one's in a pooled buffer.
func TestFastPathFaceMoved(t *testing.T) {
	long := []string{"v", "a", "b", "c", "d", "e", "f", "g"} // SET k + 8: past the stack copy
	for _, vals := range [][]string{{"v"}, long} {
		t.Run(fmt.Sprintf("args=%d", 2+len(vals)), func(t *testing.T) {
			fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
				g.nodes[0].setHandle(movedOnce(g, k))
				want := append([]string{"SET", k}, vals...)
				g.nodes[1].setHandle(func(_ *fakeConn, args []string) string {
					if args[0] == "SET" && !slices.Equal(args, want) {
						return "-ERR bad args\r\n"
					}
					return "+OK\r\n"
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				before := g.nodes[1].count("SET")
				f := c.Rueidis()
				call(func() {
					require.NoError(t, f.Do(ctx, f.B().Arbitrary("SET").Keys(k).Args(vals...).Build()).Error())
				})
				assert.Equal(t, before+1, g.nodes[1].count("SET"))
			})
		})
	}
}

// TestFastPathAsk: an ASK answering the fast path's attempt sends ASKING
// and the command to the target, once.
func TestFastPathAsk(t *testing.T) {
	fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
		g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
			if args[0] == "INCR" {
				return fmt.Sprintf("-ASK %d %s\r\n", slots.Of(k), g.nodes[1].addr)
			}
			return "+OK\r\n"
		})
		g.nodes[1].setHandle(func(fc *fakeConn, args []string) string {
			if args[0] == "INCR" && !fc.asking {
				return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(k), g.nodes[0].addr)
			}
			return ":1\r\n"
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b0, b1 := g.nodes[0].count("INCR"), g.nodes[1].count("INCR")
		call(func() {
			v, err := c.Do(ctx, "INCR", k)
			require.NoError(t, err)
			n, _ := v.AsInt64()
			assert.Equal(t, int64(1), n)
		})
		assert.Equal(t, b0+1, g.nodes[0].count("INCR"))
		assert.Equal(t, b1+1, g.nodes[1].count("INCR"))
	})
}

// TestFastPathDeadlineInFlight: a write sent by the fast path whose
// context ends before its reply has an unknown outcome and is not sent
// again.
func TestFastPathDeadlineInFlight(t *testing.T) {
	fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
		got, release := make(chan struct{}, 1), make(chan struct{})
		defer close(release)
		g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
			if args[0] == "INCR" {
				got <- struct{}{}
				<-release // no reply before the call has ended
				return ":1\r\n"
			}
			return "+OK\r\n"
		})
		before := g.nodes[0].count("INCR")
		call(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Do(ctx, "INCR", k)
			require.ErrorIs(t, err, router.ErrUnknownOutcome)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		})
		<-got // the node has it (Do has returned: nothing more is sent)
		assert.Equal(t, before+1, g.nodes[0].count("INCR"))
	})
}

// TestFastPathConcurrentCuts: many callers on one busy node, its
// connection cut now and then: no write is sent twice (each APPEND
// carries its own value, and the node sees none twice), a cut write has
// an unknown outcome, the fast path took calls, and once the calls have
// returned the node's call counts have none in flight (no stall
// reported either).
func TestFastPathConcurrentCuts(t *testing.T) {
	g := newFakeGroup(t, 2)
	var stalls atomic.Int64
	c := newFakeClient(t, g, router.Options{StallTimeout: 300 * time.Millisecond, Observer: &stallObs{n: &stalls}})
	k := keyOn(t, g, g.nodes[0])
	var fast atomic.Int64
	router.SetFastHook(c, func() { fast.Add(1) })
	var n, twice atomic.Int64
	var seen sync.Map
	g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
		if args[0] == "APPEND" {
			if _, dup := seen.LoadOrStore(args[2], true); dup {
				twice.Add(1)
			}
			if n.Add(1)%97 == 0 {
				return ""
			}
			return ":1\r\n"
		}
		return "+OK\r\n"
	})
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Do(ctx, "APPEND", k, fmt.Sprintf("%d.%d", w, i))
				cancel()
				if err != nil && !assert.ErrorIs(t, err, router.ErrUnknownOutcome) {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("fast sends %d, APPENDs received %d", fast.Load(), n.Load())
	assert.Positive(t, fast.Load(), "the fast path took calls")
	assert.Zero(t, twice.Load(), "no write sent twice")
	assert.Zero(t, router.CallsInFlight(c, g.nodes[0].addr), "every call that started has ended")
	assert.Zero(t, stalls.Load(), "no stall")
}

type stallObs struct {
	router.Counters
	n *atomic.Int64
}

func (o *stallObs) OnEvent(e router.Event) {
	if e.Kind == router.EventStall {
		o.n.Add(1)
	}
}

// loneNode is one fake node whose GETs answer "v" (held until the test
// ends while stall is set) and whose other commands answer OK, with a
// client of it and a key it serves, already written once (the node's
// state and client exist).
type loneNode struct {
	c     *router.Client
	addr  string
	key   string
	stall atomic.Bool
}

func newLoneNode(t *testing.T, ctx context.Context, opts router.Options) *loneNode {
	t.Helper()
	g := newFakeGroup(t, 1)
	n := &loneNode{c: newFakeClient(t, g, opts), addr: g.nodes[0].addr, key: keyOn(t, g, g.nodes[0])}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the group stops
	g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
		if args[0] == "GET" {
			if n.stall.Load() {
				<-release
			}
			return bulk("v")
		}
		return "+OK\r\n"
	})
	_, err := n.c.Do(ctx, "SET", n.key, "v")
	require.NoError(t, err)
	return n
}

// get reads the node's key with ctx and checks it answered "v".
func (n *loneNode) get(t *testing.T, ctx context.Context) {
	t.Helper()
	m, err := n.c.Do(ctx, "GET", n.key)
	require.NoError(t, err)
	v, err := m.ToString()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}

// own is the count of the node's reads on its lone client.
func (n *loneNode) own() int64 { return router.OwnReads(n.c, n.addr) }

// TestFastPathLoneCalls: a caller alone on its node (no concurrent call
// lately, so the node is not busy) has its write, and its read without
// a deadline, sent by the fast path as they would be by the loop (on the
// shared pipeline); its read with a deadline is left to the loop, which
// sends it on a connection of its own.
func TestFastPathLoneCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := newLoneNode(t, ctx, router.Options{})
	c, k := n.c, n.key
	var fast atomic.Int64
	router.SetFastHook(c, func() { fast.Add(1) })
	// Until the fast path takes it: a snapshot published between two
	// calls leaves the node table behind until the loop's next pick.
	takes := func(ctx context.Context, args ...string) {
		t.Helper()
		for try := 0; try < 20; try++ {
			before := fast.Load()
			_, err := c.Do(ctx, args...)
			require.NoError(t, err)
			if fast.Load() > before {
				return
			}
		}
		t.Fatalf("%v: the fast path never took it", args)
	}
	own := n.own()
	takes(ctx, "SET", k, "v")
	takes(context.Background(), "GET", k)
	assert.Zero(t, router.CallsInFlight(c, n.addr))
	assert.Equal(t, own, n.own(), "on the shared pipeline")

	before := fast.Load()
	n.get(t, ctx)
	assert.Equal(t, before, fast.Load(), "a lone read with a deadline is the loop's")
	assert.Equal(t, own+1, n.own(), "on a connection of its own")
}

// TestLoneReadDeadlineRedials: a lone read (a deadline, nothing else in
// flight) whose node does not answer ends at its deadline on its own
// connection: a write right after, on the shared pipeline, succeeds, and
// the next lone read dials its connection again and is answered.
func TestLoneReadDeadlineRedials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := newLoneNode(t, ctx, router.Options{})
	own := n.own()

	n.stall.Store(true)
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := n.c.Do(short, "GET", n.key)
	cancelShort()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, own+1, n.own(), "on its own connection")
	n.stall.Store(false)

	_, err = n.c.Do(ctx, "SET", n.key, "v")
	require.NoError(t, err, "the shared pipeline is not the lone read's")
	n.get(t, ctx)
	assert.Equal(t, own+2, n.own(), "its connection dialed again")
}

// TestLoneReadAlwaysPipelining: with ClientOption.AlwaysPipelining
// rueidis never takes its synchronous path, so a lone read with a
// deadline shares the node's pipeline (no lone client, whose small ring
// reads left unanswered by a silent node could fill).
func TestLoneReadAlwaysPipelining(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := newLoneNode(t, ctx, router.Options{ClientOption: rueidis.ClientOption{AlwaysPipelining: true}})
	own := n.own()
	n.get(t, ctx)
	assert.Equal(t, own, n.own(), "on the shared pipeline")
}
