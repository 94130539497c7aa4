package router_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// The tests below change the nodes that Route, Client.Route,
// Client.Primaries and DoPrimaries hand out, and check that the snapshot
// every goroutine of the client reads is as before.

// renderSnapshot describes every node and slot range of s, as text (so
// that it can be kept and compared after s's nodes were changed).
func renderSnapshot(s *topology.Snapshot) []string {
	var out []string
	for _, sh := range s.Shards() {
		out = append(out, fmt.Sprintf("shard %q %v", sh.ID, sh.Ranges))
		out = append(out, fmt.Sprintf("  primary %s %s %s %s %s", sh.Primary.ID, sh.Primary.Addr, sh.Primary.Announced, sh.Primary.Role, sh.Primary.Health))
		for _, r := range sh.Replicas {
			out = append(out, fmt.Sprintf("  replica %s %s %s %s %s", r.ID, r.Addr, r.Announced, r.Role, r.Health))
		}
	}
	for _, n := range s.Nodes() {
		out = append(out, fmt.Sprintf("node %s %s %s %s", n.ID, n.Addr, n.Role, n.Health))
	}
	return out
}

func TestRouteResultIsTheCallersOwn(t *testing.T) {
	s := benchSnapshot(t)
	want := renderSnapshot(s)
	for _, policy := range []router.ReadPolicy{router.ReadPrimary, router.PreferReplica} {
		for _, args := range [][]string{{"GET", "user:42:name"}, {"SET", "k", "v"}, {"PING"}} {
			_, ref, err := router.Route(s, nil, policy, args...)
			require.NoError(t, err)
			// A NodeRef has no way to change the node; the copy it gives
			// is the caller's own.
			n := ref.Node()
			addr := n.Addr
			require.Equal(t, addr, ref.Addr())
			n.Addr = "127.0.0.1:1"
			n.ID = "changed"
			n.Role = topology.RoleReplica
			n.Health = topology.HealthFailed
			require.Equal(t, want, renderSnapshot(s), "%v %q", policy, args)
			assert.Equal(t, addr, ref.Addr(), "the reference still reads the snapshot's node")
			if len(args) > 1 && policy == router.ReadPrimary {
				_, again, err := router.Route(s, nil, policy, args...)
				require.NoError(t, err)
				assert.Equal(t, addr, again.Addr(), "the next Route is unchanged")
			}
		}
	}
}

// fakeClientSnapshot starts a client over two fake nodes and returns it,
// the nodes, a key on the first one and the text of its snapshot.
func fakeClientSnapshot(t *testing.T) (*router.Client, *fakeGroup, string, *topology.Snapshot, []string) {
	t.Helper()
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{})
	s := c.Topology().Current()
	return c, g, keyOn(t, g, g.nodes[0]), s, renderSnapshot(s)
}

func TestClientRouteResultIsTheCallersOwn(t *testing.T) {
	c, g, ka, s, want := fakeClientSnapshot(t)
	_, ref, err := c.Route("GET", ka)
	require.NoError(t, err)
	require.Equal(t, g.nodes[0].addr, ref.Addr())
	n := ref.Node()
	n.Addr = "127.0.0.1:1"
	n.Health = topology.HealthFailed
	n.Role = topology.RoleReplica
	require.Equal(t, want, renderSnapshot(s))
	_, ref, err = c.Route("GET", ka)
	require.NoError(t, err)
	assert.Equal(t, g.nodes[0].addr, ref.Addr(), "the next Route is unchanged")

	// The client still sends to the real owner.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Do(ctx, "SET", ka, "v")
	require.NoError(t, err)
	assert.Equal(t, int64(1), g.nodes[0].count("SET"))
}

func TestPrimariesResultIsTheCallersOwn(t *testing.T) {
	c, g, _, s, want := fakeClientSnapshot(t)
	ps := c.Primaries()
	require.Len(t, ps, 2)
	ps[0].Addr = "127.0.0.1:2"
	ps[1].ID = "changed"
	ps[1].Health = topology.HealthFailed
	require.Equal(t, want, renderSnapshot(s))
	for i, p := range c.Primaries() {
		assert.Equal(t, g.nodes[i].addr, p.Addr, "the next Primaries is unchanged")
	}
}

func TestDoPrimariesResultIsTheCallersOwn(t *testing.T) {
	c, _, _, s, want := fakeClientSnapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := c.DoPrimaries(ctx, "PING")
	require.Len(t, res, 2)
	for i := range res {
		require.NoError(t, res[i].Err)
		res[i].Node.Addr = "127.0.0.1:3"
		res[i].Node.Role = topology.RoleReplica
	}
	require.Equal(t, want, renderSnapshot(s))
}

// TestRouteDoesNotAllocate checks that handing out copies left the
// routing decision without allocation: the hot path reads the snapshot's
// own shards (lookupShard, shardsOf), never the exported accessors, which
// copy.
func TestRouteDoesNotAllocate(t *testing.T) {
	s := benchSnapshot(t)
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{ReadPolicy: router.PreferReplica})
	for _, args := range [][]string{{"GET", "user:42:name"}, {"SET", "k", "v"}, {"PING"}} {
		for _, policy := range []router.ReadPolicy{router.ReadPrimary, router.PreferReplica, router.Nearest} {
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				if _, n, err := router.Route(s, nil, policy, args...); err != nil || n.Addr() == "" {
					t.Fatal(err)
				}
			}), "Route %v %q", policy, args)
		}
		assert.Zero(t, testing.AllocsPerRun(100, func() {
			if _, n, err := c.Route(args...); err != nil || n.Addr() == "" {
				t.Fatal(err)
			}
		}), "Client.Route %q", args)
	}
}
