package router_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// fastTry runs scenario on a fresh pair of fake nodes and client, its
// call made right after the first node was marked busy, until the fast
// first attempt (doFast) sent it: a watch tick between the marking and
// the call sends it the usual way instead (each try takes well under a
// tick, 150 ms, so a few tries at most).
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

// TestFastPathHandsOverItsFailedAttempt: a first attempt sent by the
// fast path and failed is handled as the loop's own: a MOVED is
// followed, a write whose connection broke after it was sent is not sent
// again (its outcome is unknown), a read is.
func TestFastPathHandsOverItsFailedAttempt(t *testing.T) {
	t.Run("MOVED", func(t *testing.T) {
		fastTry(t, func(t *testing.T, g *fakeGroup, c *router.Client, k string, call func(func())) {
			var moved atomic.Bool
			g.nodes[0].setHandle(func(_ *fakeConn, args []string) string {
				if args[0] == "SET" && args[1] == k && moved.CompareAndSwap(false, true) {
					return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(k), g.nodes[1].addr)
				}
				return "+OK\r\n"
			})
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
