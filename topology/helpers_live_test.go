package topology

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/stretchr/testify/require"
)

// slotMap is a topology reduced to what a comparison needs: the primary
// address of every slot, and the replica addresses of every primary that
// serves slots.
type slotMap struct {
	owner    [16384]string
	replicas map[string][]string
}

// diffSlotMaps describes the differences (empty when equal), at most a few
// lines.
func diffSlotMaps(want, got *slotMap) string {
	var b strings.Builder
	bad := 0
	for s := range want.owner {
		if want.owner[s] != got.owner[s] {
			if bad < 5 {
				fmt.Fprintf(&b, "slot %d: want %q, got %q\n", s, want.owner[s], got.owner[s])
			}
			bad++
		}
	}
	if bad > 5 {
		fmt.Fprintf(&b, "... %d slots differ\n", bad)
	}
	for p, rs := range want.replicas {
		if strings.Join(rs, ",") != strings.Join(got.replicas[p], ",") {
			fmt.Fprintf(&b, "replicas of %s: want %v, got %v\n", p, rs, got.replicas[p])
		}
	}
	for p, rs := range got.replicas {
		if _, ok := want.replicas[p]; !ok {
			fmt.Fprintf(&b, "unexpected primary %s with replicas %v\n", p, rs)
		}
	}
	return b.String()
}

// snapshotSlotMap reduces a snapshot. Only replicas not marked failed are
// listed (the servers' own CLUSTER SHARDS are compared the same way).
func snapshotSlotMap(s *Snapshot) *slotMap {
	m := &slotMap{replicas: map[string][]string{}}
	for i := range s.Shards() {
		sh := &s.Shards()[i]
		if len(sh.Ranges) == 0 {
			continue
		}
		for _, r := range sh.Ranges {
			for x := int(r.Start); x <= int(r.End); x++ {
				m.owner[x] = sh.Primary.Addr
			}
		}
		rs := []string{}
		for _, r := range sh.Replicas {
			if r.Health != HealthFailed {
				rs = append(rs, r.Addr)
			}
		}
		sort.Strings(rs)
		m.replicas[sh.Primary.Addr] = rs
	}
	return m
}

// serverSlotMap asks one node for CLUSTER SHARDS and reduces it with a
// parser of its own (independent of ParseShards).
func serverSlotMap(ctx context.Context, t testing.TB, c *clustertest.Cluster, n *clustertest.Node) *slotMap {
	t.Helper()
	msg, err := c.Do(ctx, n, "CLUSTER", "SHARDS")
	require.NoError(t, err, "CLUSTER SHARDS on %s", n)
	shards, err := msg.ToArray()
	require.NoError(t, err)
	m := &slotMap{replicas: map[string][]string{}}
	for _, sh := range shards {
		f, err := sh.AsMap()
		require.NoError(t, err)
		slotsMsg := f["slots"]
		sl, err := slotsMsg.AsIntSlice()
		require.NoError(t, err)
		nodesMsg := f["nodes"]
		nodes, err := nodesMsg.ToArray()
		require.NoError(t, err)
		primary := ""
		rs := []string{}
		for _, nd := range nodes {
			nf, err := nd.AsMap()
			require.NoError(t, err)
			field := func(k string) string {
				m := nf[k]
				if m.IsInt64() {
					v, _ := m.AsInt64()
					return strconv.FormatInt(v, 10)
				}
				v, _ := m.ToString()
				return v
			}
			role, health := field("role"), field("health")
			addr := net.JoinHostPort(field("ip"), field("port"))
			switch {
			case role == "master" && health != "fail" && health != "failed":
				primary = addr
			case role == "replica" && health != "fail" && health != "failed":
				rs = append(rs, addr)
			}
		}
		if len(sl) == 0 || primary == "" {
			continue
		}
		for i := 0; i+1 < len(sl); i += 2 {
			for x := sl[i]; x <= sl[i+1]; x++ {
				m.owner[x] = primary
			}
		}
		sort.Strings(rs)
		m.replicas[primary] = rs
	}
	return m
}

