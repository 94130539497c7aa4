package router_test

// Faults with real concurrency (from this session's fault audit, where
// they passed 10-18 runs each): connection resets under pipelines from
// several goroutines, callers with tiny deadlines beside patient ones on
// one connection, and Close racing every kind of call.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// faProxies puts a plain loopback proxy in front of every primary of cl
// and returns the MapAddr that routes the client through them, and the
// proxies by node address.
func faProxies(t *testing.T, cl *clustertest.Cluster) (func(string) string, map[string]*loopProxy) {
	t.Helper()
	ps := map[string]*loopProxy{}
	for _, a := range cl.Addrs() {
		ps[a] = startLoopProxy(t, a, func(c, s net.Conn) (up, down func()) {
			return func() { copyChunks(s, c, 0) }, func() { copyChunks(c, s, 0) }
		})
	}
	return func(announced string) string {
		if p := ps[announced]; p != nil {
			return p.addr
		}
		return ""
	}, ps
}

// TestMultiResetLive: DoMulti of 100 commands (GETs of known values
// and INCRs) over 3 nodes from several goroutines, while one node's
// connections are reset again and again. Every GET's result must be its
// own value or an error (never another command's reply), every INCR an
// integer or an error, every call returns, and the counters show no
// silent resend: final value <= successes + unknown outcomes.
//
// The victim's breaker never opens (Failures 1<<30) and the failover
// wait is off, so that every call meets the resets whatever the load.
// With the defaults, a loaded machine (CI's 2 cores, or two busy loops
// beside this test) made round trips longer than the 3 ms between
// resets: nothing on the victim completed, its breaker opened, each
// half-open probe was cut too and doubled the cool-down (1 s, 2 s, 4 s,
// 8 s), and the calls waited for a failover, as documented, until
// their 10 s deadline — 12 of 100 calls in a CI run, 3 of 6 runs beside
// two busy loops. Here a call that runs to its deadline is a hang.
func TestMultiResetLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	mapAddr, ps := faProxies(t, cl)
	c := newLiveClient(t, cl, router.Options{MapAddr: mapAddr, FailoverWait: -1,
		Breaker: retry.BreakerOptions{Failures: 1 << 30}})
	const n = 100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = testKey(t, "k", strconv.Itoa(i))
		_, err := c.Do(ctx, "SET", keys[i], "v"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	// The victim: the proxy of the node that owns keys[0].
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(keys[0])))
	require.NoError(t, err)
	victim := ps[owner.Addr]
	counters := make([]string, 10)
	for i := range counters {
		counters[i] = testKey(t, "ctr", strconv.Itoa(i))
		_, err := c.Do(ctx, "DEL", counters[i])
		require.NoError(t, err)
	}
	var ok, unknown [10]atomic.Int64
	var shifted, hung atomic.Int64
	stop := make(chan struct{})
	var cutter sync.WaitGroup
	cuts := 0
	cutter.Go(func() {
		tk := time.NewTicker(3 * time.Millisecond) // pacing, not synchronisation
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if victim.reset() > 0 {
				cuts++
			}
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for it := range 25 {
				cmds := make([]router.Cmd, 0, n)
				for i := range n {
					if i%10 == w+it%3 {
						cmds = append(cmds, router.C("INCR", counters[i/10]))
					} else {
						cmds = append(cmds, router.C("GET", keys[i]))
					}
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				start := time.Now()
				rs := c.DoMulti(cctx, cmds...)
				cancel()
				if time.Since(start) > 9*time.Second {
					hung.Add(1)
				}
				for i, r := range rs {
					switch cmds[i].Args[0] {
					case "GET":
						if r.Err == nil {
							if v, _ := r.Msg.ToString(); v != "v"+strconv.Itoa(i) {
								shifted.Add(1)
								t.Errorf("GET %s: got %q (%v)", keys[i], v, r.Msg)
							}
						}
					case "INCR":
						ci := i / 10
						if r.Err == nil {
							if _, e := r.Msg.AsInt64(); e != nil {
								shifted.Add(1)
								t.Errorf("INCR: not an integer: %v", r.Msg)
							} else {
								ok[ci].Add(1)
							}
						} else if errors.Is(r.Err, router.ErrUnknownOutcome) {
							unknown[ci].Add(1)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	cutter.Wait()
	var nok, nunknown int64
	for i := range counters {
		nok, nunknown = nok+ok[i].Load(), nunknown+unknown[i].Load()
	}
	t.Logf("cuts %d; INCRs: %d ok, %d unknown outcome", cuts, nok, nunknown)
	assert.Zero(t, shifted.Load(), "replies of other commands")
	assert.Zero(t, hung.Load(), "DoMulti calls that ran ~ to their deadline")
	for i := range counters {
		v, err := c.Do(ctx, "GET", counters[i])
		if rueidis.IsRedisNil(err) {
			continue
		}
		require.NoError(t, err)
		got, err := v.AsInt64()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, got, ok[i].Load(), "counter %d", i)
		assert.LessOrEqual(t, got, ok[i].Load()+unknown[i].Load(), "counter %d: executed more often than reported (silent resend)", i)
	}
}

// TestMixedDeadlinesLive: on one node, callers with deadlines that
// end while their commands are queued share the node's connection with
// callers without a deadline (Do, DoMulti, the rueidis face's Do,
// DoMulti and DoCache). The patient callers never fail.
func TestMixedDeadlinesLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	c := newLiveClient(t, cl, router.Options{})
	k := testKey(t, "{mixed}")
	_, err := c.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	rc := c.Rueidis()
	stop := make(chan struct{})
	var impatient sync.WaitGroup
	for w := range 6 {
		impatient.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := time.Duration((i*7+w)%50) * 10 * time.Microsecond
				cctx, cancel := context.WithTimeout(ctx, d)
				switch i % 4 {
				case 0:
					_, _ = c.Do(cctx, "GET", k)
				case 1:
					cmds := make([]router.Cmd, 0, 60)
					for j := range 20 {
						cmds = append(cmds, router.C("GET", k), router.C("INCR", k+"c"), router.C("GET", k+strconv.Itoa(j)))
					}
					_ = c.DoMulti(cctx, cmds...)
				case 2:
					_ = rc.Do(cctx, rc.B().Get().Key(k).Build()).Error()
				case 3:
					_ = rc.DoCache(cctx, rc.B().Get().Key(k).Cache(), time.Minute).Error()
				}
				cancel()
			}
		})
	}
	var patient sync.WaitGroup
	errs := make(chan error, 1000)
	for w := range 4 {
		patient.Go(func() {
			for i := range 300 {
				var err error
				switch (i + w) % 5 {
				case 0:
					var m rueidis.RedisMessage
					if m, err = c.Do(ctx, "GET", k); err == nil {
						if v, _ := m.ToString(); v != "v" {
							err = fmt.Errorf("GET %s: %q, another command's reply", k, v)
						}
					}
				case 1:
					for _, r := range c.DoMulti(ctx, router.C("GET", k), router.C("INCR", k+"p")) {
						if r.Err != nil {
							err = r.Err
						}
					}
				case 2:
					var v string
					if v, err = rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString(); err == nil && v != "v" {
						err = fmt.Errorf("GET %s: %q, another command's reply", k, v)
					}
				case 3:
					for _, r := range rc.DoMulti(ctx, rc.B().Get().Key(k).Build(), rc.B().Incr().Key(k+"p").Build()) {
						if r.Error() != nil {
							err = r.Error()
						}
					}
				case 4:
					err = rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).Error()
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("patient %d op %d: %w", w, (i+w)%5, err):
					default:
					}
				}
			}
		})
	}
	patient.Wait()
	close(stop)
	impatient.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCloseRaceLive: Close while many goroutines run Do, DoMulti,
