package router_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// startReplicaCluster starts a private 3-primary cluster with one replica
// per primary, stopped at the end of the test.
func startReplicaCluster(t *testing.T) *clustertest.Cluster {
	t.Helper()
	clustertest.Need(t, cluster) // skip like the others without redis-server
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })
	return cl
}

// setReplicated writes key on primary and waits until a replica has it.
func setReplicated(ctx context.Context, t *testing.T, cl *clustertest.Cluster, primary *clustertest.Node, key, value string) {
	t.Helper()
	_, err := cl.Do(ctx, primary, "SET", key, value)
	require.NoError(t, err)
	m, err := cl.Do(ctx, primary, "WAIT", "1", "5000")
	require.NoError(t, err)
	n, _ := m.AsInt64()
	require.Equal(t, int64(1), n, "replicated")
}

// waitReplicaOnline refreshes c's topology until the shard of slot has an
// online replica (a new replica is "loading" until its first sync).
func waitReplicaOnline(ctx context.Context, t *testing.T, c *router.Client, slot slots.Slot) {
	t.Helper()
	for range 100 {
		if sh, ok := c.Topology().Current().Lookup(slot); ok {
			for _, r := range sh.Replicas {
				if r.Health == topology.HealthOnline {
					return
				}
			}
		}
		require.NoError(t, c.Topology().Refresh(ctx))
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no online replica for slot %d", slot)
}

// TestReplicaReadsLive runs on a private cluster with replicas: reads
// under PreferReplica are served by replicas over READONLY connections,
// writes go to primaries, a dead replica makes reads fall back to the
// primary, and a dead primary makes the client follow the failover.
func TestReplicaReadsLive(t *testing.T) {
	cl := startReplicaCluster(t)
	ctx := liveCtx(t, 120*time.Second)

	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{
		Observer:   &ctr,
		ReadPolicy: router.PreferReplica,
		Breaker:    retry.BreakerOptions{Failures: 2, Cooldown: time.Minute},
		Topology:   topology.Options{MinInterval: 50 * time.Millisecond},
	})
	k := "replica:key"
	slot := uint16(slots.Of(k))
	primary, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	reps, err := cl.ReplicasOf(ctx, primary)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	replica := reps[0]

	t.Run("ReadsFromReplica", func(t *testing.T) {
		_, err := c.Do(ctx, "SET", k, "v0")
		require.NoError(t, err, "writes go to the primary")
		waitReplicaOnline(ctx, t, c, slots.Of(k))
		_, n, err := c.Route("GET", k)
		require.NoError(t, err)
		assert.Equal(t, replica.Addr, n.Addr())
		assert.Equal(t, topology.RoleReplica, n.Role())
		_, n, err = c.Route("SET", k, "x")
		require.NoError(t, err)
		assert.Equal(t, primary.Addr, n.Addr())

		setReplicated(ctx, t, cl, primary, k, "v1")
		before := commandCallsOn(ctx, t, cl, replica, "get")
		for range 20 {
			msg, err := c.Do(ctx, "GET", k)
			require.NoError(t, err)
			v, _ := msg.ToString()
			assert.Equal(t, "v1", v)
		}
		assert.Equal(t, before+20, commandCallsOn(ctx, t, cl, replica, "get"), "the replica served the reads (READONLY)")
		moved, _, _ := ctr.Total()
		assert.Zero(t, moved)
		res := c.DoMulti(ctx, router.C("GET", k), router.C("SET", k, "v2"), router.C("GET", k))
		require.NoError(t, res[0].Err)
		require.NoError(t, res[1].Err)
		require.NoError(t, res[2].Err)
	})

	t.Run("DeadReplicaFallsBackToPrimary", func(t *testing.T) {
		_, err := c.Do(ctx, "SET", k, "v3")
		require.NoError(t, err)
		_, n, err := c.Route("GET", k)
		require.NoError(t, err)
		require.Equal(t, replica.Addr, n.Addr())
		require.NoError(t, cl.Kill(replica))
		for i := range 10 {
			msg, err := c.Do(ctx, "GET", k)
			require.NoError(t, err, "read %d", i)
			v, _ := msg.ToString()
			assert.Equal(t, "v3", v)
		}
		assert.GreaterOrEqual(t, ctr.Retries()[retry.KindConn], int64(1))
		_, n, err = c.Route("GET", k)
		require.NoError(t, err)
		assert.Equal(t, primary.Addr, n.Addr(), "the replica's breaker is open: Route skips it")
		require.NoError(t, cl.Restart(ctx, replica))
	})

	t.Run("FailoverFollowed", func(t *testing.T) {
		c2 := newLiveClient(t, cl, router.Options{
			Limits:   retry.Limits{MaxAttempts: 40},
			Backoff:  retry.Backoff{Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond},
			Topology: topology.Options{MinInterval: 50 * time.Millisecond},
		})
		setReplicated(ctx, t, cl, primary, k, "v4")
		readsBefore := commandCallsOn(ctx, t, cl, replica, "get")
		require.NoError(t, cl.Kill(primary))
		// ReadPrimary means primary: a read of the dead primary's slot is
		// never served by its replica. (The cluster cannot promote the
		// replica within 200 ms: it first waits cluster-node-timeout.)
		rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := c2.Do(rctx, "GET", k)
		rcancel()
		require.Error(t, err, "no read from a replica under ReadPrimary")
		assert.Equal(t, readsBefore, commandCallsOn(ctx, t, cl, replica, "get"), "the replica served no read")
		np, err := cl.WaitFailover(ctx, primary)
		require.NoError(t, err)
		assert.Equal(t, replica, np)
		// The write reaches the new primary: at once when the topology
		// has caught up, else after calls that fail fast on the dead
		// node's open breaker (each triggers a refresh).
		for i := 0; ; i++ {
			_, err = c2.DoCmd(ctx, router.Idempotent("SET", k, "v5"))
			if err == nil {
				break
			}
			require.ErrorIs(t, err, retry.ErrOpen, "only fail-fast errors meanwhile")
			require.Less(t, i, 50, "the topology caught up: %v", err)
			time.Sleep(100 * time.Millisecond)
		}
		m, err := cl.Do(ctx, np, "GET", k)
		require.NoError(t, err)
		v, _ := m.ToString()
		assert.Equal(t, "v5", v)
	})
}

// commandCallsOn returns INFO commandstats calls of cmd on n.
func commandCallsOn(ctx context.Context, t *testing.T, cl *clustertest.Cluster, n *clustertest.Node, cmd string) int64 {
	t.Helper()
	m, err := cl.Do(ctx, n, "INFO", "commandstats")
	require.NoError(t, err)
	s, _ := m.ToString()
	var calls int64
	for _, line := range splitLines(s) {
		if _, err := fmt.Sscanf(line, "cmdstat_"+cmd+":calls=%d", &calls); err == nil {
			return calls
		}
	}
	return 0
}
