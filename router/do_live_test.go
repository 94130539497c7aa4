package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/router/internal/keysamples"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// liveCtx returns a context bounded by d for a test.
func liveCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newLiveClient connects a router.Client to cl (the shared cluster when
// nil) and closes it at the end of the test.
func newLiveClient(t *testing.T, cl *clustertest.Cluster, opts router.Options) *router.Client {
	t.Helper()
	if cl == nil {
		cl = clustertest.Need(t, cluster)
	}
	if opts.Seeds == nil {
		opts.Seeds = cl.Addrs()
	}
	ctx := liveCtx(t, 30*time.Second)
	c, err := router.New(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// testKey returns a key unique to the test, with an optional hash tag.
func testKey(t *testing.T, parts ...string) string {
	return t.Name() + ":" + strings.Join(parts, ":")
}

func TestDoSetGetLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	for i := range 200 {
		k := testKey(t, fmt.Sprint(i))
		_, err := c.Do(ctx, "SET", k, fmt.Sprint(i*7))
		require.NoError(t, err)
	}
	for i := range 200 {
		k := testKey(t, fmt.Sprint(i))
		msg, err := c.Do(ctx, "GET", k)
		require.NoError(t, err)
		v, err := msg.ToString()
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i*7), v)
	}
	_, err := c.Do(ctx, "GET", testKey(t, "missing"))
	assert.True(t, rueidis.IsRedisNil(err), "nil reply: %v", err)

	// The key is on the node Route names: read it there directly.
	k := testKey(t, "7")
	slot, node, err := c.Route("GET", k)
	require.NoError(t, err)
	assert.Equal(t, slots.Of(k), slot)
	cn := cluster.NodeByAddr(node.Addr())
	require.NotNil(t, cn, "route names a node of the cluster: %s", node.Addr())
	msg, err := cluster.Do(ctx, cn, "GET", k)
	require.NoError(t, err)
	v, _ := msg.ToString()
	assert.Equal(t, "49", v)
}

func TestDoRejectsTxnAlone(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 10*time.Second)
	_, err := c.Do(ctx, "MULTI")
	require.ErrorIs(t, err, router.ErrBadCommand)
	_, err = c.Do(ctx)
	assert.ErrorIs(t, err, router.ErrBadCommand)
}

// shardsOwner parses CLUSTER SHARDS from node n of cl and returns the
// address of slot's primary.
func shardsOwner(ctx context.Context, t *testing.T, cl *clustertest.Cluster, view *topology.View, slot slots.Slot) string {
	t.Helper()
	for _, sh := range view.Shards {
		for _, r := range sh.Ranges {
			if r.Contains(slot) && sh.Primary != nil {
				return sh.Primary.Addr
			}
		}
	}
	t.Fatalf("slot %d uncovered in CLUSTER SHARDS", slot)
	return ""
}

// TestRouteEveryCommandLive checks, for a sample of every command of the
// table, that Route names the slot CLUSTER KEYSLOT gives for its first key
// and the node CLUSTER SHARDS names for that slot, and that keyless
// commands go to a primary.
func TestRouteEveryCommandLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 60*time.Second)
	node := cl.Nodes()[0]
	msg, err := cl.Do(ctx, node, "CLUSTER", "SHARDS")
	require.NoError(t, err)
	view, err := topology.ParseShards(msg, node.Addr)
	require.NoError(t, err)
	primaries := map[string]bool{}
	for _, sh := range view.Shards {
		if sh.Primary != nil && len(sh.Ranges) > 0 {
			primaries[sh.Primary.Addr] = true
		}
	}
	routed, keyless := 0, 0
	for _, s := range keysamples.Valid() {
		args := keysamples.Args(s)
		keys, kerr := c.Table().Keys(args)
		slot, n, err := c.Route(args...)
		if kerr != nil || errors.Is(err, router.ErrCrossSlot) {
			require.Error(t, err, "%q", s)
			continue
		}
		if refusedOnSharedConn(args) {
			require.ErrorIs(t, err, router.ErrBadCommand, "%q changes the shared connection's state", s)
			continue
		}
		require.NoError(t, err, "%q", s)
		require.NotEmpty(t, n.Addr(), "%q", s)
		if len(keys) == 0 {
			keyless++
			assert.Equal(t, router.NoSlot, slot, "%q", s)
			assert.True(t, primaries[n.Addr()], "%q: keyless command to a primary, got %s", s, n.Addr())
			continue
		}
		m, err := cl.Do(ctx, node, "CLUSTER", "KEYSLOT", keys[0])
		require.NoError(t, err)
		want, err := m.AsInt64()
		require.NoError(t, err)
		assert.Equal(t, slots.Slot(want), slot, "%q", s)
		assert.Equal(t, shardsOwner(ctx, t, cl, &view, slot), n.Addr(), "%q", s)
		routed++
	}
	t.Logf("%d samples routed by key, %d keyless", routed, keyless)
	assert.Greater(t, routed, 100)
}

