package router_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// TestRueidisNodesZeroCommandLive: the clients of Nodes() refuse a
// zero-value command, a nil context, a nil function and Receive of a
// command other than the subscribe family with an error wrapping
// ErrBadCommand, as the face does, instead of panicking inside rueidis.
func TestRueidisNodesZeroCommandLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 20*time.Second)
	nodes := c.Rueidis().Nodes()
	require.NotEmpty(t, nodes)
	var nilCtx context.Context
	for addr, n := range nodes {
		var errs []error
		require.NotPanics(t, func() {
			errs = append(errs, n.Do(ctx, rueidis.Completed{}).Error())
			errs = append(errs, n.DoMulti(ctx, n.B().Ping().Build(), rueidis.Completed{})[1].Error())
			errs = append(errs, n.DoCache(ctx, rueidis.Cacheable{}, time.Second).Error())
			errs = append(errs, n.DoMultiCache(ctx, rueidis.CacheableTTL{})[0].Error())
			s := n.DoStream(ctx, rueidis.Completed{})
			errs = append(errs, s.Error())
			ms := n.DoMultiStream(ctx, rueidis.Completed{})
			errs = append(errs, ms.Error())
			errs = append(errs, n.Receive(ctx, rueidis.Completed{}, func(rueidis.PubSubMessage) {}))
			errs = append(errs, n.Receive(ctx, n.B().Subscribe().Channel("c").Build(), nil))
			errs = append(errs, n.Receive(ctx, n.B().Get().Key("k").Build(), func(rueidis.PubSubMessage) {}))
			errs = append(errs, n.Dedicated(nil))
			errs = append(errs, n.Do(nilCtx, n.B().Ping().Build()).Error())
		}, addr)
		for i, err := range errs {
			assert.ErrorIs(t, err, command.ErrBadCommand, "%s: call %d", addr, i)
		}
		// A good command still works after the refused ones.
		require.NoError(t, n.Do(ctx, n.B().Ping().Build()).Error(), addr)
	}
}

// TestRueidisNodesDeadlineIsNotSharedLive: A runs a 300 ms script through
// the client Nodes() gives for the key's node, with a 50 ms deadline; B,
// on the same node's shared connection without a deadline, sends an INCR
// after A's script was written. B's INCR succeeds: A's deadline is not
// put on the connection B shares (as Client.Do keeps it off).
func TestRueidisNodesDeadlineIsNotSharedLive(t *testing.T) {
	c, ctx, k, owner, evalWritten, script := busyScriptSetup(t, "busy-300ms-nodes")
	node := c.Rueidis().Nodes()[owner.Addr]
	require.NotNil(t, node, "Nodes() has %s", owner.Addr)
	aDone := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		aDone <- node.Do(actx, node.B().Eval().Script(script).Numkeys(1).Key(k).Build()).Error()
	}()
	<-evalWritten
	// B has no deadline: it shares the node's connection with A.
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	n, err := c.Do(bctx, "INCR", k)
	require.NoError(t, err, "B's INCR: A's deadline (through Nodes()) is not B's error")
	got, _ := n.AsInt64()
	assert.Equal(t, int64(2), got)
	if aErr := <-aDone; aErr != nil {
		require.ErrorIs(t, aErr, context.DeadlineExceeded)
	}
}

