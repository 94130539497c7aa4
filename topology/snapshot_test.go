package topology

import (
	"strings"
	"testing"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSnapshotLookup(t *testing.T) {
	in := threeShards(t, true)
	s, err := NewSnapshot(in, SnapshotOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.Version())
	assert.True(t, s.Covered())
	for _, tc := range []struct {
		slot slots.Slot
		id   string
	}{{0, "A"}, {5460, "A"}, {5461, "B"}, {10922, "B"}, {10923, "C"}, {16383, "C"}} {
		sh, ok := s.Lookup(tc.slot)
		require.True(t, ok)
		assert.Equal(t, tc.id, sh.Primary.ID, "slot %d", tc.slot)
		assert.Equal(t, strings.ToLower(tc.id)+"1", sh.Replicas[0].ID)
	}
	_, ok := s.Lookup(slots.Count)
	assert.False(t, ok)
	assert.Len(t, s.Nodes(), 6)
	assert.Len(t, s.Shards(), 3)
	n, ok := s.NodeByAddr("10.0.0.1:7101")
	require.True(t, ok)
	assert.Equal(t, "b1", n.ID)
	assert.Equal(t, RoleReplica, n.Role)
	assert.Equal(t, "B", n.PrimaryID)
	sh, ok := s.ShardOf(n)
	require.True(t, ok)
	assert.Equal(t, "B", sh.Primary.ID)
	n, ok = s.NodeByID("C")
	require.True(t, ok)
	assert.Equal(t, RolePrimary, n.Role)
	_, ok = s.NodeByID("")
	assert.False(t, ok)
	assert.Equal(t, SlotEntry{Covered: true, Epoch: 3, EpochKnown: true}, s.Entry(16000))

	// Nodes were copied: changing the input changes nothing.
	in[0].Primary.ID = "changed"
	in[0].Ranges[0].End = 1
	assert.Equal(t, "A", ownerOf(s, 100))
}

func TestNewSnapshotGapsAndOrder(t *testing.T) {
	s, err := NewSnapshot([]Shard{
		tshard(t, tnode("Z", 7009), ""), // slotless primary comes last
		tshard(t, tnode("B", 7001), "100-199,300"),
		tshard(t, tnode("A", 7000), "0-99"),
	}, SnapshotOptions{Version: 7, MapAddr: func(a string) string { return "mapped-" + a }})
	require.NoError(t, err)
	assert.Equal(t, uint64(7), s.Version())
	assert.Equal(t, []string{"0-99:A", "100-199:B", "300:B"}, owners(s))
	assert.Equal(t, "Z", s.Shards()[2].Primary.ID)
	u := s.Uncovered()
	assert.Equal(t, slots.Count-201, u.Count())
	assert.True(t, u.Has(200))
	assert.False(t, s.Covered())
	_, ok := s.Lookup(200)
	assert.False(t, ok)
	n, ok := s.NodeByAddr("mapped-10.0.0.1:7001")
	require.True(t, ok)
	assert.Equal(t, "B", n.ID)
	n2, ok := s.NodeByAddr("10.0.0.1:7001")
	require.True(t, ok, "announced address finds the node too")
	assert.Equal(t, n, n2)
	assert.Equal(t, "mapped-x:1", s.MapAddr("x:1"))
	assert.False(t, s.Entry(0).EpochKnown)
}

func TestNewSnapshotErrors(t *testing.T) {
	cases := map[string][]Shard{
		"overlap":      {tshard(t, tnode("A", 1), "0-10"), tshard(t, tnode("B", 2), "10-20")},
		"no primary":   {{Ranges: []slots.Range{{Start: 0, End: 1}}}},
		"bad range":    {{Primary: tnode("A", 1), Ranges: []slots.Range{{Start: 5, End: 1}}}},
		"out of range": {{Primary: tnode("A", 1), Ranges: []slots.Range{{Start: 5, End: 20000}}}},
		"twice":        {tshard(t, tnode("A", 1), "0"), tshard(t, tnode("B", 2), "1", tnode("A", 1))},
		"nil replica":  {{Primary: tnode("A", 1), Replicas: []*Node{nil}}},
		"no identity":  {{Primary: &Node{}}},
	}
	for name, shards := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewSnapshot(shards, SnapshotOptions{})
			assert.ErrorIs(t, err, ErrInvalidShards)
		})
	}
}

func TestRoleHealthStrings(t *testing.T) {
	assert.Equal(t, "primary", RolePrimary.String())
	assert.Equal(t, "replica", RoleReplica.String())
	assert.Equal(t, "unknown", RoleUnknown.String())
	assert.Equal(t, "failed", HealthFailed.String())
	assert.Equal(t, "loading", HealthLoading.String())
	assert.Equal(t, "online", HealthOnline.String())
	assert.Equal(t, "unknown", HealthUnknown.String())
	assert.Equal(t, "CLUSTER NODES", SourceNodes.String())
	assert.Equal(t, "to-unknown", MovedToUnknown.String())
	n := tnode("0123456789abcdef", 7000)
	n.Role = RolePrimary
	assert.Equal(t, "01234567@10.0.0.1:7000 (primary, online)", n.String())
}

func TestNodeByAddrPrefersLiveNode(t *testing.T) {
	dead := tnode("old", 7000)
	dead.Health = HealthFailed
	for _, order := range [][]Shard{
		{tshard(t, dead, ""), tshard(t, tnode("new", 7000), "0-16383")},
		{tshard(t, tnode("new", 7000), "0-16383"), tshard(t, dead, "")},
	} {
		s, err := NewSnapshot(order, SnapshotOptions{})
		require.NoError(t, err)
		n, ok := s.NodeByAddr("10.0.0.1:7000")
		require.True(t, ok)
		assert.Equal(t, "new", n.ID)
	}
}

func TestShardSlotsAndViewHelpers(t *testing.T) {
	sh := tshard(t, tnode("A", 1), "0-9,20")
	set := sh.Slots()
	assert.Equal(t, 11, set.Count())
	assert.Equal(t, 11, sh.SlotCount())
	v := tview("x:1", sh, tshard(t, tnode("B", 2, 5), "30-39"))
	assert.False(t, v.HasEpochs(), "A has no epoch")
	cov := v.Covered()
	assert.Equal(t, 21, cov.Count())
	assert.Equal(t, 0, v.AttachEpochs(nil))
	nodes := View{Facts: []NodeFacts{{Node: Node{ID: "A", ConfigEpoch: 4, EpochKnown: true}, Fail: true}}, MyID: "A"}
	assert.Equal(t, 1, v.AttachEpochs(&nodes))
	assert.True(t, v.HasEpochs())
	assert.Equal(t, HealthFailed, v.Shards[0].Primary.Health)
	assert.Equal(t, "A", v.MyID)
	assert.Equal(t, SlotEntry{}, (&Snapshot{}).Entry(slots.Count))
}
