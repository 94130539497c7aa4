package topology

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReconcileNoViews(t *testing.T) {
	_, err := Reconcile(nil, nil, ReconcileOptions{})
	assert.ErrorIs(t, err, ErrNoViews)
}

func TestReconcileFirstLoad(t *testing.T) {
	v := tview("10.0.0.1:7000", threeShards(t, false)...)
	s, err := Reconcile(nil, []View{v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.Version())
	assert.Equal(t, []string{"0-5460:A", "5461-10922:B", "10923-16383:C"}, owners(s))
	assert.Len(t, s.Nodes(), 6)
	assert.True(t, s.Covered())
	s2, err := Reconcile(s, []View{v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), s2.Version())
	assert.True(t, Diff(s, s2).Empty())
}

func TestReconcileHigherEpochWins(t *testing.T) {
	oldA := tshard(t, tnode("A", 7000, 5), "0-100")
	newB := tshard(t, tnode("B", 7001, 7), "0-100")
	restC := tshard(t, tnode("C", 7002, 1), "101-16383")
	for _, order := range [][]View{
		{tview("x:1", oldA, restC), tview("x:2", oldA, restC), tview("x:3", newB, restC)},
		{tview("x:3", newB, restC), tview("x:1", oldA, restC), tview("x:2", oldA, restC)},
	} {
		s, err := Reconcile(nil, order, ReconcileOptions{})
		require.NoError(t, err)
		assert.Equal(t, "B", ownerOf(s, 50), "epoch 7 beats a majority at epoch 5")
		assert.Equal(t, SlotEntry{Covered: true, Epoch: 7, EpochKnown: true}, s.Entry(50))
		a, ok := s.NodeByID("A")
		require.True(t, ok, "A stays known, as a slotless primary")
		assert.Equal(t, RolePrimary, a.Role)
	}
}

func TestReconcileEpochsFromCatalog(t *testing.T) {
	// The SHARDS view has no epochs, the NODES view of another node has:
	// the SHARDS claim takes the catalog's epoch for its primary.
	shardsView := tview("x:1", tshard(t, tnode("A", 7000), "0-16383"))
	nodesView := View{Source: SourceNodes, Answered: "x:2", Shards: []Shard{
		tshard(t, tnode("A", 7000, 3), ""), tshard(t, tnode("B", 7001, 9), "0-16383"),
	}}
	s, err := Reconcile(nil, []View{shardsView, shardsView, nodesView}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 0))
}

