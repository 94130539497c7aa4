package router_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
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

// TestRueidisFaceDoLive: typed commands built with B() go to the slot's
// node, in Do and DoMulti; a cross-slot command is a typed error.
func TestRueidisFaceDoLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	assert.Equal(t, rueidis.ClientModeCluster, rc.Mode())
	for i := range 50 {
		k := testKey(t, "k", string(rune('a'+i%26)), string(rune('0'+i%10)))
		require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v").Build()).Error())
		v, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	}
	a, b := testKey(t, "a"), testKey(t, "b")
	rs := rc.DoMulti(ctx, rc.B().Set().Key(a).Value("1").Build(), rc.B().Set().Key(b).Value("2").Build(),
		rc.B().Get().Key(a).Build(), rc.B().Get().Key(b).Build())
	require.Len(t, rs, 4)
	for _, r := range rs {
		require.NoError(t, r.Error())
	}
	v, _ := rs[3].ToString()
	assert.Equal(t, "2", v)
	assert.Len(t, rc.Nodes(), len(c.Topology().Current().Nodes()))
}

// TestRueidisFaceReshardLive moves slots behind the client's back while
// goroutines write and read their own keys through the rueidis face
// (Do and DoMulti): every MOVED is followed with a command rebuilt from a
// copy of the args — rueidis recycles the caller's command once it has a
// reply, and another goroutine's Build reuses it — so every read returns
// the value its own goroutine wrote, and nothing fails.
func TestRueidisFaceReshardLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 120*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	from, to := ps[0], ps[1]
	if have, _ := cl.SlotsOf(ctx, from); len(have) < 400 {
		from, to = to, from
	}
	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{Observer: &ctr})
	rc := c.Rueidis()
	stop := make(chan struct{})
	var ops, failures, wrong atomic.Int64
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ { // bounded; normally stopped first
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("%s:%d:%d", t.Name(), g, i%400)
				v := fmt.Sprintf("%d:%d", g, i)
				if g%2 == 0 {
					if err := rc.Do(ctx, rc.B().Set().Key(k).Value(v).Build()).Error(); err != nil {
						fail(err)
						continue
					}
					got, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
					switch {
					case err != nil:
						fail(err)
					case got != v:
						wrong.Add(1)
					}
				} else {
					rs := rc.DoMulti(ctx, rc.B().Set().Key(k).Value(v).Build(), rc.B().Get().Key(k).Build(),
						rc.B().Get().Key(k+":other").Build())
					if err := rs[0].Error(); err != nil {
						fail(err)
					} else if got, err := rs[1].ToString(); err != nil {
						fail(err)
					} else if got != v {
						wrong.Add(1)
					}
					if err := rs[2].Error(); err != nil && !rueidis.IsRedisNil(err) {
						fail(err)
					}
				}
				ops.Add(1)
			}
		})
	}
	moved, err := cl.MoveSlots(ctx, from, to, 400)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Len(t, moved, 400)
	m, a, r := ctr.Total()
	t.Logf("%d operations while moving 400 slots; MOVED %d, ASK %d, retries %d", ops.Load(), m, a, r)
	if e := firstErr.Load(); e != nil {
		t.Errorf("first error: %v", *e)
	}
	assert.Zero(t, failures.Load(), "no error surfaces")
	assert.Zero(t, wrong.Load(), "every read returns its own goroutine's write")
	assert.Greater(t, m, int64(0), "slots moved behind the client's back")
}

