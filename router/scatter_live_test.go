package router_test

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

func TestScatterLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	res := c.DoPrimaries(ctx, "PING")
	require.Len(t, res, len(ps))
	for _, r := range res {
		require.NoError(t, r.Err)
		v, _ := r.Msg.ToString()
		assert.Equal(t, "PONG", v)
		assert.NotNil(t, cl.NodeByAddr(r.Node.Addr))
	}

	before, err := c.DBSize(ctx)
	require.NoError(t, err)
	prefix := t.Name() + fmt.Sprint(time.Now().UnixNano())
	var want []string
	for i := range 30 {
		k := fmt.Sprintf("%s:%d", prefix, i)
		want = append(want, k)
		_, err := c.Do(ctx, "SET", k, "v")
		require.NoError(t, err)
	}
	after, err := c.DBSize(ctx)
	require.NoError(t, err)
	assert.Equal(t, before+30, after)

	seen := map[string]bool{}
	err = c.Scan(ctx, router.ScanOptions{Match: prefix + ":*", Count: 7}, func(k string) error {
		seen[k] = true
		return nil
	})
	require.NoError(t, err)
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	assert.Equal(t, want, got)
	stop := fmt.Errorf("stop")
	err = c.Scan(ctx, router.ScanOptions{Match: prefix + ":*"}, func(k string) error { return stop })
	assert.ErrorIs(t, err, stop)
}

func TestFlushAllFake(t *testing.T) {
	g := newFakeGroup(t, 3)
	c := newFakeClient(t, g, router.Options{})
	ctx := liveCtx(t, 10*time.Second)
	require.NoError(t, c.FlushAll(ctx))
	for _, f := range g.nodes {
		assert.Equal(t, int64(1), f.count("FLUSHALL"), f.addr)
	}
	g.nodes[1].setHandle(func(_ *fakeConn, args []string) string {
		if strings.EqualFold(args[0], "DBSIZE") {
			return "-ERR boom\r\n"
		}
		return "+OK\r\n"
	})
	_, err := c.DBSize(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), g.nodes[1].addr)
}

// TestNoPrimaryIsAnError: with no primary known (Topology.StartUnavailable,
// the only seed a closed loopback port), DoPrimaries, FlushAll, DBSize
// and Scan fail with ErrNoNode, as Do does. Before, DoPrimaries returned
// no result at all, so FlushAll reported success having flushed nothing,
// DBSize a cluster of 0 keys and Scan a complete scan.
func TestNoPrimaryIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx := liveCtx(t, 10*time.Second)
	c, err := router.New(ctx, router.Options{Seeds: []string{closed}, NoLearn: true, FailoverWait: -1,
		Topology: topology.Options{StartUnavailable: true}})
	require.NoError(t, err)
	defer c.Close()
	rs := c.DoPrimaries(ctx, "PING")
	require.Len(t, rs, 1)
	assert.ErrorIs(t, rs[0].Err, router.ErrNoNode)
	assert.ErrorIs(t, c.FlushAll(ctx), router.ErrNoNode)
	n, err := c.DBSize(ctx)
	assert.ErrorIs(t, err, router.ErrNoNode)
	assert.Zero(t, n)
	assert.ErrorIs(t, c.Scan(ctx, router.ScanOptions{}, func(string) error { return nil }), router.ErrNoNode)
}

// TestNodeOutsideTopology: Client.Node refuses an address that is not a
// node of the topology (ErrNoNode; a closed loopback port here, never
// dialed), whose client the pool would close at its next prune while
// the caller still held it; a node of the cluster answers.
func TestNodeOutsideTopology(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 10*time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = c.Node(ctx, closed)
	assert.ErrorIs(t, err, router.ErrNoNode)
	n, err := c.Node(ctx, c.Primaries()[0].Addr)
	require.NoError(t, err)
	assert.NoError(t, n.Do(ctx, n.B().Ping().Build()).Error())
}