func TestReconcileMajorityWithoutEpochs(t *testing.T) {
	a := tshard(t, tnode("A", 7000), "0-16383")
	b := tshard(t, tnode("B", 7001), "0-16383")
	s, err := Reconcile(nil, []View{tview("x:1", a), tview("x:2", b), tview("x:3", b)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 10))
	// A tie keeps the previous owner.
	s2, err := Reconcile(s, []View{tview("x:1", a), tview("x:2", b)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s2, 10))
	// Without a previous owner, the later view breaks the tie.
	s3, err := Reconcile(nil, []View{tview("x:1", b), tview("x:2", a)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "A", ownerOf(s3, 10))
}

func TestReconcileStaleViewCannotRollBackMoved(t *testing.T) {
	for _, withEpochs := range []bool{false, true} {
		prev, err := NewSnapshot(threeShards(t, withEpochs), SnapshotOptions{})
		require.NoError(t, err)
		// MOVED: slot 100 now on B.
		fixed, res := prev.ApplyMoved(100, "10.0.0.1:7001")
		require.Equal(t, MovedToPrimary, res.Kind)
		// A stale seed still says A owns 0-5460 (with A's old epoch when known).
		stale := tview("10.0.0.1:7002", threeShards(t, withEpochs)...)
		s, err := Reconcile(fixed, []View{stale}, ReconcileOptions{})
		require.NoError(t, err)
		assert.Equal(t, "B", ownerOf(s, 100), "epochs=%v: a stale view cannot undo a MOVED fix", withEpochs)
		assert.True(t, s.Entry(100).Fixed)
		assert.Equal(t, "A", ownerOf(s, 101))
		// Several stale views agreeing change nothing either.
		s, err = Reconcile(s, []View{stale, stale, stale}, ReconcileOptions{})
		require.NoError(t, err)
		assert.Equal(t, "B", ownerOf(s, 100))

		// A view that agrees with the fix confirms it and clears the marker.
		moved := threeShards(t, withEpochs)
		moved[0] = tshard(t, tnode("A", 7000, 1), "0-99,101-5460", tnode("a1", 7100))
		moved[1] = tshard(t, tnode("B", 7001, 4), "100,5461-10922", tnode("b1", 7101))
		s2, err := Reconcile(s, []View{tview("10.0.0.1:7002", moved...)}, ReconcileOptions{})
		require.NoError(t, err)
		assert.Equal(t, "B", ownerOf(s2, 100))
		assert.False(t, s2.Entry(100).Fixed)
	}
}

func TestReconcileNewerEpochOverridesMoved(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, true), SnapshotOptions{})
	require.NoError(t, err)
	fixed, _ := prev.ApplyMoved(100, "10.0.0.1:7001") // entry epoch = B's 2
	require.Equal(t, uint64(2), fixed.Entry(100).Epoch)
	// A later legitimately took the slot back, bumping its epoch to 9.
	newer := threeShards(t, true)
	newer[0] = tshard(t, tnode("A", 7000, 9), "0-5460")
	s, err := Reconcile(fixed, []View{tview("10.0.0.1:7002", newer...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "A", ownerOf(s, 100))
	assert.False(t, s.Entry(100).Fixed)
	assert.Equal(t, uint64(9), s.Entry(100).Epoch)
	// Equal epoch is not newer.
	same := threeShards(t, true)
	same[0] = tshard(t, tnode("A", 7000, 2), "0-5460")
	s, err = Reconcile(fixed, []View{tview("10.0.0.1:7002", same...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 100))
}

func TestReconcileFixedOwnerOwnWordOverrides(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	fixed, _ := prev.ApplyMoved(100, "10.0.0.1:7001")
	// B itself answers and no longer claims slot 100 (it gave it back).
	v := tview("10.0.0.1:7001", threeShards(t, false)...)
	s, err := Reconcile(fixed, []View{v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "A", ownerOf(s, 100))
	assert.False(t, s.Entry(100).Fixed)
}

func TestReconcileNoRollbackByLowerEpoch(t *testing.T) {
	prev, err := Reconcile(nil, []View{tview("x:1", tshard(t, tnode("B", 7001, 7), "0-16383"))}, ReconcileOptions{})
	require.NoError(t, err)
	stale := tview("x:2", tshard(t, tnode("A", 7000, 5), "0-16383"))
	s, err := Reconcile(prev, []View{stale, stale}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 0), "epoch 5 cannot replace an entry decided at epoch 7")
}

func TestReconcilePartialViewNeedsConfirmation(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	partial := threeShards(t, false)[:2] // C's 10923-16383 missing
	s, err := Reconcile(prev, []View{tview("10.0.0.1:7000", partial...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "C", ownerOf(s, 12000), "one node's smaller view is not enough")
	assert.True(t, s.Covered())
	// Another node's full view: claims beat omissions.
	s, err = Reconcile(prev, []View{tview("10.0.0.1:7000", partial...), tview("10.0.0.1:7001", threeShards(t, false)...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "C", ownerOf(s, 12000))
	// Two nodes agree the slots are gone: accepted.
	s, err = Reconcile(prev, []View{tview("10.0.0.1:7000", partial...), tview("10.0.0.1:7001", partial...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "", ownerOf(s, 12000))
	u := s.Uncovered()
	assert.Equal(t, 5461, u.Count())
	_, ok := s.NodeByID("C")
	assert.False(t, ok, "a prev-only node without slots is dropped")
	// The owner's own view is confirmation enough.
	self := []Shard{threeShards(t, false)[0], threeShards(t, false)[1], tshard(t, tnode("C", 7002), "")}
	s, err = Reconcile(prev, []View{tview("10.0.0.1:7002", self...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "", ownerOf(s, 12000))
}

func TestReconcileFailedShardPartialView(t *testing.T) {
	// redis 13414: nodes leave a failed shard out of their replies.
	in := threeShards(t, false)
	in[2].Primary.Health = HealthFailed
	prev, err := NewSnapshot(in, SnapshotOptions{})
	require.NoError(t, err)
	partial := threeShards(t, false)[:2]
	s, err := Reconcile(prev, []View{tview("10.0.0.1:7000", partial...), tview("10.0.0.1:7001", partial...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "C", ownerOf(s, 12000), "a failed shard's slots are never dropped by omission")
	c, ok := s.NodeByID("C")
	require.True(t, ok)
	assert.Equal(t, HealthFailed, c.Health)

	// Failed in the views themselves (listed without its slots by one node).
	failedC := tnode("C", 7002)
	failedC.Health = HealthFailed
	prev2, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	v1 := tview("10.0.0.1:7000", append(threeShards(t, false)[:2], tshard(t, failedC, ""))...)
	v2 := tview("10.0.0.1:7001", append(threeShards(t, false)[:2], tshard(t, failedC, ""))...)
	s, err = Reconcile(prev2, []View{v1, v2}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "C", ownerOf(s, 12000))
	c, _ = s.NodeByID("C")
	assert.Equal(t, HealthFailed, c.Health)
}

func TestReconcileCapturedFailover(t *testing.T) {
	load := func(shape string) []View {
		ans := answeredOf(t, shape)
		sh, err := ParseShards(capturedMessage(t, shape, "shards", true), ans)
		require.NoError(t, err)
		nv, err := ParseNodesReply(capturedMessage(t, shape, "nodes", true), ans)
		require.NoError(t, err)
		sh.AttachEpochs(&nv)
		sl, err := ParseSlots(capturedMessage(t, shape, "slots", false), ans)
		require.NoError(t, err)
		return []View{sh, nv, sl}
	}
	healthy, err := Reconcile(nil, load("healthy"), ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0-5460:" + idB785, "5461-10922:" + idA14C, "10923-16383:" + id99A7}, owners(healthy))
	assert.Len(t, healthy.Nodes(), 6)
	r, ok := healthy.NodeByID(idD627)
	require.True(t, ok)
	assert.Equal(t, idB785, r.PrimaryID)
	assert.Equal(t, HealthLoading, r.Health, "CLUSTER SHARDS said loading")
	assert.Equal(t, uint64(1), healthy.Entry(0).Epoch)

	failed, err := Reconcile(healthy, load("failed"), ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, idB785, ownerOf(failed, 5461), "the finished migration (epoch 7) is taken")
	assert.Equal(t, id99A7, ownerOf(failed, 16383))
	n, _ := failed.NodeByID(id99A7)
	assert.Equal(t, HealthFailed, n.Health)

	over, err := Reconcile(failed, load("failedover"), ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, idAAB1, ownerOf(over, 16383))
	assert.Equal(t, uint64(8), over.Entry(16383).Epoch)
	n, ok = over.NodeByID(id99A7)
	require.True(t, ok, "the failed node stays, marked")
	assert.Equal(t, HealthFailed, n.Health)
	assert.Equal(t, RolePrimary, n.Role)

	ch := Diff(failed, over)
	require.Len(t, ch.Moved, 1)
	assert.Equal(t, "10923-16383", ch.Moved[0].Range.String())
	assert.Equal(t, id99A7, ch.Moved[0].From.ID)
	assert.Equal(t, idAAB1, ch.Moved[0].To.ID)
	require.Len(t, ch.Failovers, 1)
	assert.Equal(t, id99A7, ch.Failovers[0].Old.ID)
	assert.Equal(t, idAAB1, ch.Failovers[0].New.ID)
	assert.Empty(t, ch.Added)
	assert.Empty(t, ch.Removed)

	// Rolling back: the stale healthy views after the failover change nothing
	// for the failed-over shard (epoch 3 < 8).
	back, err := Reconcile(over, load("healthy"), ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, idAAB1, ownerOf(back, 16383))
	assert.Equal(t, idB785, ownerOf(back, 5461))
}

func TestReconcileHostnamePreferredAddress(t *testing.T) {
	ans := answeredOf(t, "hostname")
	sh, err := ParseShards(capturedMessage(t, "hostname", "shards", false), ans)
	require.NoError(t, err)
	nv, err := ParseNodesReply(capturedMessage(t, "hostname", "nodes", false), ans)
	require.NoError(t, err)
	for _, views := range [][]View{{nv, sh}, {sh, nv}} {
		s, err := Reconcile(nil, views, ReconcileOptions{MapAddr: func(a string) string { return "m:" + a }})
		require.NoError(t, err)
		for _, n := range s.Nodes() {
			assert.Equal(t, "localhost", n.Endpoint, "CLUSTER SHARDS's preferred endpoint wins")
			assert.Equal(t, "127.0.0.1", n.IP)
			assert.Equal(t, "m:"+n.Announced, n.Addr)
			assert.True(t, n.EpochKnown)
		}
	}
}

func TestReconcileKeepsPrevUntouched(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	before := owners(prev)
	moved := threeShards(t, false)
	moved[0] = tshard(t, tnode("A", 7000), "0-99")
	moved[1] = tshard(t, tnode("B", 7001), "100-10922")
	v := tview("10.0.0.1:7000", moved...)
	s, err := Reconcile(prev, []View{v, v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, owners(prev))
	assert.Equal(t, []string{"0-99:A", "100-10922:B", "10923-16383:C"}, owners(s))
}

func TestReconcileReplicaMovesAndNodeJoinLeave(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	// d joins as an empty primary, c1 leaves, a1 becomes B's replica.
	next := []Shard{
		tshard(t, tnode("A", 7000), "0-5460"),
		tshard(t, tnode("B", 7001), "5461-10922", tnode("b1", 7101), tnode("a1", 7100)),
		tshard(t, tnode("C", 7002), "10923-16383"),
		tshard(t, tnode("D", 7003), ""),
	}
	v := tview("10.0.0.1:7000", next...)
	s, err := Reconcile(prev, []View{v, v}, ReconcileOptions{})
	require.NoError(t, err)
	a1, ok := s.NodeByID("a1")
	require.True(t, ok)
	assert.Equal(t, "B", a1.PrimaryID)
	_, ok = s.NodeByID("c1")
	assert.False(t, ok)
	d, ok := s.NodeByID("D")
	require.True(t, ok)
	assert.Equal(t, RolePrimary, d.Role)
	ch := Diff(prev, s)
	assert.Empty(t, ch.Moved)
	assert.Equal(t, []string{"D"}, ids(ch.Added))
	assert.Equal(t, []string{"c1"}, ids(ch.Removed))
}

func TestReconcileFixedSlotNotDroppedByOmission(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	fixed, _ := prev.ApplyMoved(100, "10.0.0.1:7001")
	// Two other nodes' views omit slot 100 entirely.
	in := threeShards(t, false)
	in[0] = tshard(t, tnode("A", 7000), "0-99,101-5460")
	in[1] = tshard(t, tnode("B", 7001), "5461-10922")
	v := tview("10.0.0.1:7002", in...)
	s, err := Reconcile(fixed, []View{v, v}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 100))
	// B itself says it does not have it: dropped.
	s, err = Reconcile(fixed, []View{tview("10.0.0.1:7001", in...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "", ownerOf(s, 100))
}

func TestReconcileTooManyPrimaries(t *testing.T) {
	shards := make([]Shard, maxShards)
	for i := range shards {
		shards[i] = Shard{Primary: &Node{ID: fmt.Sprintf("n%d", i), Endpoint: "h", Port: 1 + i%60000, Announced: fmt.Sprintf("h:%d", i)}}
	}
	_, err := Reconcile(nil, []View{{Shards: shards}}, ReconcileOptions{})
	assert.ErrorIs(t, err, ErrInvalidShards)
}

func TestReconcileStaleViewAfterMovedFailover(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	over, res := prev.ApplyMoved(6000, "10.0.0.1:7101") // b1 took over from B
	require.Equal(t, MovedFailover, res.Kind)
	stale := tview("10.0.0.1:7000", threeShards(t, false)...)
	s, err := Reconcile(over, []View{stale, stale}, ReconcileOptions{})
	require.NoError(t, err)
	for _, x := range []uint16{5461, 6000, 10922} {
		assert.Equal(t, "b1", ownerOf(s, slotOf(x)), "slot %d", x)
	}
	b1, _ := s.NodeByID("b1")
	assert.Equal(t, RolePrimary, b1.Role)
	// Another node's view with epochs, b1 listed as B's replica: b1's own
	// epoch as a primary is unknown, so the fix stands...
	back := threeShards(t, true)
	back[1] = tshard(t, tnode("B", 7001, 20), "5461-10922", tnode("b1", 7101, 20))
	s, err = Reconcile(s, []View{tview("10.0.0.1:7000", back...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "b1", ownerOf(s, 6000))
	// ...until b1 itself says it is B's replica.
	s, err = Reconcile(s, []View{tview("10.0.0.1:7101", back...)}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "B", ownerOf(s, 6000))
	assert.False(t, s.Entry(6000).Fixed)
	b1, _ = s.NodeByID("b1")
	assert.Equal(t, RoleReplica, b1.Role)
	assert.Equal(t, "B", b1.PrimaryID)
}

func TestReconcileUnknownFixEpochComparedWithOwnerEpoch(t *testing.T) {
	prev, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	fixed, _ := prev.ApplyMoved(100, "10.0.0.1:7001")
	require.False(t, fixed.Entry(100).EpochKnown)
	for _, tc := range []struct {
		aEpoch uint64
		want   string
	}{{9, "A"}, {4, "B"}, {3, "B"}} {
		v := threeShards(t, true)
		v[0] = tshard(t, tnode("A", 7000, tc.aEpoch), "0-5460")
		v[1] = tshard(t, tnode("B", 7001, 4), "5461-10922")
		s, err := Reconcile(fixed, []View{tview("10.0.0.1:7002", v...)}, ReconcileOptions{})
		require.NoError(t, err)
		assert.Equal(t, tc.want, ownerOf(s, 100), "A at epoch %d vs B at 4", tc.aEpoch)
	}
}

func TestReconcileRolesDoNotRollBack(t *testing.T) {
	// prev: R primary (epoch 8) with replica P. A view taken before the
	// failover says P is primary (epoch 3) with replica R.
	now := tview("10.0.0.1:7000", tshard(t, tnode("R", 7001, 8), "0-16383", tnode("P", 7002, 8)))
	prev, err := Reconcile(nil, []View{now}, ReconcileOptions{})
	require.NoError(t, err)
	stale := tview("10.0.0.1:7000", tshard(t, tnode("P", 7002, 3), "0-16383", tnode("R", 7001, 3)))
	s, err := Reconcile(prev, []View{stale}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "R", ownerOf(s, 0))
	p, ok := s.NodeByID("P")
	require.True(t, ok)
	assert.Equal(t, RoleReplica, p.Role)
	assert.Equal(t, "R", p.PrimaryID)
	require.Len(t, s.Shards(), 1)
	assert.True(t, Diff(prev, s).Empty())

	// P answering itself is believed about its own role.
	self := stale
	self.Answered = "10.0.0.1:7002"
	s, err = Reconcile(prev, []View{self}, ReconcileOptions{})
	require.NoError(t, err)
	p, _ = s.NodeByID("P")
	assert.Equal(t, RolePrimary, p.Role)

	// A newer report (a later failover, epoch 9) is taken.
	newer := tview("10.0.0.1:7000", tshard(t, tnode("P", 7002, 9), "0-16383", tnode("R", 7001, 9)))
	s, err = Reconcile(prev, []View{newer}, ReconcileOptions{})
	require.NoError(t, err)
	assert.Equal(t, "P", ownerOf(s, 0))
	r, _ := s.NodeByID("R")
	assert.Equal(t, RoleReplica, r.Role)

	// A replica moving to another primary with a lower epoch is not a role
	// change, so it is taken.
	two := tview("10.0.0.1:7000", tshard(t, tnode("R", 7001, 8), "0-8191", tnode("P", 7002, 8)), tshard(t, tnode("Q", 7003, 2), "8192-16383"))
	prev2, err := Reconcile(nil, []View{two}, ReconcileOptions{})
	require.NoError(t, err)
	moved := tview("10.0.0.1:7000", tshard(t, tnode("R", 7001, 8), "0-8191"), tshard(t, tnode("Q", 7003, 2), "8192-16383", tnode("P", 7002, 2)))
	s, err = Reconcile(prev2, []View{moved}, ReconcileOptions{})
	require.NoError(t, err)
	p, _ = s.NodeByID("P")
	assert.Equal(t, "Q", p.PrimaryID)
}