// TestRueidisDedicatedWriteCutLive: on a dedicated connection (Dedicated),
// a write and a transaction's EXEC whose connection broke after the node
// executed them are ErrUnknownOutcome naming the node, not a bare
// connection error (errors.Is still reaches the connection error).
func TestRueidisDedicatedWriteCutLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "k")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	p := newCutProxy(t, owner.Addr)
	c := newLiveClient(t, cl, router.Options{
		MapAddr: func(announced string) string {
			if announced == owner.Addr {
				return p.addr
			}
			return ""
		},
	})
	rc := c.Rueidis()

	// A plain write.
	p.cutAfterSend(t.Name() + "-one")
	err = rc.Dedicated(func(d rueidis.DedicatedClient) error {
		return d.Do(ctx, d.B().Set().Key(k).Value(t.Name()+"-one").Build()).Error()
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	assert.Contains(t, err.Error(), p.addr)
	v, err := c.Do(ctx, "GET", k)
	require.NoError(t, err)
	s, _ := v.ToString()
	assert.Equal(t, t.Name()+"-one", s, "the write ran")

	// A transaction.
	p.cutAfterSend(t.Name() + "-two")
	var rs []rueidis.RedisResult
	err = rc.Dedicated(func(d rueidis.DedicatedClient) error {
		if err := d.Do(ctx, d.B().Watch().Key(k).Build()).Error(); err != nil {
			return err
		}
		rs = d.DoMulti(ctx, d.B().Multi().Build(), d.B().Set().Key(k).Value(t.Name()+"-two").Build(), d.B().Exec().Build())
		return nil
	})
	require.NoError(t, err)
	require.Len(t, rs, 3)
	assert.ErrorIs(t, rs[2].Error(), router.ErrUnknownOutcome, "EXEC")
	assert.Equal(t, int64(2), p.cuts.Load())
}

// tagConn records, in log, the number of its connection for each write
// that contains marker.
type tagConn struct {
	net.Conn
	id     int
	marker []byte
	log    func(id int)
}

func (c *tagConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, c.marker) {
		c.log(c.id)
	}
	return c.Conn.Write(p)
}

// TestRueidisDoMultiBlockingMarkLive: a command the caller built with
// Blocking() goes on a connection of its own (rueidis's pool for
// blocking commands), off the pipeline the callers share, through the
// face's DoMulti as through its Do, even when the command table does not
// know it as blocking (a long script, a module command).
func TestRueidisDoMultiBlockingMarkLive(t *testing.T) {
	k := testKey(t, "k")
	var mu sync.Mutex
	var dials, last int
	opts := router.Options{}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", dst)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		dials++
		return &tagConn{Conn: conn, id: dials, marker: []byte(k), log: func(id int) {
			mu.Lock()
			last = id
			mu.Unlock()
		}}, nil
	}
	c := newLiveClient(t, nil, opts)
	rc := c.Rueidis()
	connOf := func() int {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	// No deadline: every call would share the node's pipeline.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.True(t, rueidis.IsRedisNil(rc.Do(ctx, rc.B().Get().Key(k).Build()).Error()))
	shared := connOf()
	require.NotZero(t, shared)

	require.True(t, rueidis.IsRedisNil(rc.Do(ctx, rc.B().Arbitrary("GET").Keys(k).Blocking()).Error()))
	assert.NotEqual(t, shared, connOf(), "Do: a command marked Blocking is off the shared pipeline")

	rs := rc.DoMulti(ctx, rc.B().Arbitrary("GET").Keys(k).Blocking())
	require.Len(t, rs, 1)
	require.True(t, rueidis.IsRedisNil(rs[0].Error()))
	assert.NotEqual(t, shared, connOf(), "DoMulti: a command marked Blocking is off the shared pipeline")
}

// countConn calls seen for each write that contains pattern.
type countConn struct {
	net.Conn
	pattern []byte
	seen    func()
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if bytes.Contains(p, c.pattern) {
		c.seen()
	}
	return n, err
}

// TestRueidisWaitIsBlockingLive: WAIT blocks its connection until enough
// replicas acknowledge or its timeout passes (rueidis's builder marks it
// Blocking; Redis 7.0's COMMAND does not flag it). Fanned out to every
// primary by its command tips, it goes on connections of its own, not on
// the pipelines the callers share: a WAIT that cannot be satisfied (100
// replicas, no timeout) does not hold up another caller's GET, and it
// ends with its caller's context.
func TestRueidisWaitIsBlockingLive(t *testing.T) {
	k := testKey(t, "k")
	var writes atomic.Int64
	opts := router.Options{}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", dst)
		if err != nil {
			return nil, err
		}
		return &countConn{Conn: conn, pattern: []byte("$4\r\nWAIT\r\n"), seen: func() { writes.Add(1) }}, nil
	}
	c := newLiveClient(t, nil, opts)
	rc := c.Rueidis()
	primaries := len(c.Primaries())
	require.NotZero(t, primaries)
	// Every shared pipeline is dialed before the WAIT.
	for _, r := range c.DoPrimaries(liveCtx(t, 10*time.Second), "PING") {
		require.NoError(t, r.Err)
	}

	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	aDone := make(chan error, 1)
	go func() { aDone <- rc.Do(actx, rc.B().Wait().Numreplicas(100).Timeout(0).Build()).Error() }()
	deadline := time.Now().Add(10 * time.Second)
	for writes.Load() < int64(primaries) {
		require.True(t, time.Now().Before(deadline), "WAIT written to every primary")
		runtime.Gosched()
	}

	// B has no deadline: it would share a node's pipeline with the WAIT.
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	bDone := make(chan error, 1)
	go func() {
		_, err := c.Do(bctx, "GET", k)
		bDone <- err
	}()
	select {
	case err := <-bDone:
		require.True(t, err == nil || rueidis.IsRedisNil(err), "GET: %v", err)
	case <-time.After(10 * time.Second):
		bcancel()
		<-bDone
		t.Fatal("GET held up behind the WAIT on a shared pipeline")
	}
	acancel()
	select {
	case err := <-aDone:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("WAIT did not end with its caller's context")
	}
}

