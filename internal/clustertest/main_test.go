package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cluster is the package's shared 3x1 cluster, started by TestMain.
var cluster *Cluster

func TestMain(m *testing.M) {
	Main(m, Options{Primaries: 3, Replicas: 1}, &cluster)
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestStartHealthy checks the shared cluster: 3 primaries with one replica
// each, every slot covered once, cluster_state ok everywhere.
func TestStartHealthy(t *testing.T) {
	c := Need(t, cluster)
	ctx := testCtx(t, 30*time.Second)

	require.Len(t, c.Nodes(), 6)
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 3)
	rs, err := c.Replicas(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 3)
	for _, p := range ps {
		of, err := c.ReplicasOf(ctx, p)
		require.NoError(t, err)
		assert.Len(t, of, 1, "replicas of %s", p)
	}

	for _, n := range c.Nodes() {
		info, err := c.Do(ctx, n, "CLUSTER", "INFO")
		require.NoError(t, err)
		s, err := info.ToString()
		require.NoError(t, err)
		assert.Contains(t, s, "cluster_state:ok", n.String())
		assert.Contains(t, s, "cluster_slots_assigned:16384", n.String())
		assert.Contains(t, s, "cluster_known_nodes:6", n.String())
	}

	// CLUSTER SHARDS: every slot exactly once, each shard one primary and
	// one replica, all on loopback ports of our nodes.
	msg, err := c.Do(ctx, ps[0], "CLUSTER", "SHARDS")
	require.NoError(t, err)
	shards, err := msg.ToArray()
	require.NoError(t, err)
	require.Len(t, shards, 3)
	var covered [NumSlots]int
	for _, sh := range shards {
		m, err := sh.AsMap()
		require.NoError(t, err)
		slotsMsg := m["slots"]
		slots, err := slotsMsg.AsIntSlice()
		require.NoError(t, err)
		require.Equal(t, 0, len(slots)%2)
		for i := 0; i < len(slots); i += 2 {
			for s := slots[i]; s <= slots[i+1]; s++ {
				covered[s]++
			}
		}
		nodesMsg := m["nodes"]
		nodes, err := nodesMsg.ToArray()
		require.NoError(t, err)
		require.Len(t, nodes, 2)
		roles := map[string]int{}
		for _, nd := range nodes {
			nm, err := nd.AsMap()
			require.NoError(t, err)
			idMsg, roleMsg, ipMsg := nm["id"], nm["role"], nm["ip"]
			id, err := idMsg.ToString()
			require.NoError(t, err)
			require.NotNil(t, c.NodeByID(id), "unknown node %s", id)
			r, err := roleMsg.ToString()
			require.NoError(t, err)
			roles[r]++
			ip, err := ipMsg.ToString()
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1", ip)
		}
		assert.Equal(t, map[string]int{"master": 1, "replica": 1}, roles)
	}
	for s, n := range covered {
		require.Equal(t, 1, n, "slot %d", s)
	}

	// Primaries are sorted by first slot; slot 0 belongs to the first one.
	owner, err := c.OwnerOf(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, ps[0], owner)
	require.NoError(t, c.WaitHealthy(ctx))
}
