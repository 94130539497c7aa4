package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// keysOnNodes returns one key per primary of c's topology, each on a
// different node (keyed by the node's address).
func keysOnNodes(t *testing.T, c *router.Client, prefix string) map[string]string {
	t.Helper()
	want := len(c.Topology().Current().Shards())
	out := make(map[string]string, want)
	for i := 0; i < 10000 && len(out) < want; i++ {
		k := testKey(t, prefix, fmt.Sprint(i))
		_, n, err := c.Route("SET", k, "v")
		require.NoError(t, err)
		if _, ok := out[n.Addr()]; !ok {
			out[n.Addr()] = k
		}
	}
	require.Len(t, out, want)
	return out
}

// otherSlotKey returns a key of t whose slot is not k's.
func otherSlotKey(t *testing.T, k string) string {
	for i := range 100 {
		o := testKey(t, "other", fmt.Sprint(i))
		if slots.Of(o) != slots.Of(k) {
			return o
		}
	}
	t.Fatal("no key of another slot")
	return ""
}

// TestDedicatedWatchTxnLive: WATCH, GET, MULTI, SET, EXEC on a dedicated
// connection commit; MULTI ... EXEC sent one by one with Do work too.
func TestDedicatedWatchTxnLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "{acct}", "balance")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("10").Build()).Error())

	err := rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		if err := dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error(); err != nil {
			return err
		}
		v, err := dc.Do(ctx, dc.B().Get().Key(k).Build()).AsInt64()
		if err != nil {
			return err
		}
		rs := dc.DoMulti(ctx,
			dc.B().Multi().Build(),
			dc.B().Set().Key(k).Value(fmt.Sprint(v+5)).Build(),
			dc.B().Exec().Build())
		for _, r := range rs {
			if err := r.Error(); err != nil {
				return err
			}
		}
		exec, err := rs[2].ToArray()
		if err != nil {
			return err
		}
		if len(exec) != 1 {
			return fmt.Errorf("EXEC: %d replies", len(exec))
		}
		return nil
	})
	require.NoError(t, err)
	v, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "15", v)

	// MULTI, SET, EXEC one Do at a time; a blocking command is allowed.
	dc, cancel := rc.Dedicate()
	defer cancel()
	q0 := testKey(t, "{acct}", "queue")
	require.NoError(t, rc.Do(ctx, rc.B().Rpush().Key(q0).Element("job").Build()).Error())
	popped, err := dc.Do(ctx, dc.B().Blpop().Key(q0).Timeout(5).Build()).AsStrSlice()
	require.NoError(t, err)
	assert.Equal(t, []string{q0, "job"}, popped)
	require.NoError(t, dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error())
	require.NoError(t, dc.Do(ctx, dc.B().Multi().Build()).Error())
	q, err := dc.Do(ctx, dc.B().Set().Key(k).Value("20").Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "QUEUED", q)
	exec, err := dc.Do(ctx, dc.B().Exec().Build()).ToArray()
	require.NoError(t, err)
	assert.Len(t, exec, 1)
	v, err = rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "20", v)
}

// TestDedicatedWatchConflictLive: a write by another client between WATCH
// and EXEC aborts the transaction: EXEC replies nil, the other write
// stays.
func TestDedicatedWatchConflictLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("mine?").Build()).Error())

	var execErr error
	err := rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		if err := dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error(); err != nil {
			return err
		}
		// The conflicting writer: another connection.
		if err := rc.Do(ctx, rc.B().Set().Key(k).Value("theirs").Build()).Error(); err != nil {
			return err
		}
		rs := dc.DoMulti(ctx,
			dc.B().Multi().Build(),
			dc.B().Set().Key(k).Value("mine").Build(),
			dc.B().Exec().Build())
		require.Len(t, rs, 3)
		require.NoError(t, rs[0].Error())
		require.NoError(t, rs[1].Error())
		execErr = rs[2].Error()
		return nil
	})
	require.NoError(t, err)
	assert.True(t, rueidis.IsRedisNil(execErr), "EXEC must reply nil, got %v", execErr)
	v, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "theirs", v)
}

