package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// handlesSnapshot is a snapshot of shards primaries with replicas each.
func handlesSnapshot(t *testing.T, shards, replicas int) *topology.Snapshot {
	t.Helper()
	var in []topology.Shard
	per := slots.Count / shards
	for i := range shards {
		end := (i+1)*per - 1
		if i == shards-1 {
			end = slots.Count - 1
		}
		sh := topology.Shard{
			Primary: &topology.Node{ID: fmt.Sprintf("p%039d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 10000+i), Role: topology.RolePrimary},
			Ranges:  []slots.Range{{Start: slots.Slot(i * per), End: slots.Slot(end)}},
		}
		for r := range replicas {
			sh.Replicas = append(sh.Replicas, &topology.Node{ID: fmt.Sprintf("r%019d%020d", i, r), Addr: fmt.Sprintf("127.0.0.1:%d", 20000+100*i+r), Role: topology.RoleReplica})
		}
		in = append(in, sh)
	}
	s, err := topology.NewSnapshot(in, topology.SnapshotOptions{})
	require.NoError(t, err)
	return s
}

// TestNodeHandles checks the table of a snapshot's nodes: every node of
// the snapshot (its own pointer) finds the pool's state of its address,
// or nil while the pool has none; a copy of a node is not a node of the
// table.
func TestNodeHandles(t *testing.T) {
	for _, c := range []struct{ shards, replicas int }{{1, 0}, {3, 0}, {3, 1}, {5, 2}, {16, 3}, {100, 1}} {
		t.Run(fmt.Sprintf("%dx%d", c.shards, c.replicas), func(t *testing.T) {
			s := handlesSnapshot(t, c.shards, c.replicas)
			p := newPool(rueidis.ClientOption{}, retryBreakerDefaults())
			// States for the primaries only.
			for _, sh := range shardsOf(s) {
				p.node(sh.Primary.Addr)
			}
			h := newNodeHandles(s, p)
			assert.Same(t, s, h.snap)
			assert.LessOrEqual(t, 2*c.shards*(1+c.replicas), len(h.keys), "at most half full")
			for _, sh := range shardsOf(s) {
				ns, ok := h.get(sh.Primary)
				assert.True(t, ok)
				assert.Same(t, p.lookup(sh.Primary.Addr), ns)
				require.NotNil(t, ns)
				for _, r := range sh.Replicas {
					ns, ok := h.get(r)
					assert.True(t, ok, "a replica is a node of the table")
					assert.Nil(t, ns, "no state yet")
				}
				cp := *sh.Primary
				ns, ok = h.get(&cp)
				assert.False(t, ok, "a copy is not the snapshot's node")
				assert.Nil(t, ns)
			}
			// By slot: the state of the slot's primary, the same as
			// through the shard.
			for slot := slots.Slot(0); int(slot) < slots.Count; slot += 97 {
				sh, ok := lookupShard(s, slot)
				require.True(t, ok)
				assert.Same(t, p.lookup(sh.Primary.Addr), h.primary(slot), "slot %d", slot)
			}
		})
	}
}

// TestNodeHandlesPrimaryBySlot: the per-slot primary state is nil for
// an uncovered slot, a shard without a primary or whose primary has no
// address, and a primary the pool has no state for yet.
func TestNodeHandlesPrimaryBySlot(t *testing.T) {
	s, err := topology.NewSnapshot([]topology.Shard{
		{Primary: &topology.Node{ID: "a", Addr: "127.0.0.1:7000"}, Ranges: []slots.Range{{Start: 0, End: 99}}},
		{Primary: &topology.Node{ID: "b", Addr: "127.0.0.1:7001"}, Ranges: []slots.Range{{Start: 100, End: 199}}},
		{Primary: &topology.Node{ID: "c"}, Ranges: []slots.Range{{Start: 200, End: 299}}},
	}, topology.SnapshotOptions{})
	require.NoError(t, err)
	p := newPool(rueidis.ClientOption{}, retryBreakerDefaults())
	a := p.node("127.0.0.1:7000")
	h := newNodeHandles(s, p)
	assert.Same(t, a, h.primary(0))
	assert.Same(t, a, h.primary(99))
	assert.Nil(t, h.primary(100), "no state yet for b")
	assert.Nil(t, h.primary(250), "no address")
	assert.Nil(t, h.primary(300), "uncovered")
	assert.Nil(t, h.primary(slots.Count), "out of range")
	b := p.node("127.0.0.1:7001")
	assert.Same(t, b, newNodeHandles(s, p).primary(150), "once the pool has it")
}

// TestPoolMirrorFollowsTheMap checks that a node state's mirror of its
// clients (nodeState.conn) follows the pool's map through dials, prune,
// drop and close, and that getFor takes the client from it.
func TestPoolMirrorFollowsTheMap(t *testing.T) {
	p, addrs := newOKPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first, err := p.get(ctx, addrs[0], false)
	require.NoError(t, err)
	ns0 := p.lookup(addrs[0])
	require.NotNil(t, ns0)
	assert.Same(t, first, ns0.conn[0].Load(), "mirrored when published")
	assert.Nil(t, ns0.conn[1].Load())
	got, err := p.getFor(ctx, ns0, addrs[0], false)
	require.NoError(t, err)
	assert.Same(t, first, got)

	ro, err := p.getFor(ctx, p.node(addrs[1]), addrs[1], true)
	require.NoError(t, err)
	ns1 := p.lookup(addrs[1])
	assert.Same(t, ro, ns1.conn[1].Load())
	assert.Nil(t, ns1.conn[0].Load())

	// prune: the clients of addresses that left leave the mirror too.
	p.prune(func(a string) bool { return a == addrs[0] })
	assert.Nil(t, ns1.conn[1].Load())
	assert.Same(t, first, ns0.conn[0].Load(), "kept")

	// drop: the next getFor dials again and mirrors the new client.
	p.drop(first)
	assert.Nil(t, ns0.conn[0].Load())
	second, err := p.getFor(ctx, ns0, addrs[0], false)
	require.NoError(t, err)
	assert.NotSame(t, first, second)
	assert.Same(t, second, ns0.conn[0].Load())

	// A state the pool replaced (pruned, then created again) keeps no
	// client of its own: getFor asks the map.
	p.prune(func(string) bool { return false })
	assert.Nil(t, ns0.conn[0].Load())
	third, err := p.get(ctx, addrs[0], false)
	require.NoError(t, err)
	assert.NotSame(t, ns0, p.lookup(addrs[0]), "a new state")
	assert.Nil(t, ns0.conn[0].Load(), "the old state stays empty")
	viaOld, err := p.getFor(ctx, ns0, addrs[0], false)
	require.NoError(t, err)
	assert.Same(t, third, viaOld, "the map's client")

	// close: every mirror emptied.
	ns := p.lookup(addrs[0])
	assert.Same(t, third, ns.conn[0].Load())
	p.close()
	assert.Nil(t, ns.conn[0].Load())
	assert.True(t, third.closing.Load())
	_, err = p.getFor(ctx, ns, addrs[0], false)
	assert.ErrorIs(t, err, ErrClosed)
}
