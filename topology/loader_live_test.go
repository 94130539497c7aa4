package topology

import (
	"slices"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLiveMatchesEveryNode: right after New, the snapshot equals the CLUSTER
// SHARDS view of every node (slot owners and replica sets), and every node
// carries a config epoch.
func TestLiveMatchesEveryNode(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	rec := &eventRecorder{}
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh, Observer: rec})

	s := r.Current()
	require.True(t, s.Covered(), "uncovered: %v", s.Uncovered())
	requireMatchesEveryNode(ctx, t, c, s)
	assert.Len(t, s.Nodes(), len(c.Nodes()))
	for _, n := range s.Nodes() {
		assert.True(t, n.EpochKnown, "node %s has no config epoch", n)
		assert.Equal(t, n.Announced, n.Addr, "no hook: dialable = announced")
	}
	for x := slots.Slot(0); x < slots.Count; x += 97 {
		assert.True(t, s.Entry(x).EpochKnown, "slot %d has no epoch", x)
	}
	evs := rec.all()
	require.Len(t, evs, 1)
	assert.Equal(t, CauseInitial, evs[0].Cause)
	assert.NoError(t, evs[0].Err)
	assert.True(t, evs[0].FromSeeds, "the first refresh can only ask the seeds")
	if evs[0].Duration < SeedGroupDelay { // else a second group may have been asked
		assert.LessOrEqual(t, len(evs[0].Answered), DefaultNodesPerRefresh)
	}
	assert.NotEmpty(t, evs[0].Changes.Added)

	// Close closes every connection (goleak in TestMain checks the
	// goroutines).
	loader := r.src.(*Loader)
	assert.NotEmpty(t, loader.Conns())
	r.Close()
	assert.Empty(t, loader.Conns())
	assert.ErrorIs(t, r.Refresh(ctx), ErrClosed)
}

// TestLiveMoveSlots moves 1,000 slots behind the refresher's back; a
// Trigger makes the snapshot follow, and the diff names the moved slots.
// Like every test that moves slots, it uses a cluster of its own
// (reshapeCluster).
func TestLiveMoveSlots(t *testing.T) {
	c := reshapeCluster(t)
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh, Observer: rec})
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	from, to := ps[0], ps[1]
	before := r.Current()

	moved, err := c.MoveSlots(ctx, from, to, 1000)
	require.NoError(t, err)
	require.Len(t, moved, 1000)
	// Nothing told the refresher: the snapshot is still the old one.
	p, ok := r.Current().Primary(slots.Slot(moved[0]))
	require.True(t, ok)
	assert.Equal(t, from.Addr, p.Addr)

	n := len(rec.all())
	r.Trigger("test: slots moved")
	eventually(ctx, t, "a refresh after the trigger", func() bool {
		_, ok := rec.find(n, func(e RefreshEvent) bool { return e.Cause == CauseTrigger && e.New != nil })
		return ok
	})
	s := r.Current()
	assert.Greater(t, s.Version(), before.Version())
	for _, x := range moved {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok)
		require.Equal(t, to.Addr, p.Addr, "slot %d", x)
	}
	requireMatchesEveryNode(ctx, t, c, s)
	ev, _ := rec.find(n, func(e RefreshEvent) bool { return e.Cause == CauseTrigger && e.New != nil })
	assert.Equal(t, "test: slots moved", ev.Reason)
	count := 0
	for _, m := range ev.Changes.Moved {
		require.NotNil(t, m.From)
		require.NotNil(t, m.To)
		assert.Equal(t, from.Addr, m.From.Addr)
		assert.Equal(t, to.Addr, m.To.Addr)
		count += m.Range.Len()
	}
	assert.Equal(t, 1000, count)
}

