package topoaccess_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/topoaccess"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTopologyRegisters checks that importing topology registers its
// accessors, and that they return the snapshot's own shards (the same
// pointers on every call), where the exported accessors return copies.
func TestTopologyRegisters(t *testing.T) {
	f := topoaccess.Get[topology.Snapshot, topology.Shard]()
	s, err := topology.NewSnapshot([]topology.Shard{
		{Primary: &topology.Node{ID: "A", Addr: "127.0.0.1:7000"}, Ranges: []slots.Range{{Start: 0, End: 99}}},
		{Primary: &topology.Node{ID: "B", Addr: "127.0.0.1:7001"}, Ranges: []slots.Range{{Start: 100, End: slots.Count - 1}}},
	}, topology.SnapshotOptions{})
	require.NoError(t, err)

	own, ok := f.Lookup(s, 150)
	require.True(t, ok)
	again, _ := f.Lookup(s, 200)
	assert.Same(t, own, again, "the snapshot's own shard")
	assert.Same(t, own, &f.Shards(s)[1])
	cp, ok := s.Lookup(150)
	require.True(t, ok)
	assert.Equal(t, *own, cp)
	assert.NotSame(t, own.Primary, cp.Primary, "Lookup copies")

	_, ok = f.Lookup(s, slots.Count)
	assert.False(t, ok)
	assert.Len(t, f.Shards(s), 2)
}

func TestMisuseIsAProgrammingError(t *testing.T) {
	assert.Panics(t, func() { topoaccess.Get[int, string]() }, "no Funcs for these types")
	assert.Panics(t, func() {
		topoaccess.Set(topoaccess.Funcs[int, string]{
			Lookup: func(*int, slots.Slot) (*string, bool) { return nil, false },
			Shards: func(*int) []string { return nil },
		})
	}, "registered once, by topology")
	// The failed Set changed nothing.
	assert.NotPanics(t, func() { topoaccess.Get[topology.Snapshot, topology.Shard]() })
}