// TestRueidisFaceBadInput: every entry of the face refuses bad input
// with a typed error, never a panic, and nothing works after Close.
func TestRueidisFaceBadInput(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	//lint:ignore SA1012 a nil context is what this test gives
	assert.ErrorIs(t, rc.Do(nil, rc.B().Get().Key("k").Build()).Error(), router.ErrBadCommand)
	assert.ErrorIs(t, rc.Do(ctx, rueidis.Completed{}).Error(), router.ErrBadCommand)
	rs := rc.DoMulti(ctx, rueidis.Completed{}, rc.B().Set().Key(testKey(t, "ok")).Value("1").Build())
	require.Len(t, rs, 2)
	assert.ErrorIs(t, rs[0].Error(), router.ErrBadCommand)
	assert.NoError(t, rs[1].Error())
	assert.Nil(t, rc.DoMulti(ctx))
	assert.ErrorIs(t, rc.Do(ctx, rc.B().Multi().Build()).Error(), router.ErrBadCommand, "MULTI alone needs Dedicated")

	var cs *router.CrossSlotError
	err := rc.Do(ctx, rc.B().Rename().Key("a").Newkey("b").Build()).Error()
	require.ErrorAs(t, err, &cs)
	s := rc.DoStream(ctx, rc.B().Rename().Key("a").Newkey("b").Build())
	assert.ErrorAs(t, s.Error(), &cs)
	ms := rc.DoMultiStream(ctx, rc.B().Get().Key("a").Build(), rc.B().Get().Key("b").Build())
	assert.ErrorAs(t, ms.Error(), &cs)
	es := rc.DoStream(ctx, rueidis.Completed{})
	assert.ErrorIs(t, es.Error(), router.ErrBadCommand)

	// Streams to the key's node work.
	k := testKey(t, "stream")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("streamed").Build()).Error())
	var buf strings.Builder
	gs := rc.DoStream(ctx, rc.B().Get().Key(k).Build())
	n, err := gs.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(len("streamed")), n)
	assert.Equal(t, "streamed", buf.String())

	rc.Close()
	assert.ErrorIs(t, rc.Do(ctx, rc.B().Get().Key("k").Build()).Error(), router.ErrClosed)
	_, err = c.Do(ctx, "GET", "k")
	assert.ErrorIs(t, err, router.ErrClosed, "closing the face closes the client")
}

// TestDoAllocations: a GET allocates only its reply, on both faces (the
// string Do's variadic args stay on the caller's stack; the face's
// command is recycled by rueidis and its args copy is on the stack). A change
// that makes the args escape (a goroutine or a stored slice on any path
// of Do) shows here.
//
// Pools drop items under -race: the suite runs it without -race too
// (scripts/test.sh).
func TestDoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race (sync.Pool drops items): scripts/test.sh runs this test without it")
	}
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := context.Background()
	k := testKey(t, "k")
	_, err := c.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	get := func() {
		if _, err := c.Do(ctx, "GET", k); err != nil {
			t.Error(err)
		}
	}
	face := func() {
		if err := rc.Do(ctx, rc.B().Get().Key(k).Build()).Error(); err != nil {
			t.Error(err)
		}
	}
	for range 100 { // warm the pools
		get()
		face()
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(200, get), 1.0, "string Do")
	assert.LessOrEqual(t, testing.AllocsPerRun(200, face), 1.0, "rueidis face")
}

// TestPipelineMultiplexLive: ClientOption.PipelineMultiplex is honoured:
// with it, a node's GETs go over several pipelines (each drawn at random,
// as rueidis's cluster client does; 200 GETs all on one of two pipelines
// has probability 2^-199); by default over one, as rueidis's cluster
// client.
func TestPipelineMultiplexLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	for _, tc := range []struct {
		multiplex, want int
	}{{0, 1}, {1, 2}} {
		name := fmt.Sprintf("mux%d-%d", tc.multiplex, time.Now().UnixNano())
		opts := router.Options{}
		opts.ClientOption.ClientName = name
		opts.ClientOption.PipelineMultiplex = tc.multiplex
		c := newLiveClient(t, cl, opts)
		for range 200 {
			_, err := c.Do(context.Background(), "GET", k) // no deadline: the shared pipelines
			if err != nil && !isNil(err) {
				require.NoError(t, err)
			}
		}
		msg, err := cl.Do(ctx, owner, "CLIENT", "LIST")
		require.NoError(t, err)
		list, _ := msg.ToString()
		n := 0
		for line := range strings.Lines(list) {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " cmd=get ") {
				n++
			}
		}
		assert.Equal(t, tc.want, n, "PipelineMultiplex %d: connections that served GETs", tc.multiplex)
	}
}