// TestLiveFailover: after CLUSTER FAILOVER the replica serves the shard's
// slots in the snapshot, and the diff reports the failover.
func TestLiveFailover(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	rec := &eventRecorder{}
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh, Observer: rec})
	primary, replica := primaryWithReplica(ctx, t, c)
	owned, err := c.SlotsOf(ctx, primary)
	require.NoError(t, err)
	require.NotEmpty(t, owned)

	require.NoError(t, c.Failover(ctx, replica))
	n := len(rec.all())
	require.NoError(t, r.Refresh(ctx))
	s := r.Current()
	for _, x := range owned {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok)
		require.Equal(t, replica.Addr, p.Addr, "slot %d", x)
	}
	requireMatchesEveryNode(ctx, t, c, s)
	ev, ok := rec.find(n, func(e RefreshEvent) bool { return e.New != nil })
	require.True(t, ok)
	assert.Equal(t, CauseRefresh, ev.Cause)
	require.NotEmpty(t, ev.Changes.Failovers)
	assert.Equal(t, primary.Addr, ev.Changes.Failovers[0].Old.Addr)
	assert.Equal(t, replica.Addr, ev.Changes.Failovers[0].New.Addr)
}

// TestLiveKillFailoverRestart: kill -9 of a primary, its replica's
// promotion, then the old primary back as a replica.
func TestLiveKillFailoverRestart(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 90*time.Second)
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh})
	primary, _ := primaryWithReplica(ctx, t, c)
	owned, err := c.SlotsOf(ctx, primary)
	require.NoError(t, err)

	require.NoError(t, c.Kill(primary))
	t.Cleanup(func() {
		if primary.PID() == 0 {
			_ = c.Restart(liveCtx(t, 60*time.Second), primary)
		}
	})
	promoted, err := c.WaitFailover(ctx, primary)
	require.NoError(t, err)
	require.NoError(t, r.Refresh(ctx))
	s := r.Current()
	for _, x := range owned {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok)
		require.Equal(t, promoted.Addr, p.Addr, "slot %d", x)
	}
	require.True(t, s.Covered())
	requireMatchesEveryNode(ctx, t, c, s)
	require.NoError(t, c.Restart(ctx, primary))
	require.NoError(t, r.Refresh(ctx))
	s = r.Current()
	requireMatchesEveryNode(ctx, t, c, s)
	back, ok := s.NodeByAddr(primary.Addr)
	require.True(t, ok, "the restarted node is known again")
	assert.Equal(t, RoleReplica, back.Role)
	assert.NotEqual(t, HealthFailed, back.Health)
}

// TestLiveNodeJoinsAndLeaves: a new node gets slots, then gives them back
// and leaves; the snapshot follows both, and the loader closes its
// connection to the node that left (on a cluster of its own,
// reshapeCluster).
func TestLiveNodeJoinsAndLeaves(t *testing.T) {
	c := reshapeCluster(t)
	ctx := liveCtx(t, 90*time.Second)
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh, NodesPerRefresh: 16})
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	donor := ps[0]

	added, err := c.AddNode(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.RemoveNode(liveCtx(t, 60*time.Second), added) })
	moved, err := c.MoveSlots(ctx, donor, added, 100)
	require.NoError(t, err)
	require.NoError(t, r.Refresh(ctx))
	s := r.Current()
	for _, x := range moved {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok)
		require.Equal(t, added.Addr, p.Addr, "slot %d", x)
	}
	requireMatchesEveryNode(ctx, t, c, s)

	// Give the slots back, then remove the node.
	for _, x := range moved {
		require.NoError(t, c.MoveSlot(ctx, x, donor))
	}
	require.NoError(t, c.RemoveNode(ctx, added))
	require.NoError(t, r.Refresh(ctx))
	s = r.Current()
	requireMatchesEveryNode(ctx, t, c, s)
	_, known := s.NodeByAddr(added.Addr)
	assert.False(t, known, "the removed node is gone from the snapshot")
	assert.NotContains(t, r.src.(*Loader).Conns(), added.Addr, "its connection is closed")
}

