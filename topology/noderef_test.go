package topology

import (
	"testing"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeRefZero(t *testing.T) {
	var r NodeRef
	assert.True(t, r.IsZero())
	assert.Equal(t, (*Node)(nil).Ref(), r, "a nil node's reference is the zero one")
	assert.Equal(t, Node{}, r.Node())
	assert.Empty(t, r.ID())
	assert.Empty(t, r.Addr())
	assert.Empty(t, r.Announced())
	assert.Empty(t, r.Endpoint())
	assert.Empty(t, r.IP())
	assert.Empty(t, r.Hostname())
	assert.Zero(t, r.Port())
	assert.Zero(t, r.TLSPort())
	assert.Equal(t, RoleUnknown, r.Role())
	assert.Equal(t, HealthUnknown, r.Health())
	assert.Empty(t, r.PrimaryID())
	assert.Zero(t, r.ReplicationOffset())
	e, known := r.ConfigEpoch()
	assert.Zero(t, e)
	assert.False(t, known)
	assert.Empty(t, r.Key())
	assert.Equal(t, "<nil>", r.String())
}

func TestNodeRefReadsEveryField(t *testing.T) {
	n := &Node{
		ID: "0123456789012345678901234567890123456789", Endpoint: "db-1.local", IP: "127.0.0.1",
		Hostname: "db-1.local", Port: 7000, TLSPort: 7100, Role: RoleReplica, Health: HealthLoading,
		PrimaryID: "p", ReplicationOffset: 42, ConfigEpoch: 7, EpochKnown: true,
		Announced: "db-1.local:7000", Addr: "127.0.0.1:7000",
	}
	r := n.Ref()
	assert.False(t, r.IsZero())
	assert.Equal(t, *n, r.Node())
	e, known := r.ConfigEpoch()
	got := Node{
		ID: r.ID(), Endpoint: r.Endpoint(), IP: r.IP(), Hostname: r.Hostname(), Port: r.Port(),
		TLSPort: r.TLSPort(), Role: r.Role(), Health: r.Health(), PrimaryID: r.PrimaryID(),
		ReplicationOffset: r.ReplicationOffset(), ConfigEpoch: e, EpochKnown: known,
		Announced: r.Announced(), Addr: r.Addr(),
	}
	assert.Equal(t, *n, got, "every accessor returns its field")
	assert.Equal(t, n.Key(), r.Key())
	assert.Equal(t, n.String(), r.String())
	n.ID = ""
	assert.Equal(t, "db-1.local:7000", r.Key(), "without an ID, the announced address")
}

// TestNodeRefCopyIsTheCallersOwn: the copy Node gives changes nothing in
// the snapshot the reference came from.
func TestNodeRefCopyIsTheCallersOwn(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, true), SnapshotOptions{})
	require.NoError(t, err)
	own, ok := s.primary(0)
	require.True(t, ok)
	r := own.Ref()
	before := *own
	c := r.Node()
	c.Addr, c.ID, c.Role, c.Health = "127.0.0.1:1", "changed", RoleReplica, HealthFailed
	assert.Equal(t, before, *own)
	assert.Equal(t, before.Addr, r.Addr())
	p, ok := s.Primary(0)
	require.True(t, ok)
	assert.Equal(t, before, p)
}

func TestPrimaryRef(t *testing.T) {
	s, err := NewSnapshot([]Shard{tshard(t, tnode("A", 7000), "0-100")}, SnapshotOptions{})
	require.NoError(t, err)
	p, ok := s.Primary(7)
	require.True(t, ok)
	r := s.PrimaryRef(7)
	assert.Equal(t, p, r.Node())
	assert.True(t, s.PrimaryRef(101).IsZero(), "uncovered")
	assert.True(t, s.PrimaryRef(slots.Count).IsZero(), "out of range")
	assert.True(t, (&Snapshot{}).PrimaryRef(0).IsZero(), "the zero Snapshot")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.PrimaryRef(7) }))
}