// TestDedicatedCrossSlotLive: a key of another slot on a dedicated
// connection is a typed error (no panic, nothing sent), in Do and in
// DoMulti; a connection pinned by a keyless command takes keys of its
// node's slots only.
func TestDedicatedCrossSlotLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")
	o := otherSlotKey(t, k)

	assert.NotPanics(t, func() {
		err := rc.Dedicated(func(dc rueidis.DedicatedClient) error {
			require.NoError(t, dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error())
			err := dc.Do(ctx, dc.B().Set().Key(o).Value("x").Build()).Error()
			var cse *router.CrossSlotError
			require.ErrorAs(t, err, &cse)
			assert.ErrorIs(t, err, router.ErrPinned)
			assert.ErrorIs(t, err, router.ErrCrossSlot)
			assert.Contains(t, err.Error(), o)
			assert.Contains(t, err.Error(), k)
			require.Len(t, cse.Keys, 2)

			// DoMulti: one key of another slot, nothing is sent.
			rs := dc.DoMulti(ctx,
				dc.B().Multi().Build(),
				dc.B().Set().Key(k).Value("x").Build(),
				dc.B().Set().Key(o).Value("x").Build(),
				dc.B().Exec().Build())
			require.Len(t, rs, 4)
			for _, r := range rs {
				require.ErrorAs(t, r.Error(), &cse)
			}
			// The pinned slot still works.
			return dc.Do(ctx, dc.B().Get().Key(k).Build()).Error()
		})
		assert.True(t, rueidis.IsRedisNil(err), "GET of the pinned slot: %v", err)
	})
	n, err := rc.Do(ctx, rc.B().Exists().Key(k).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n, "the refused DoMulti sent nothing")
	n, err = rc.Do(ctx, rc.B().Exists().Key(o).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n, "the refused SET was not sent")

	// Cross-slot inside one DoMulti of a fresh connection.
	dc, cancel := rc.Dedicate()
	rs := dc.DoMulti(ctx, dc.B().Get().Key(k).Build(), dc.B().Get().Key(o).Build())
	for _, r := range rs {
		var cse *router.CrossSlotError
		require.ErrorAs(t, r.Error(), &cse)
	}
	cancel()

	// Pinned by a keyless command: exactly one node's key goes.
	byNode := keysOnNodes(t, c, "node")
	dc, cancel = rc.Dedicate()
	defer cancel()
	require.NoError(t, dc.Do(ctx, dc.B().Ping().Build()).Error())
	var ok, pinned int
	for _, key := range byNode {
		err := dc.Do(ctx, dc.B().Get().Key(key).Build()).Error()
		switch {
		case rueidis.IsRedisNil(err):
			ok++
		case errors.Is(err, router.ErrPinned):
			pinned++
		default:
			t.Errorf("GET %s: %v", key, err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, len(byNode)-1, pinned)
}

// TestDedicateCancelLive: after Dedicate's cancel (or Dedicated's return)
// every call fails with a clear error, never a panic; cancel and Close are
// idempotent; invalid input is refused.
func TestDedicateCancelLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")

	dc, cancel := rc.Dedicate()
	require.NoError(t, dc.Do(ctx, dc.B().Set().Key(k).Value("v").Build()).Error())
	cancel()
	check := func(dc rueidis.DedicatedClient) {
		t.Helper()
		assert.NotPanics(t, func() {
			err := dc.Do(ctx, dc.B().Get().Key(k).Build()).Error()
			require.ErrorIs(t, err, router.ErrDedicatedRecycled)
			require.ErrorIs(t, err, rueidis.ErrDedicatedClientRecycled)
			for _, r := range dc.DoMulti(ctx, dc.B().Get().Key(k).Build(), dc.B().Ping().Build()) {
				require.ErrorIs(t, r.Error(), router.ErrDedicatedRecycled)
			}
			require.ErrorIs(t, dc.Receive(ctx, dc.B().Subscribe().Channel("c").Build(), func(rueidis.PubSubMessage) {}),
				router.ErrDedicatedRecycled)
			require.ErrorIs(t, <-dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(rueidis.PubSubMessage) {}}),
				router.ErrDedicatedRecycled)
			require.ErrorIs(t, <-dc.SetOnInvalidations(func([]rueidis.RedisMessage) {}), router.ErrDedicatedRecycled)
			dc.Close()
		})
	}
	check(dc)
	assert.NotPanics(t, cancel, "cancel twice")

	// Dedicated: the client escaping fn is given back.
	var kept rueidis.DedicatedClient
	require.NoError(t, rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		kept = dc
		return dc.Do(ctx, dc.B().Get().Key(k).Build()).Error()
	}))
	check(kept)

	// Close gives back too; a Dedicate never used gives back nothing.
	dc, cancel = rc.Dedicate()
	require.NoError(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error())
	dc.Close()
	check(dc)
	cancel()
	_, cancel = rc.Dedicate()
	cancel()

	// fn's error is Dedicated's.
	boom := errors.New("boom")
	require.ErrorIs(t, rc.Dedicated(func(rueidis.DedicatedClient) error { return boom }), boom)

	// Input validation.
	require.ErrorIs(t, rc.Dedicated(nil), router.ErrBadCommand)
	dc, cancel = rc.Dedicate()
	defer cancel()
	var nilCtx context.Context
	require.ErrorIs(t, dc.Do(nilCtx, dc.B().Get().Key(k).Build()).Error(), router.ErrBadCommand)
	for _, r := range dc.DoMulti(nilCtx, dc.B().Get().Key(k).Build()) {
		require.ErrorIs(t, r.Error(), router.ErrBadCommand)
	}
	require.ErrorIs(t, dc.Receive(nilCtx, dc.B().Subscribe().Channel("c").Build(), func(rueidis.PubSubMessage) {}), router.ErrBadCommand)
	require.ErrorIs(t, dc.Do(ctx, rueidis.Completed{}).Error(), router.ErrBadCommand)
	for _, r := range dc.DoMulti(ctx, dc.B().Get().Key(k).Build(), rueidis.Completed{}) {
		require.ErrorIs(t, r.Error(), router.ErrBadCommand)
	}
	assert.Nil(t, dc.DoMulti(ctx))
	require.ErrorIs(t, dc.Receive(ctx, dc.B().Subscribe().Channel("c").Build(), nil), router.ErrBadCommand)
	require.ErrorIs(t, dc.Receive(ctx, dc.B().Get().Key(k).Build(), func(rueidis.PubSubMessage) {}), router.ErrBadCommand)
	require.NoError(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error(), "a refused command leaves the client usable")

	// Closed client.
	c2 := newLiveClient(t, nil, router.Options{})
	dc2, cancel2 := c2.Rueidis().Dedicate()
	c2.Close()
	require.ErrorIs(t, dc2.Do(ctx, dc2.B().Get().Key(k).Build()).Error(), router.ErrClosed)
	cancel2()
	require.ErrorIs(t, c2.Rueidis().Dedicated(func(rueidis.DedicatedClient) error { return nil }), router.ErrClosed)
}

