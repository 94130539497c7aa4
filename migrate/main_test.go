package migrate

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

// TestMain checks for leaked goroutines. Tests that need a cluster start
// their own (they change its layout); the helper process of the kill test
// (helperEnv set) runs without one.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// startCluster starts a private cluster, stopped at the end of the test.
func startCluster(t *testing.T, opts clustertest.Options) *clustertest.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer cancel()
	c, err := clustertest.Start(ctx, opts)
	if errors.Is(err, clustertest.ErrServerNotFound) {
		if os.Getenv(clustertest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// layoutOf reads the primaries and their slots.
func layoutOf(t testing.TB, ctx context.Context, c *clustertest.Cluster) *plan.Layout {
	t.Helper()
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	l := &plan.Layout{Version: 1}
	for _, p := range ps {
		ss, err := c.SlotsOf(ctx, p)
		require.NoError(t, err)
		var set slots.Set
		for _, s := range ss {
			set.Add(slots.Slot(s))
		}
		l.Nodes = append(l.Nodes, plan.Node{ID: p.ID, Addr: p.Addr, Slots: plan.Ranges(set.Ranges())})
	}
	return l
}

// checkReport runs plan.Check over every running node's CLUSTER NODES.
func checkReport(t *testing.T, ctx context.Context, c *clustertest.Cluster) *plan.CheckReport {
	t.Helper()
	var in plan.CheckInput
	for _, n := range c.Nodes() {
		m, err := c.Do(ctx, n, "CLUSTER", "NODES")
		if err != nil {
			continue
		}
		text, err := m.ToString()
		require.NoError(t, err)
		v, err := topology.ParseNodes(text, n.Addr)
		require.NoError(t, err)
		for i := range v.Facts {
			f := &v.Facts[i]
			r := plan.NodeReport{Reporter: v.MyID, ID: f.ID, Addr: f.Announced, Host: f.IP, Flags: f.Flags, Slots: plan.Ranges(f.Ranges)}
			if f.Replica {
				r.Primary = f.PrimaryID
			}
			for _, m := range f.Migrating {
				r.Migrating = append(r.Migrating, plan.SlotPeer{Slot: m.Slot, Node: m.NodeID})
			}
			for _, m := range f.Importing {
				r.Importing = append(r.Importing, plan.SlotPeer{Slot: m.Slot, Node: m.NodeID})
			}
			in.Reports = append(in.Reports, r)
		}
	}
	rep, err := plan.Check(in)
	require.NoError(t, err)
	return rep
}

// requireNoOpenSlot fails when Check finds an open slot or an error.
func requireNoOpenSlot(t *testing.T, ctx context.Context, c *clustertest.Cluster) {
	t.Helper()
	// Views converge by gossip after the last SETSLOT: poll for a while.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep := checkReport(t, ctx, c)
		var bad []string
		for _, f := range rep.Findings {
			if f.Code == plan.FindingOpenSlot || f.Severity == plan.SeverityError {
				bad = append(bad, f.Message)
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("check finds: %s", strings.Join(bad, "; "))
		}
		require.NoError(t, waitCtx(ctx, 100*time.Millisecond))
	}
}

// ownersOf returns the node id owning each slot, by CLUSTER NODES "myself"
// claims, for assertions.
func requireOwners(t *testing.T, ctx context.Context, c *clustertest.Cluster, want plan.Assignment) {
	t.Helper()
	l := layoutOf(t, ctx, c)
	got := plan.Assignment{}
	for _, n := range l.Nodes {
		got[n.ID] = n.Slots
	}
	for id, rs := range want {
		if len(rs) == 0 {
			require.Empty(t, got[id], "node %s", id)
			continue
		}
		require.Equal(t, slices.Clone(rs), got[id], "node %s", id)
	}
}

// helperEnv carries the kill point to the helper process of the kill test.
const helperEnv = "SLOTROUTER_MIGRATE_HELPER"

// rueidisClient is a single-node client of addr.
func rueidisClient(addr string) (rueidis.Client, error) {
	return rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
}