// TestRueidisDedicatedProbeReportedLive: once a node's breaker is past
// its cool-down, a dedicated connection reaches the node without holding
// the breaker's only half-open probe (its pin only peeks at the breaker),
// so the next Do to the node is not refused with retry.ErrOpen for
// another cool-down. (It fails if the pin takes the probe without
// reporting its reply.)
func TestRueidisDedicatedProbeReportedLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "k")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	var skew atomic.Int64 // the breakers' clock runs ahead by skew
	opts := router.Options{FailoverWait: -1}
	opts.Breaker = retry.BreakerOptions{Probes: 1, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}
	c := newLiveClient(t, cl, opts)
	rc := c.Rueidis()
	_, err = c.Do(ctx, "SET", k, "v")
	require.NoError(t, err)

	router.TripBreaker(c, owner.Addr)
	_, err = c.Do(ctx, "GET", k)
	require.ErrorIs(t, err, retry.ErrOpen, "the breaker is open")
	skew.Add(int64(time.Hour)) // past the cool-down: the next call is the probe

	err = rc.Dedicated(func(d rueidis.DedicatedClient) error {
		return d.Do(ctx, d.B().Get().Key(k).Build()).Error()
	})
	require.NoError(t, err)
	v, err := c.Do(ctx, "GET", k)
	require.NoError(t, err, "the dedicated probe's reply closed the breaker")
	s, _ := v.ToString()
	assert.Equal(t, "v", s)
}

// TestRueidisDoStreamProbeLive: a stream's reply is read by its caller,
// out of the client's sight, so DoStream checks the node's breaker
// (Breaker.Peek) without taking its probe: once the cool-down is over the
// stream goes through, and the next Do still has the probe that closes
// the breaker (taking it, the stream held the breaker half-open for
// another cool-down and Do got retry.ErrOpen).
func TestRueidisDoStreamProbeLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "k")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	var skew atomic.Int64
	opts := router.Options{FailoverWait: -1}
	opts.Breaker = retry.BreakerOptions{Probes: 1, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}
	c := newLiveClient(t, cl, opts)
	rc := c.Rueidis()
	_, err = c.Do(ctx, "SET", k, "v")
	require.NoError(t, err)
	router.TripBreaker(c, owner.Addr)
	skew.Add(int64(time.Hour))
	s := rc.DoStream(ctx, rc.B().Get().Key(k).Build())
	_, err = s.WriteTo(io.Discard)
	require.NoError(t, err)
	_, err = c.Do(ctx, "GET", k)
	require.NoError(t, err, "the stream's probe does not hold the breaker half-open")
}

// TestRueidisDoStreamRefusesWrites: DoStream and DoMultiStream take
// read-only commands only (ErrBadCommand, nothing sent): a write whose
// stream broke could not be told from one never sent.
func TestRueidisDoStreamRefusesWrites(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")
	s := rc.DoStream(ctx, rc.B().Set().Key(k).Value("v").Build())
	_, err := s.WriteTo(io.Discard)
	assert.ErrorIs(t, err, router.ErrBadCommand)
	ms := rc.DoMultiStream(ctx, rc.B().Get().Key(k).Build(), rc.B().Set().Key(k).Value("v").Build())
	assert.ErrorIs(t, ms.Error(), router.ErrBadCommand)
	n, err := c.Do(ctx, "EXISTS", k)
	require.NoError(t, err)
	v, _ := n.AsInt64()
	assert.Zero(t, v, "nothing was sent")
}