// the rueidis face's Do/DoMulti/DoCache/Receive/Dedicated: nothing
// panics, every call returns, and no goroutine is left behind.
func TestCloseRaceLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := liveCtx(t, 60*time.Second)
	k := testKey(t, "{close}")
	for round := range 8 {
		c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
		require.NoError(t, err)
		rc := c.Rueidis()
		var started atomic.Int64
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := 0; i < 1000; i++ {
					started.Add(1)
					var err error
					switch (w + i) % 8 {
					case 0:
						_, err = c.Do(ctx, "INCR", k)
					case 1:
						for _, r := range c.DoMulti(ctx, router.C("GET", k), router.C("INCR", k), router.C("GET", "other"+k)) {
							err = r.Err
						}
					case 2:
						err = rc.Do(ctx, rc.B().Get().Key(k).Build()).Error()
					case 3:
						for _, r := range rc.DoMulti(ctx, rc.B().Get().Key(k).Build(), rc.B().Get().Key("x"+k).Build()) {
							err = r.Error()
						}
					case 4:
						err = rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).Error()
					case 5:
						rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
						err = rc.Receive(rctx, rc.B().Subscribe().Channel(k).Build(), func(rueidis.PubSubMessage) {})
						cancel()
						if errors.Is(err, context.DeadlineExceeded) {
							err = nil
						}
					case 6:
						err = rc.Dedicated(func(d rueidis.DedicatedClient) error {
							return d.Do(ctx, d.B().Get().Key(k).Build()).Error()
						})
					case 7:
						_, err = c.Do(ctx, "BLPOP", k+"list", "0.05")
					}
					if err != nil && !rueidis.IsRedisNil(err) {
						return // closed
					}
				}
			})
		}
		waitUntil(t, 10*time.Second, "calls running", func() bool { return started.Load() > int64(50+round*10) })
		c.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: calls still running 10s after Close", round)
		}
	}
}

// faFreezeProxy is a loopback proxy to target that, once frozen, stops
// forwarding what the client sends (the node looks frozen: connections
// stay open, nothing is answered); seen counts chunks dropped.