// loneReadsSetup returns a client of the shared cluster, 64 keys spread
// over its primaries, and the count of the reads its primaries have had
// on their lone clients (router.OwnReads).
func loneReadsSetup(t *testing.T) (*router.Client, []string, func() int64) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	var keys []string
	for i := range 64 {
		keys = append(keys, testKey(t, fmt.Sprint(i)))
	}
	own := func() (n int64) {
		for _, p := range c.Primaries() {
			n += router.OwnReads(c, p.Addr)
		}
		return n
	}
	return c, keys, own
}

// TestLoneReadConnectionIsSmallLive: the connection of a node's lone
// reads (a read with a deadline from a caller alone on the node) has
// small buffers: it costs the heap well under 256 KiB per node, where a
// connection of rueidis's blocking pool, which lone reads took before,
// costs about 1.4 MB (0.5 MiB read and write buffers, a ring of 1,024
// commands), and the garbage collector's pacing doubles what is live.
func TestLoneReadConnectionIsSmallLive(t *testing.T) {
	c, keys, own := loneReadsSetup(t)
	get := func(ctx context.Context, k string) {
		_, err := c.Do(ctx, "GET", k)
		if isNil(err) {
			err = nil
		}
		require.NoError(t, err)
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Shared pipelines dialed, commands learnt: without a deadline.
	for _, k := range keys {
		get(context.Background(), k)
	}
	before, ownBefore := heap(), own()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		get(ctx, k)
		cancel()
	}
	after := heap()
	require.Equal(t, int64(len(keys)), own()-ownBefore, "every read alone, on its node's own connection")
	n := uint64(len(c.Primaries()))
	grown := uint64(0)
	if after > before {
		grown = after - before
	}
	t.Logf("lone reads on %d nodes: heap %d -> %d bytes (%d per node)", n, before, after, grown/n)
	assert.Less(t, grown/n, uint64(256<<10), "live heap per node for its lone reads' connection")
}

// TestLoneReadsOwnConnectionLive: a caller alone on a node whose reads
// have a deadline gets a connection of its own for each (rueidis's
// synchronous path); concurrent callers' reads join the shared pipeline
// (a read of its own costs a write and a read syscall of its own where
// the shared pipeline batches it with the others'), even at the moments
// when no other call happens to be in flight on the read's node.
func TestLoneReadsOwnConnectionLive(t *testing.T) {
	c, keys, ownReads := loneReadsSetup(t)
	do := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.Do(ctx, args...)
		if isNil(err) {
			err = nil
		}
		return err
	}
	// Alone: every read on a connection of its own.
	before := ownReads()
	for i := range 50 {
		require.NoError(t, do("GET", keys[i%len(keys)]))
	}
	require.Equal(t, int64(50), ownReads()-before)

	// 16 callers at once over every primary, 80 % GET / 20 % SET.
	before = ownReads()
	const callers, each = 16, 500
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				k := keys[(g*7+i)%len(keys)]
				var err error
				if i%5 == 4 {
					err = do("SET", k, "v")
				} else {
					err = do("GET", k)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	own := ownReads() - before
	reads := int64(callers * each * 4 / 5)
	t.Logf("%d of %d concurrent reads on a connection of their own", own, reads)
	// With concurrency seen, only a read that comes alone right after the
	// watch's tick (every PollInterval) clears the node's busy mark goes
	// on its own: 3 to 5 here in runs of 0.1-0.4 s; without the busy mark
	// 282 to 425 (about 6 %) did.
	assert.Less(t, own, reads/50, "concurrent reads should share the pipeline")
}