// TestDedicateGivesBackCleanLive: a connection given back with WATCH or
// MULTI still open is cleaned (UNWATCH, DISCARD) before the pool hands it
// to the next Dedicate, which gets the same server connection.
func TestDedicateGivesBackCleanLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("0").Build()).Error())

	clientID := func(dc rueidis.DedicatedClient) int64 {
		id, err := dc.Do(ctx, dc.B().ClientId().Build()).AsInt64()
		require.NoError(t, err)
		return id
	}

	// WATCH left open.
	dc, cancel := rc.Dedicate()
	require.NoError(t, dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error())
	id := clientID(dc)
	cancel()
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("1").Build()).Error()) // touches the old WATCH
	dc, cancel = rc.Dedicate()
	require.NoError(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error())
	require.Equal(t, id, clientID(dc), "the pool gave the same connection back")
	rs := dc.DoMulti(ctx, dc.B().Multi().Build(), dc.B().Set().Key(k).Value("2").Build(), dc.B().Exec().Build())
	require.NoError(t, rs[2].Error(), "no WATCH inherited: EXEC runs")
	cancel()

	// MULTI left open.
	dc, cancel = rc.Dedicate()
	require.NoError(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error())
	id = clientID(dc)
	require.NoError(t, dc.Do(ctx, dc.B().Multi().Build()).Error())
	cancel()
	dc, cancel = rc.Dedicate()
	defer cancel()
	v, err := dc.Do(ctx, dc.B().Get().Key(k).Build()).ToString()
	require.NoError(t, err)
	require.Equal(t, id, clientID(dc), "the pool gave the same connection back")
	assert.Equal(t, "2", v, "no MULTI inherited: GET is not QUEUED")
}