// TestCrossSlotNothingSentLive checks that under StrictCrossSlot a
// cross-slot command fails before anything is sent: the servers'
// commandstats for MGET do not move. (Without it MGET is split per slot:
// multishard_live_test.go.)
func TestCrossSlotNothingSentLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{StrictCrossSlot: true})
	ctx := liveCtx(t, 30*time.Second)
	before := commandCalls(ctx, t, cl, "mget")
	a, b := "user:1", "user:2"
	require.NotEqual(t, slots.Of(a), slots.Of(b))
	_, err := c.Do(ctx, "MGET", a, b)
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrCrossSlot)
	var cse *router.CrossSlotError
	require.ErrorAs(t, err, &cse)
	require.Len(t, cse.Keys, 2)
	assert.Equal(t, slots.Of(a), cse.Keys[0].Slot)
	assert.Equal(t, slots.Of(b), cse.Keys[1].Slot)
	assert.Contains(t, err.Error(), fmt.Sprint(slots.Of(a)))
	assert.Contains(t, err.Error(), `"user:2"`)
	res := c.DoMulti(ctx, router.C("MGET", a, b))
	assert.ErrorIs(t, res[0].Err, router.ErrCrossSlot)
	assert.Equal(t, before, commandCalls(ctx, t, cl, "mget"), "no MGET reached a server")
}

// commandCalls sums INFO commandstats calls of cmd over every node.
func commandCalls(ctx context.Context, t *testing.T, cl *clustertest.Cluster, cmd string) int64 {
	t.Helper()
	var total int64
	for _, n := range cl.Nodes() {
		total += commandCallsOn(ctx, t, cl, n, cmd)
	}
	return total
}

func isNil(err error) bool { return rueidis.IsRedisNil(err) }

func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

func TestNewLearnsCommandTableLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	assert.NotSame(t, router.DefaultTable(), c.Table(), "learned from COMMAND")
	assert.GreaterOrEqual(t, c.Table().Len(), router.DefaultTable().Len())
	c2 := newLiveClient(t, nil, router.Options{NoLearn: true})
	assert.Same(t, router.DefaultTable(), c2.Table())
}

func TestBlockingCommandLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "list")
	done := make(chan error, 1)
	var got []string
	go func() {
		msg, err := c.Do(ctx, "BLPOP", k, "5")
		if err == nil {
			got, err = msg.AsStrSlice()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	// The blocked BLPOP does not hold up other commands to the node.
	_, err := c.Do(ctx, "SET", k+"x", "v")
	require.NoError(t, err)
	_, err = c.Do(ctx, "LPUSH", k, "item")
	require.NoError(t, err)
	require.NoError(t, <-done)
	assert.Equal(t, []string{k, "item"}, got)
}

// refusedOnSharedConn reports whether the client refuses args because
// they would change the state of the connection it shares.
func refusedOnSharedConn(args []string) bool {
	name := strings.ToLower(args[0])
	if strings.HasSuffix(name, "subscribe") {
		return true
	}
	switch name {
	case "monitor", "sync", "psync", "quit", "reset", "hello", "auth", "readonly", "readwrite", "asking":
		return true
	case "client":
		return len(args) > 1 && (strings.EqualFold(args[1], "reply") || strings.EqualFold(args[1], "tracking"))
	}
	return false
}

// TestAskingRefused: ASKING sets a one-shot flag on its connection that
// the next command on it consumes, whoever sends it: on the connection
// the Client shares it would make another caller's command be served as
// if redirected by ASK. Do, DoPrimaries and DoMulti refuse it, as they
// refuse READONLY and READWRITE (they sent it before).
func TestAskingRefused(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 10*time.Second)
	_, err := c.Do(ctx, "ASKING")
	assert.ErrorIs(t, err, router.ErrBadCommand, "Do")
	assert.ErrorIs(t, c.DoPrimaries(ctx, "asking")[0].Err, router.ErrBadCommand, "DoPrimaries")
	assert.ErrorIs(t, c.DoMulti(ctx, router.C("Asking"))[0].Err, router.ErrBadCommand, "DoMulti")
	r := c.Rueidis()
	assert.ErrorIs(t, r.Do(ctx, r.B().Asking().Build()).Error(), router.ErrBadCommand, "the face's Do")
}

// TestRouteUnknownPolicy: the package function Route refuses a read
// policy New would refuse (it routed with it before).
func TestRouteUnknownPolicy(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	_, _, err := router.Route(c.Topology().Current(), nil, router.ReadPolicy(99), "GET", "k")
	assert.ErrorIs(t, err, router.ErrBadCommand)
	_, _, err = router.Route(c.Topology().Current(), nil, router.Nearest, "GET", "k")
	assert.NoError(t, err)
}

// TestRouteZeroSnapshot: Route with a zero Snapshot (not built by
// topology.NewSnapshot) reports ErrNoNode instead of panicking.
func TestRouteZeroSnapshot(t *testing.T) {
	assert.NotPanics(t, func() {
		_, _, err := router.Route(&topology.Snapshot{}, nil, router.ReadPrimary, "GET", "k")
		assert.ErrorIs(t, err, router.ErrNoNode)
		_, _, err = router.Route(&topology.Snapshot{}, nil, router.PreferReplica, "MGET", "{a}1", "{a}2")
		assert.ErrorIs(t, err, router.ErrNoNode)
	})
}
