package router_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// freezeProxy is a loopback proxy that, while frozen, swallows what the
// client sends (counting it in seen) and so leaves its calls unanswered,
// its connections open: a node that stopped answering.
type freezeProxy struct {
	*loopProxy
	frozen atomic.Bool
	seen   atomic.Int64
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	p := &freezeProxy{}
	p.loopProxy = startLoopProxy(t, target, func(c, s net.Conn) (up, down func()) {
		return func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if p.frozen.Load() {
						p.seen.Add(1)
					} else if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}, func() { copyChunks(c, s, 0) }
	})
	return p
}

// waitingInCache reports whether some goroutine waits on another
// caller's cached fetch (rueidis's cache entry, or the router's store's).
func waitingInCache() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	s := string(buf)
	return strings.Contains(s, "rueidis.(*cacheEntry).Wait") || strings.Contains(s, "rueidis.(*adapterEntry).Wait") ||
		strings.Contains(s, "router.(*lruEntry).Wait")
}

// TestCacheFlightOtherCallersCancelLive: with client-side caching, caller
// A's DoCache(GET k) is in flight to a node that does not answer; caller
// B's DoCache(GET k), with a live context of its own, waits on A's fetch
// (rueidis shares one fetch per key). A cancels its context. B must not
// get A's context error: once the node answers again, B gets the value.
// The face's DoCache and DoMultiCache send B's call again (cacheRedo);
// the node clients of Rueidis().Nodes() handed B A's context.Canceled
// before (the fault audit found it).
func TestCacheFlightOtherCallersCancelLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	k := testKey(t, "cacheflight")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "v")
	require.NoError(t, err)
	p := newFreezeProxy(t, owner.Addr)
	c := newLiveClient(t, cl, router.Options{
		ClientSideCaching: true,
		StallTimeout:      -1,
		MapAddr: func(announced string) string {
			if announced == owner.Addr {
				return p.addr
			}
			return ""
		},
	})
	rc := c.Rueidis()
	for _, face := range []string{"Rueidis().DoCache", "Rueidis().DoMultiCache", "Rueidis().Nodes()[owner].DoCache", "Rueidis().Nodes()[owner].DoMultiCache"} {
		t.Run(face, func(t *testing.T) {
			p.frozen.Store(false)
			p.reset() // a fresh connection
			var on rueidis.Client = rc
			if strings.Contains(face, "Nodes()") {
				on = rc.Nodes()[p.addr]
				require.NotNil(t, on, "node client of %s in %v", p.addr, rc.Nodes())
			}
			dc := func(ctx context.Context) rueidis.RedisResult {
				return on.DoCache(ctx, on.B().Get().Key(k).Cache(), time.Minute)
			}
			if strings.HasSuffix(face, ".DoMultiCache") {
				dc = func(ctx context.Context) rueidis.RedisResult {
					return on.DoMultiCache(ctx, rueidis.CT(on.B().Get().Key(k).Cache(), time.Minute))[0]
				}
			}
			// Connected, nothing cached (a write invalidates).
			_, err := c.DoCmd(ctx, router.Idempotent("SET", k, "v"))
			require.NoError(t, err)
			p.frozen.Store(true)
			seen := p.seen.Load()
			actx, cancelA := context.WithCancel(context.Background())
			defer cancelA()
			aDone := make(chan error, 1)
			go func() { aDone <- dc(actx).Error() }()
			waitUntil(t, 30*time.Second, "A's fetch reached the node", func() bool { return p.seen.Load() > seen })
			type res struct {
				v   string
				err error
			}
			bDone := make(chan res, 1)
			go func() {
				v, err := dc(ctx).ToString()
				bDone <- res{v, err}
			}()
			waitUntil(t, 30*time.Second, "B waits on A's fetch", waitingInCache)
			cancelA()
			assert.ErrorIs(t, <-aDone, context.Canceled)
			// The node answers again (the frozen connection is cut,
			// rueidis dials again).
			p.frozen.Store(false)
			p.reset()
			select {
			case r := <-bDone:
				assert.NotErrorIs(t, r.err, context.Canceled, "B got A's cancellation")
				if r.err == nil {
					assert.Equal(t, "v", r.v)
				}
			case <-ctx.Done():
				t.Fatal("B still waiting after the node answers again")
			}
		})
	}
}
