package topology

import (
	"testing"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below change whatever an exported accessor handed out (node
// fields, replica and range slices, shard fields) and check that the
// snapshot, and the next call, are as before: a snapshot is shared by
// every goroutine of a client, so what a caller gets must be its own.

// immutPair returns two equal snapshots of threeShards: s is handed to the
// code under test, twin is never touched and says what s must still be.
func immutPair(t *testing.T) (s, twin *Snapshot) {
	t.Helper()
	s, err := NewSnapshot(threeShards(t, true), SnapshotOptions{Version: 5})
	require.NoError(t, err)
	twin, err = NewSnapshot(threeShards(t, true), SnapshotOptions{Version: 5})
	require.NoError(t, err)
	requireSameSnapshot(t, twin, s)
	return s, twin
}

// requireSameSnapshot checks, through every accessor, that got holds what
// want holds.
func requireSameSnapshot(t *testing.T, want, got *Snapshot) {
	t.Helper()
	require.Equal(t, want.Shards(), got.Shards(), "Shards")
	require.Equal(t, want.Nodes(), got.Nodes(), "Nodes")
	require.Equal(t, owners(want), owners(got), "slot owners")
	require.True(t, Diff(want, got).Empty(), "Diff")
	for _, slot := range []slots.Slot{0, 5461, 16383} {
		wsh, _ := want.Lookup(slot)
		gsh, ok := got.Lookup(slot)
		require.True(t, ok)
		require.Equal(t, wsh, gsh, "Lookup(%d)", slot)
		wp, _ := want.Primary(slot)
		gp, _ := got.Primary(slot)
		require.Equal(t, wp, gp, "Primary(%d)", slot)
	}
	for _, n := range want.Nodes() {
		g, ok := got.NodeByID(n.ID)
		require.True(t, ok, n.ID)
		require.Equal(t, n, g, "NodeByID(%s)", n.ID)
		g, ok = got.NodeByAddr(n.Addr)
		require.True(t, ok, n.Addr)
		require.Equal(t, n, g, "NodeByAddr(%s)", n.Addr)
		wn, _ := want.NodeByID(n.ID)
		wsh, _ := want.ShardOf(wn)
		gsh, ok := got.ShardOf(g)
		require.True(t, ok, n.ID)
		require.Equal(t, wsh, gsh, "ShardOf(%s)", n.ID)
	}
}

func TestLookupResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	sh, ok := s.Lookup(0)
	require.True(t, ok)
	sh.ID = "changed"
	sh.Primary.ID = "X"
	sh.Primary.Addr = "127.0.0.1:1"
	sh.Primary.Health = HealthFailed
	sh.Replicas[0].Addr = "127.0.0.1:2"
	sh.Replicas[0].Role = RolePrimary
	sh.Replicas[0] = nil
	sh.Ranges[0].End = 1
	requireSameSnapshot(t, twin, s)
}

func TestShardsResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	shards := s.Shards()
	require.Len(t, shards, 3)
	shards[0].Primary.Addr = "127.0.0.1:1"
	shards[0].Primary.ReplicationOffset = 42
	shards[1].Replicas[0].Health = HealthFailed
	shards[1].Replicas = append(shards[1].Replicas[:0], shards[2].Primary)
	shards[2].Ranges[0] = slots.Range{Start: 0, End: 0}
	shards[2] = Shard{}
	requireSameSnapshot(t, twin, s)
}

func TestNodesResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	nodes := s.Nodes()
	require.Len(t, nodes, 6)
	nodes[0].Addr = "127.0.0.1:1"
	nodes[0].Role = RoleReplica
	nodes[1].Health = HealthFailed
	nodes[1].PrimaryID = "nobody"
	nodes[2] = nodes[3]
	requireSameSnapshot(t, twin, s)
}

func TestNodeResultsAreTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	n, ok := s.NodeByAddr("10.0.0.1:7001")
	require.True(t, ok)
	n.Addr = "127.0.0.1:1"
	n.Health = HealthFailed
	n, ok = s.NodeByID("C")
	require.True(t, ok)
	n.Role = RoleReplica
	n.ID = "D"
	p, ok := s.Primary(0)
	require.True(t, ok)
	p.Addr = "127.0.0.1:2"
	p.ConfigEpoch = 99
	requireSameSnapshot(t, twin, s)
}

func TestShardOfResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	n, ok := s.NodeByID("b1")
	require.True(t, ok)
	sh, ok := s.ShardOf(n)
	require.True(t, ok)
	assert.Equal(t, "B", sh.Primary.ID)
	sh.Primary.Addr = "127.0.0.1:1"
	sh.Replicas[0].Health = HealthFailed
	sh.Ranges[0].Start = 0
	requireSameSnapshot(t, twin, s)
}

func TestDiffResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	moved, _ := s.ApplyMoved(100, "10.0.0.1:7001") // A's slot 100 -> B
	movedTwin, _ := twin.ApplyMoved(100, "10.0.0.1:7001")
	requireSameSnapshot(t, movedTwin, moved)

	added := Diff(nil, s)
	require.Len(t, added.Added, 6)
	for _, n := range added.Added {
		n.Addr = "127.0.0.1:1"
		n.Health = HealthFailed
	}
	c := Diff(s, moved)
	require.Len(t, c.Moved, 1)
	c.Moved[0].From.Addr = "127.0.0.1:2"
	c.Moved[0].To.Role = RoleReplica
	c.Moved[0].To.ID = "Z"
	requireSameSnapshot(t, twin, s)
	requireSameSnapshot(t, movedTwin, moved)
}

func TestApplyMovedResultIsTheCallersOwn(t *testing.T) {
	s, twin := immutPair(t)
	for _, tc := range []struct {
		slot slots.Slot
		addr string
	}{
		{100, "10.0.0.1:7001"},  // to a primary
		{6000, "10.0.0.1:7101"}, // a failover
		{100, "10.0.0.1:7000"},  // the same owner: s itself
	} {
		ns, res := s.ApplyMoved(tc.slot, tc.addr)
		nsTwin, _ := twin.ApplyMoved(tc.slot, tc.addr)
		require.NotNil(t, res.From)
		require.NotNil(t, res.To)
		res.From.Addr = "127.0.0.1:1"
		res.From.Health = HealthFailed
		res.To.Addr = "127.0.0.1:2"
		res.To.Role = RoleReplica
		requireSameSnapshot(t, nsTwin, ns)
		requireSameSnapshot(t, twin, s)
	}
}

// TestZeroSnapshotServesNothing: the zero Snapshot (not built by
// NewSnapshot) answers that no slot is served instead of panicking on
// its empty shard list (Lookup indexed shard 0 of none).
func TestZeroSnapshotServesNothing(t *testing.T) {
	var s Snapshot
	for _, slot := range []slots.Slot{0, 5, slots.Count - 1} {
		assert.NotPanics(t, func() {
			_, ok := s.Lookup(slot)
			assert.False(t, ok)
			_, ok = s.Primary(slot)
			assert.False(t, ok)
		})
	}
}