// TestLiveStaleViewCannotRollBack keeps the view a node gave before a
// failover (a real reply, parsed), fails the shard over, refreshes, and
// then feeds the stale view, alone and as a partial view, to the same
// publication path the refresher uses: the map does not go backwards.
func TestLiveStaleViewCannotRollBack(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh})
	primary, replica := primaryWithReplica(ctx, t, c)
	owned, err := c.SlotsOf(ctx, primary)
	require.NoError(t, err)

	loader := r.src.(*Loader)
	old := loader.Fetch(ctx, []string{primary.Addr})
	require.NoError(t, old[0].Err)
	stale := old[0].View

	require.NoError(t, c.Failover(ctx, replica))
	require.NoError(t, r.Refresh(ctx))
	fresh := r.Current()
	p, _ := fresh.Primary(slots.Slot(owned[0]))
	require.Equal(t, replica.Addr, p.Addr)

	// The stale view alone.
	_, s, err := r.publish([]View{stale})
	require.NoError(t, err)
	for _, x := range owned {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok)
		require.Equal(t, replica.Addr, p.Addr, "slot %d rolled back", x)
	}
	// A partial view: the stale view without the failed-over shard.
	partial := stale
	partial.Shards = slices.DeleteFunc(slices.Clone(stale.Shards), func(sh Shard) bool {
		return sh.Primary != nil && sh.Primary.Addr == primary.Addr
	})
	require.Less(t, len(partial.Shards), len(stale.Shards))
	_, s, err = r.publish([]View{partial})
	require.NoError(t, err)
	require.True(t, s.Covered(), "a single partial view cannot uncover slots: %v", s.Uncovered())
	requireOwnersMatchEveryNode(ctx, t, c, s)
	// Roles are not compared here: the stale view was answered by the old
	// primary itself, and Reconcile trusts a node's own report of its role
	// (so a node reset and re-added as an empty primary is seen at once),
	// which names it a (slotless) primary until a fresh refresh repairs it.
	require.NoError(t, r.Refresh(ctx))
	requireMatchesEveryNode(ctx, t, c, r.Current())
}

// TestLivePausedNodeCannotRollBack: a node is paused (SIGSTOP) while its
// cluster fails a shard over, and asked, alone, the moment it resumes: our
// request is already waiting in its socket, so it is likely to answer
// before it has caught up on the cluster bus. Whether its answer is stale
// or already fresh, publishing it alone must not roll the map back.
func TestLivePausedNodeCannotRollBack(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	t.Cleanup(func() { _ = c.Heal(liveCtx(t, 60*time.Second)) })
	r := newLive(ctx, t, c, Options{Period: NoPeriodicRefresh})
	primary, replica := primaryWithReplica(ctx, t, c)
	owned, err := c.SlotsOf(ctx, primary)
	require.NoError(t, err)
	// The witness: a node of another shard.
	rs, err := c.ReplicasOf(ctx, primary)
	require.NoError(t, err)
	var witness *clustertest.Node
	for _, n := range c.Nodes() {
		if n != primary && n.PID() != 0 && !slices.Contains(rs, n) {
			witness = n
			break
		}
	}
	require.NotNil(t, witness)
	// A loader of its own, patient with the paused node.
	slow := NewLoader(Options{NodeTimeout: 40 * time.Second})
	defer slow.Close()
	slow.template.Dialer.Timeout = 40 * time.Second
	slow.template.ConnWriteTimeout = 40 * time.Second

	require.NoError(t, slow.Fetch(ctx, []string{witness.Addr})[0].Err) // connected

	// The request is written while the node is paused, before the
	// failover: it waits in the node's socket ahead of the news, which the
	// node reads one cluster-bus packet per link and event-loop turn.
	require.NoError(t, c.Pause(witness))
	got := make(chan NodeReply, 1)
	go func() { got <- slow.Fetch(ctx, []string{witness.Addr})[0] }()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, c.Failover(ctx, replica))
	require.NoError(t, r.Refresh(ctx))
	p, _ := r.Current().Primary(slots.Slot(owned[0]))
	require.Equal(t, replica.Addr, p.Addr)
	require.NoError(t, c.Resume(witness))
	reply := <-got
	require.NoError(t, reply.Err)
	stale := false
	for _, sh := range reply.View.Shards {
		if sh.Primary != nil && sh.Primary.Addr == primary.Addr && len(sh.Ranges) > 0 {
			stale = true
		}
	}
	t.Logf("the resumed node's view was stale: %v", stale)

	_, s, err := r.publish([]View{reply.View})
	require.NoError(t, err)
	for _, x := range owned {
		p, ok := s.Primary(slots.Slot(x))
		require.True(t, ok, "slot %d uncovered", x)
		require.Equal(t, replica.Addr, p.Addr, "slot %d rolled back", x)
	}
	require.True(t, s.Covered())
	require.NoError(t, c.WaitHealthy(ctx))
	require.NoError(t, r.Refresh(ctx))
	requireMatchesEveryNode(ctx, t, c, r.Current())
}