// TestDedicatedPubSubHooksLive: SetPubSubHooks set before the pin is
// installed on the connection the SUBSCRIBE (any primary) or SSUBSCRIBE
// (its channel's slot) pins, and receives messages; giving the
// connection back ends the hooks.
func TestDedicatedPubSubHooksLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)

	for _, sharded := range []bool{false, true} {
		ch := testKey(t, fmt.Sprint("ch", sharded))
		got := make(chan string, 100)
		dc, cancel := rc.Dedicate()
		wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(m rueidis.PubSubMessage) {
			select {
			case got <- m.Message:
			default:
			}
		}})
		require.NotNil(t, wait)
		sub := dc.B().Subscribe().Channel(ch).Build()
		if sharded {
			sub = dc.B().Ssubscribe().Channel(ch).Build()
		}
		require.NoError(t, dc.Do(ctx, sub).Error())
		// Publish until the subscription sees a message (bounded by ctx).
		received := false
		for i := 0; i < 200 && !received; i++ {
			pub := rc.B().Publish().Channel(ch).Message("hello").Build()
			if sharded {
				pub = rc.B().Spublish().Channel(ch).Message("hello").Build()
			}
			require.NoError(t, rc.Do(ctx, pub).Error())
			select {
			case m := <-got:
				assert.Equal(t, "hello", m)
				received = true
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		require.True(t, received, "sharded=%v: no message", sharded)
		cancel()
		select {
		case err, open := <-wait:
			if open {
				assert.NoError(t, err)
			}
		case <-ctx.Done():
			t.Fatal("the hooks' channel is not closed after cancel")
		}
	}

	// SetOnInvalidations before the pin, CLIENT TRACKING on the dedicated
	// connection: another client's write is reported.
	k := testKey(t, "tracked")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("1").Build()).Error())
	inval := make(chan []rueidis.RedisMessage, 10)
	tdc, tcancel := rc.Dedicate()
	iwait := tdc.SetOnInvalidations(func(m []rueidis.RedisMessage) {
		select {
		case inval <- m:
		default:
		}
	})
	require.NotNil(t, iwait)
	require.NoError(t, tdc.Do(ctx, tdc.B().Get().Key(k).Build()).Error()) // pins
	require.NoError(t, tdc.Do(ctx, tdc.B().ClientTracking().On().Build()).Error())
	require.NoError(t, tdc.Do(ctx, tdc.B().Get().Key(k).Build()).Error()) // tracked now
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("2").Build()).Error())
	select {
	case m := <-inval:
		require.Len(t, m, 1)
		key, err := m[0].ToString()
		require.NoError(t, err)
		assert.Equal(t, k, key)
	case <-ctx.Done():
		t.Fatal("no invalidation")
	}
	tcancel()
	select {
	case <-iwait:
	case <-ctx.Done():
		t.Fatal("the invalidation hook's channel is not closed after cancel")
	}

	// Receive on a dedicated connection, ended by its context.
	ch := testKey(t, "recv")
	dc, cancel := rc.Dedicate()
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- dc.Receive(rctx, dc.B().Ssubscribe().Channel(ch).Build(), func(m rueidis.PubSubMessage) {
			if m.Message == "bye" {
				stop()
			}
		})
	}()
	for sent := false; !sent; {
		require.NoError(t, rc.Do(ctx, rc.B().Spublish().Channel(ch).Message("bye").Build()).Error())
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
			sent = true
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// TestDedicatedMovedLive: when the pinned slot moves between WATCH and
// EXEC, the MOVED reply is returned as it is (nothing redirected), a
// topology refresh is triggered (periodic refresh off here), and the next
// Dedicated goes to the new owner.
func TestDedicatedMovedLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private cluster")
	}
	sctx, scancel := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer scancel()
	cl, err := clustertest.Start(sctx, clustertest.Options{Primaries: 3})
	if errors.Is(err, clustertest.ErrServerNotFound) {
		clustertest.Need(t, nil)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Stop() })

	c := newLiveClient(t, cl, router.Options{Topology: topology.Options{Period: topology.NoPeriodicRefresh}})
	rc := c.Rueidis()
	ctx := liveCtx(t, 60*time.Second)
	k := testKey(t, "k")
	slot := slots.Of(k)
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("1").Build()).Error())
	from, err := cl.OwnerOf(ctx, uint16(slot))
	require.NoError(t, err)
	prims, err := cl.Primaries(ctx)
	require.NoError(t, err)
	var to *clustertest.Node
	for _, p := range prims {
		if p.Addr != from.Addr {
			to = p
			break
		}
	}
	require.NotNil(t, to)
	sh, ok := c.Topology().Current().Lookup(slot)
	require.True(t, ok)
	before := sh.Primary.Addr

	err = rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		require.NoError(t, dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error())
		require.NoError(t, cl.MoveSlot(ctx, uint16(slot), to))
		rs := dc.DoMulti(ctx, dc.B().Multi().Build(), dc.B().Set().Key(k).Value("2").Build(), dc.B().Exec().Build())
		require.NoError(t, rs[0].Error())
		var re *rueidis.RedisError
		require.ErrorAs(t, rs[1].Error(), &re)
		addr, moved := re.IsMoved()
		assert.True(t, moved, "SET: %v", re)
		assert.NotEqual(t, before, addr)
		assert.Error(t, rs[2].Error(), "EXEC is aborted")
		return nil
	})
	require.NoError(t, err)
	// The trigger refreshes the topology (no periodic refresh here).
	require.Eventually(t, func() bool {
		sh, ok := c.Topology().Current().Lookup(slot)
		return ok && sh.Primary != nil && sh.Primary.Addr != before
	}, 10*time.Second, 20*time.Millisecond, "the MOVED triggered no refresh")
	// The caller's retry goes to the new owner.
	require.NoError(t, rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		if err := dc.Do(ctx, dc.B().Watch().Key(k).Build()).Error(); err != nil {
			return err
		}
		rs := dc.DoMulti(ctx, dc.B().Multi().Build(), dc.B().Set().Key(k).Value("3").Build(), dc.B().Exec().Build())
		return rs[2].Error()
	}))
	v, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "3", v)
}

