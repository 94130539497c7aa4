package topology

import (
	"testing"

	"github.com/slotrouter/slotrouter/slots"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApplyMovedToPrimary(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, true), SnapshotOptions{})
	require.NoError(t, err)
	ns, res := s.ApplyMoved(100, "10.0.0.1:7001") // A's slot -> B
	require.NotSame(t, s, ns)
	assert.Equal(t, MovedToPrimary, res.Kind)
	assert.False(t, res.NeedRefresh)
	assert.Equal(t, "A", res.From.ID)
	assert.Equal(t, "B", res.To.ID)
	assert.Equal(t, s.Version()+1, ns.Version())
	assert.Equal(t, "B", ownerOf(ns, 100))
	assert.Equal(t, "A", ownerOf(ns, 99))
	assert.Equal(t, "A", ownerOf(ns, 101))
	assert.Equal(t, "A", ownerOf(s, 100), "the old snapshot is unchanged")
	e := ns.Entry(100)
	assert.True(t, e.Fixed)
	assert.Equal(t, uint64(2), e.Epoch, "takes the new owner's epoch")
	assert.False(t, ns.Entry(99).Fixed)
	assert.Equal(t, []string{"0-99:A", "101-5460:A", "100:B", "5461-10922:B", "10923-16383:C"}, owners(ns))
	// The same redirect again: same owner, same snapshot.
	ns2, res := ns.ApplyMoved(100, "10.0.0.1:7001")
	assert.Same(t, ns, ns2)
	assert.Equal(t, MovedSameOwner, res.Kind)
}

func TestApplyMovedFailover(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	ns, res := s.ApplyMoved(6000, "10.0.0.1:7101") // b1, replica of B
	assert.Equal(t, MovedFailover, res.Kind)
	assert.False(t, res.NeedRefresh)
	assert.Equal(t, "B", res.From.ID)
	assert.Equal(t, "b1", res.To.ID)
	for _, slot := range []uint16{5461, 6000, 10922} {
		assert.Equal(t, "b1", ownerOf(ns, slotOf(slot)))
		assert.True(t, ns.Entry(slotOf(slot)).Fixed, "the whole shard moved: slot %d fixed", slot)
	}
	b, ok := ns.NodeByID("B")
	require.True(t, ok)
	assert.Equal(t, RoleReplica, b.Role)
	assert.Equal(t, "b1", b.PrimaryID)
	sh, _ := ns.Lookup(6000)
	assert.Equal(t, []string{"B"}, ids(sh.Replicas))
	assert.Equal(t, "A", ownerOf(ns, 0))
	assert.False(t, ns.Entry(0).Fixed)
}

func TestApplyMovedUnknown(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, false), SnapshotOptions{MapAddr: func(a string) string { return "dial/" + a }})
	require.NoError(t, err)
	ns, res := s.ApplyMoved(16000, "[2001:db8::9]:7777")
	assert.Equal(t, MovedToUnknown, res.Kind)
	assert.True(t, res.NeedRefresh)
	assert.Equal(t, "C", res.From.ID)
	n, ok := ns.NodeByAddr("[2001:db8::9]:7777")
	require.True(t, ok)
	assert.Equal(t, *res.To, n)
	assert.Equal(t, "dial/[2001:db8::9]:7777", n.Addr, "the mapping hook applies to new nodes")
	assert.Equal(t, 7777, n.Port)
	assert.Equal(t, "2001:db8::9", n.IP)
	p, ok := ns.Primary(16000)
	require.True(t, ok)
	assert.Equal(t, n, p)
	assert.Len(t, ns.Shards(), 4)
	assert.Len(t, ns.Nodes(), 7)

	// A hostname target.
	ns2, res := ns.ApplyMoved(0, "node-9.example:7000")
	assert.Equal(t, MovedToUnknown, res.Kind)
	assert.Equal(t, "node-9.example", res.To.Hostname)
	assert.Equal(t, "", ownerOf(ns2, 0), "a new node has no id yet")
	assert.Equal(t, "node-9.example:7000", ns2.Shards()[0].Primary.Announced)
}

func TestApplyMovedToReplicaOfAnotherShard(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	ns, res := s.ApplyMoved(0, "10.0.0.1:7102") // c1, replica of C, gets A's slot 0
	assert.Equal(t, MovedToReplica, res.Kind)
	assert.True(t, res.NeedRefresh)
	assert.Equal(t, "c1", ownerOf(ns, 0))
	sh, _ := ns.Lookup(16383)
	assert.Empty(t, sh.Replicas)
	assert.Equal(t, "C", sh.Primary.ID)
}

func TestApplyMovedInvalid(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	for _, tc := range []struct {
		slot uint16
		addr string
	}{{16384, "10.0.0.1:7001"}, {1, "nope"}, {1, ":7000"}, {1, "h:0"}, {1, "h:99999"}, {1, "h:x"}} {
		ns, res := s.ApplyMoved(slotOf(tc.slot), tc.addr)
		assert.Same(t, s, ns)
		assert.Equal(t, MovedInvalid, res.Kind)
		assert.ErrorIs(t, res.Err, ErrMalformedReply)
	}
}

func TestApplyMovedUncoveredSlot(t *testing.T) {
	s, err := NewSnapshot([]Shard{tshard(t, tnode("A", 7000), "0-99")}, SnapshotOptions{})
	require.NoError(t, err)
	ns, res := s.ApplyMoved(500, "10.0.0.1:7000")
	assert.Equal(t, MovedToPrimary, res.Kind)
	assert.Nil(t, res.From)
	assert.Equal(t, []string{"0-99:A", "500:A"}, owners(ns))
}

func TestApplyMovedOnEmptySnapshot(t *testing.T) {
	s, err := NewSnapshot(nil, SnapshotOptions{})
	require.NoError(t, err)
	assert.Empty(t, s.Nodes())
	u := s.Uncovered()
	assert.Equal(t, 16384, u.Count())
	ns, res := s.ApplyMoved(42, "127.0.0.1:7000")
	assert.Equal(t, MovedToUnknown, res.Kind)
	assert.Nil(t, res.From)
	assert.True(t, res.NeedRefresh)
	p, ok := ns.Primary(42)
	require.True(t, ok)
	assert.Equal(t, "127.0.0.1:7000", p.Addr)
	assert.Equal(t, uint64(2), ns.Version())
	ch := Diff(s, ns)
	require.Len(t, ch.Moved, 1)
	assert.Equal(t, "42", ch.Moved[0].Range.String())
	// A refresh that knows the node by id replaces the id-less placeholder.
	v := tview("127.0.0.1:7000", Shard{Primary: &Node{ID: "X", Endpoint: "127.0.0.1", Port: 7000, Announced: "127.0.0.1:7000", Addr: "127.0.0.1:7000"},
		Ranges: []slots.Range{{Start: 0, End: 16383}}})
	rs, err := Reconcile(ns, []View{v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "X", ownerOf(rs, 42))
	assert.Len(t, rs.Nodes(), 1, "the placeholder is gone")
}