// requireMatchesEveryNode checks that the snapshot equals the CLUSTER
// SHARDS view of every running node of c.
func requireMatchesEveryNode(ctx context.Context, t testing.TB, c *clustertest.Cluster, s *Snapshot) {
	t.Helper()
	got := snapshotSlotMap(s)
	asked := 0
	for _, n := range c.Nodes() {
		if n.PID() == 0 {
			continue // killed
		}
		want := serverSlotMap(ctx, t, c, n)
		require.Empty(t, diffSlotMaps(want, got), "snapshot v%d differs from the view of %s", s.Version(), n)
		asked++
	}
	require.GreaterOrEqual(t, asked, 3)
}

// requireOwnersMatchEveryNode checks that the snapshot's slot owners equal
// those of the CLUSTER SHARDS view of every running node (replica sets are
// not compared).
func requireOwnersMatchEveryNode(ctx context.Context, t testing.TB, c *clustertest.Cluster, s *Snapshot) {
	t.Helper()
	got := snapshotSlotMap(s)
	got.replicas = nil
	for _, n := range c.Nodes() {
		if n.PID() == 0 {
			continue
		}
		want := serverSlotMap(ctx, t, c, n)
		want.replicas = nil
		require.Empty(t, diffSlotMaps(want, got), "snapshot v%d differs from the view of %s", s.Version(), n)
	}
}

// eventually polls cond every 50ms until it holds or ctx ends.
func eventually(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// eventRecorder is an Observer that keeps every event.
type eventRecorder struct {
	mu     sync.Mutex
	events []RefreshEvent
}

func (e *eventRecorder) OnRefresh(ev RefreshEvent) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

func (e *eventRecorder) all() []RefreshEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RefreshEvent(nil), e.events...)
}

// find returns the first event at index >= from that satisfies cond.
func (e *eventRecorder) find(from int, cond func(RefreshEvent) bool) (RefreshEvent, bool) {
	evs := e.all()
	for i := from; i < len(evs); i++ {
		if cond(evs[i]) {
			return evs[i], true
		}
	}
	return RefreshEvent{}, false
}

// newLive starts a Refresher on the shared cluster, closed with the test.
func newLive(ctx context.Context, t testing.TB, c *clustertest.Cluster, opts Options) *Refresher {
	t.Helper()
	if opts.Seeds == nil {
		opts.Seeds = c.Addrs()
	}
	r, err := New(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

// primaryWithReplica returns a primary of c that has a running replica, and
// that replica.
func primaryWithReplica(ctx context.Context, t testing.TB, c *clustertest.Cluster) (primary, replica *clustertest.Node) {
	t.Helper()
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	for _, p := range ps {
		rs, err := c.ReplicasOf(ctx, p)
		require.NoError(t, err)
		for _, r := range rs {
			if r.PID() != 0 {
				return p, r
			}
		}
	}
	t.Fatal("no primary with a running replica")
	return nil, nil
}

// shardsCalls returns the number of CLUSTER SHARDS commands each running
// node received, from INFO commandstats: what the servers actually saw.
func shardsCalls(ctx context.Context, t testing.TB, c *clustertest.Cluster) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, n := range c.Nodes() {
		if n.PID() == 0 {
			continue
		}
		msg, err := c.Do(ctx, n, "INFO", "commandstats")
		require.NoError(t, err)
		text, err := msg.ToString()
		require.NoError(t, err)
		out[n.Addr] = commandCalls(text, "cluster|shards")
	}
	return out
}

// commandCalls extracts calls=N of cmdstat_<name> from INFO commandstats.
func commandCalls(info, name string) int64 {
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "cmdstat_"+name+":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
}

func sumDelta(before, after map[string]int64) int64 {
	var d int64
	for a, v := range after {
		d += v - before[a]
	}
	return d
}

// closedAddrs returns n loopback addresses nobody listens on.
func closedAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		out = append(out, l.Addr().String())
		require.NoError(t, l.Close())
	}
	return out
}

// reshapeCluster starts a private 3-primary cluster, stopped at the end of
// the test, for a test that moves slots (after clustertest.Need(t,
// cluster), so it skips like the others without a server). The shared
// cluster's replicas are promoted by the failover tests: on Redis
// 7.0.13-7.0.15 a replica of a primary that imported slots may carry a
// stale "owner not claiming" flag for the last slot imported, and once
// promoted lose that slot for good when its old primary comes back (see
// clustertest's TestReshapes).
func reshapeCluster(t *testing.T) *clustertest.Cluster {
	t.Helper()
	clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer cancel()
	c, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	return c
}