// TestDedicatePoolFullLive: with the node's dedicated pool exhausted
// (BlockingPoolSize 1), pinning waits for a free connection within the
// caller's context only, and a connection that frees up after the caller
// gave up goes back to the pool; concurrent first commands on one
// dedicated client pin one connection.
func TestDedicatePoolFullLive(t *testing.T) {
	opts := router.Options{}
	opts.ClientOption.BlockingPoolSize = 1
	c := newLiveClient(t, nil, opts)
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")

	held, release := rc.Dedicate()
	require.NoError(t, held.Do(ctx, held.B().Set().Key(k).Value("v").Build()).Error())

	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	dc, cancel := rc.Dedicate()
	err := dc.Do(short, dc.B().Get().Key(k).Build()).Error()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	cancel()

	release() // the abandoned wait gets it and gives it back
	var wg sync.WaitGroup
	dc, cancel = rc.Dedicate()
	defer cancel()
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dc.Do(ctx, dc.B().Get().Key(k).Build()).Error()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// TestDedicateClientCloseLive: the Client's Close closes a dedicated
// connection that was not given back (in pub/sub mode here, with
// rueidis's goroutines behind it); calls then fail with ErrClosed.
func TestDedicateClientCloseLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	probe := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	k := testKey(t, "k")

	dc, cancel := rc.Dedicate()
	defer cancel()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(rueidis.PubSubMessage) {}})
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v").Build()).Error())
	require.NoError(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error()) // pins
	id, err := dc.Do(ctx, dc.B().ClientId().Build()).AsInt64()
	require.NoError(t, err)
	require.NoError(t, dc.Do(ctx, dc.B().Subscribe().Channel(k).Build()).Error())
	_, node, err := c.Route("GET", k)
	require.NoError(t, err)
	listed := func() string {
		s, err := probe.Rueidis().Nodes()[node.Addr()].Do(ctx, probe.Rueidis().B().Arbitrary("CLIENT", "LIST").Args("ID", fmt.Sprint(id)).Build()).ToString()
		require.NoError(t, err)
		return s
	}
	open := func() bool { return strings.Contains(listed(), fmt.Sprintf("id=%d ", id)) }
	require.True(t, open())

	c.Close()
	require.ErrorIs(t, dc.Do(ctx, dc.B().Get().Key(k).Build()).Error(), router.ErrClosed)
	require.Eventually(t, func() bool { return !open() }, 10*time.Second, 20*time.Millisecond,
		"the dedicated connection is still open on the server after Close")
	select {
	case <-wait:
	case <-ctx.Done():
		t.Fatal("the hooks did not end")
	}
}
