package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// bigSet adds members to a set in a few big SADDs: 100,000 members of 300
// bytes, about 30 MB, too slow to RESTORE within 1 ms.
func bigSet(t *testing.T, ctx context.Context, c *clustertest.Cluster, n *clustertest.Node, key string) int64 {
	t.Helper()
	const members, per = 100_000, 10_000
	pad := strings.Repeat("x", 292)
	for i := 0; i < members; i += per {
		args := []string{"SADD", key}
		for j := i; j < i+per; j++ {
			args = append(args, fmt.Sprintf("%08d%s", j, pad))
		}
		_, err := c.Do(ctx, n, args...)
		require.NoError(t, err)
	}
	return members
}

// TestApplyBigKey moves a slot holding a 30 MB set with a 1 ms MIGRATE
// timeout. With MaxMigrateTimeout 1 ms it stops with an error that names
// the slot and the timeout, the set whole on the source; run again with
// room to double the timeout (and Replace, for the copy the timed-out
// MIGRATE may have left on the target) it finishes, the set whole on the
// target and nowhere else.
func TestApplyBigKey(t *testing.T) {
	// A long RESTORE blocks the target: a longer node timeout keeps the
	// others from flagging it while it works.
	begin := time.Now()
	c := startCluster(t, clustertest.Options{NodeTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Logf("cluster started in %v", time.Since(begin).Round(time.Millisecond))
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Take: map[string]int{l.Nodes[1].ID: 1}})
	require.NoError(t, err)
	slot := p.Moves[0].Ranges[0].Start
	tags := slotTags()
	key := "{" + tags[slot] + "}:big"
	src := c.NodeByID(p.Moves[0].Source)
	dst := c.NodeByID(p.Moves[0].Target)
	members := bigSet(t, ctx, c, src, key)
	t.Logf("set written at %v", time.Since(begin).Round(time.Millisecond))
	scard := func(n *clustertest.Node) int64 {
		_, _ = c.Do(ctx, n, "ASKING")
		m, err := c.Do(ctx, n, "SCARD", key)
		require.NoError(t, err)
		v, err := m.AsInt64()
		require.NoError(t, err)
		return v
	}

	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1], MigrateTimeout: time.Millisecond, MaxMigrateTimeout: time.Millisecond})
	var se *StepError
	require.ErrorAs(t, err, &se, "a 30 MB set cannot RESTORE within 1 ms")
	require.Equal(t, slot, se.Slot)
	require.Equal(t, StepMigrate, se.Step)
	require.Contains(t, err.Error(), "timed out")
	require.Contains(t, err.Error(), fmt.Sprintf("slot %d", slot))
	require.Equal(t, members, scard(src), "the set must be whole on the source")
	t.Logf("first run failed at %v", time.Since(begin).Round(time.Millisecond))

	var migrates int
	var mu sync.Mutex
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], MigrateTimeout: time.Millisecond, Replace: true, Observer: func(e Event) {
		if e.Kind == EventStep && e.Step == StepMigrate {
			mu.Lock()
			migrates++
			mu.Unlock()
		}
	}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Slots)
	require.Greater(t, migrates, 1, "the first MIGRATE (1 ms) times out and is sent again with a longer timeout")
	t.Logf("second run done at %v after %d MIGRATEs", time.Since(begin).Round(time.Millisecond), migrates)
	require.Equal(t, members, scard(dst))
	m, err := c.Do(ctx, src, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(int(slot)))
	require.NoError(t, err)
	n, err := m.AsInt64()
	require.NoError(t, err)
	require.Zero(t, n, "nothing left on the source")
	requireNoOpenSlot(t, ctx, c)
}

// TestApplyDrainedSourceBecomesReplica drains a primary in parallel with a
// longer move between two others; as soon as its last slot has moved it
// is made a replica (CLUSTER REPLICATE), as Redis itself does with
// cluster-allow-replica-migration. The run still succeeds: the later
// SETSLOT NODE sent to it as "another primary" is refused with "only with
// masters", which is expected.
func TestApplyDrainedSourceBecomesReplica(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	x, err := c.AddNode(ctx, nil)
	require.NoError(t, err)
	l := layoutOf(t, ctx, c)
	give, err := plan.Reshard(l, plan.ReshardRequest{Target: x.ID, Slots: 20})
	require.NoError(t, err)
	_, err = Apply(ctx, give, Options{Seeds: c.Addrs()[:1]})
	require.NoError(t, err)

	// The plan: x -> a (all of x's slots) and b -> c2 (600 slots with
	// keys), in one batch.
	l = layoutOf(t, ctx, c)
	var others []plan.Node
	var xs plan.Ranges
	for _, n := range l.Nodes {
		if n.ID == x.ID {
			xs = n.Slots
		} else {
			others = append(others, n)
		}
	}
	a, b, c2 := others[0], others[1], others[2]
	var bset slots.Set
	for _, r := range b.Slots {
		bset.AddRange(r)
	}
	var take slots.Set
	for s := range bset.All() {
		if take.Count() == 600 {
			break
		}
		take.Add(s)
	}
	tags := slotTags()
	rc := newRouter(t, ctx, c)
	fillSlots(t, ctx, rc, tags, take.Ranges(), 3, 7)
	p := handPlan(t, l, []plan.Move{
		{Source: x.ID, Target: a.ID, Ranges: xs},
		{Source: b.ID, Target: c2.ID, Ranges: plan.Ranges(take.Ranges())},
	})

	xLeft := 0
	for _, r := range xs {
		xLeft += r.Len()
	}
	var replErr error
	var once sync.Once
	res, err := Apply(ctx, p, Options{Seeds: []string{c2.Addr}, SlotsPerRound: 4, Observer: func(e Event) {
		if e.Kind == EventSlotsDone && e.Source == x.ID {
			xLeft -= e.Slots
			if xLeft == 0 {
				once.Do(func() { _, replErr = c.Do(ctx, x, "CLUSTER", "REPLICATE", a.ID) })
			}
		}
	}})
	require.NoError(t, err)
	require.NoError(t, replErr)
	require.Equal(t, p.Summary.SlotsMoved, res.Slots)
	reps, err := c.ReplicasOf(ctx, c.NodeByID(a.ID))
	require.NoError(t, err)
	require.Contains(t, reps, x, "the drained source is a replica now")
	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, take.Ranges(), 3, 7)
}

// handPlan builds a one-batch plan from moves and checks it.
func handPlan(t testing.TB, l *plan.Layout, moves []plan.Move) *plan.Plan {
	t.Helper()
	p := &plan.Plan{Version: plan.FormatVersion, Kind: plan.KindReshard, Before: plan.Assignment{}}
	owner := map[slots.Slot]string{}
	for _, n := range l.Nodes {
		p.Before[n.ID] = append(plan.Ranges{}, n.Slots...)
		for _, r := range n.Slots {
			for s := r.Start; s <= r.End; s++ {
				owner[s] = n.ID
			}
		}
	}
	var batch []int
	for i := range moves {
		moves[i].Slots = moves[i].Ranges.Len()
		p.Summary.SlotsMoved += moves[i].Slots
		for _, r := range moves[i].Ranges {
			for s := r.Start; s <= r.End; s++ {
				owner[s] = moves[i].Target
			}
		}
		batch = append(batch, i)
	}
	p.Moves = moves
	p.Batches = [][]int{batch}
	sets := map[string]*slots.Set{}
	for id := range p.Before {
		sets[id] = new(slots.Set)
	}
	for s, id := range owner {
		sets[id].Add(s)
	}
	after := plan.Assignment{}
	for id, set := range sets {
		after[id] = plan.Ranges(set.Ranges())
		if after[id] == nil {
			after[id] = plan.Ranges{}
		}
	}
	p.FinalLayout = after
	require.NoError(t, p.Validate())
	return p
}

// TestApplyStopAndMismatch cancels Apply after its first slots (Ctrl-C):
// it stops with ErrStopped and context.Canceled, and the same plan then
// finishes. A plan whose "before" no longer matches (another slot moved
// meanwhile), or a slot left open by someone else, is refused with
// ErrPlanMismatch naming the slot, before anything is sent.
func TestApplyStopAndMismatch(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Slots: 200})
	require.NoError(t, err)
	actx, stop := context.WithCancel(ctx)
	res, err := Apply(actx, p, Options{Seeds: c.Addrs()[:1], SlotsPerRound: 8, Observer: func(e Event) {
		if e.Kind == EventSlotsDone {
			stop()
		}
	}})
	stop()
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorIs(t, err, context.Canceled)
	require.Positive(t, res.Slots)
	require.Less(t, res.Slots, 200)
	res, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
	require.NoError(t, err)
	require.Equal(t, 200, res.Slots+res.AlreadyDone)
	requireNoOpenSlot(t, ctx, c)

	// A slot the plan does not move changes owner: refused.
	l = layoutOf(t, ctx, c)
	p, err = plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[1].ID, Take: map[string]int{l.Nodes[2].ID: 5}})
	require.NoError(t, err)
	other := l.Nodes[0].Slots[0].Start
	require.NoError(t, c.MoveSlot(ctx, uint16(other), c.NodeByID(l.Nodes[2].ID)))
	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
	require.ErrorIs(t, err, ErrPlanMismatch)
	require.Contains(t, err.Error(), fmt.Sprintf("slot %d:", other))

	// A slot left open by someone else: refused.
	l = layoutOf(t, ctx, c)
	p, err = plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[1].ID, Take: map[string]int{l.Nodes[2].ID: 5}})
	require.NoError(t, err)
	open := l.Nodes[0].Slots[0].Start
	require.NoError(t, c.BeginMigration(ctx, uint16(open), c.NodeByID(l.Nodes[1].ID)))
	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
	require.ErrorIs(t, err, ErrPlanMismatch)
	require.Contains(t, err.Error(), fmt.Sprintf("slot %d is", open))
	require.NoError(t, c.FinishMigration(ctx, uint16(open)))
	require.False(t, errors.Is(err, ErrStopped))
}

// TestApplyConnectionsDropped kills the executor's connections to the
// source and the target (CLIENT KILL) before several steps; the run still
// finishes, every key in place (a dropped connection is dialled again, a
// command that failed on it is retried).
func TestApplyConnectionsDropped(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Take: map[string]int{l.Nodes[1].ID: 40}})
	require.NoError(t, err)
	rc := newRouter(t, ctx, c)
	tags := slotTags()
	moved := p.Moves[0].Ranges
	fillSlots(t, ctx, rc, tags, moved, 20, 3)
	src, dst := c.NodeByID(p.Moves[0].Source), c.NodeByID(p.Moves[0].Target)
	steps, retries := 0, 0
	var killErr error
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], SlotsPerRound: 4, KeysPerBatch: 8, Observer: func(e Event) {
		if e.Kind == EventRetry {
			retries++
		}
		if e.Kind != EventStep {
			return
		}
		steps++
		if steps%5 == 0 {
			for _, n := range []*clustertest.Node{src, dst} {
				if _, err := c.Do(ctx, n, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"); err != nil && killErr == nil {
					killErr = err
				}
			}
		}
	}})
	require.NoError(t, err)
	require.NoError(t, killErr)
	require.Equal(t, 40, res.Slots)
	t.Logf("%d steps, connections killed %d times, %d retries", steps, steps/5, retries)
	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, moved, 20, 3)
}

// TestApplyBusyKey: the target already holds a key of the slot being
// moved (written there with ASKING while the slot was open). Apply stops
// with ErrBusyKey naming that key, the slot left open and the key whole on
// the source; with Replace the same plan finishes and the source's value
// wins.
func TestApplyBusyKey(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Take: map[string]int{l.Nodes[1].ID: 1}})
	require.NoError(t, err)
	slot := p.Moves[0].Ranges[0].Start
	src, dst := c.NodeByID(p.Moves[0].Source), c.NodeByID(p.Moves[0].Target)
	tags := slotTags()
	rc := newRouter(t, ctx, c)
	fillSlots(t, ctx, rc, tags, p.Moves[0].Ranges, 30, 1)
	require.EqualValues(t, 30, countIn(t, ctx, c, src, slot))
	busy := keyIn(tags, slot, 17)
	require.NoError(t, c.BeginMigration(ctx, uint16(slot), dst))
	// One connection: ASKING applies to the next command only.
	cl, err := rueidisClient(dst.Addr)
	require.NoError(t, err)
	defer cl.Close()
	res := cl.DoMulti(ctx, cl.B().Arbitrary("ASKING").Build(), cl.B().Arbitrary("SET", busy, "stale").Build())
	for _, r := range res {
		require.NoError(t, r.Error())
	}

	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1], KeysPerBatch: 10})
	require.ErrorIs(t, err, ErrBusyKey)
	var se *StepError
	require.ErrorAs(t, err, &se)
	require.Equal(t, busy, se.Key)
	require.Equal(t, slot, se.Slot)
	require.Contains(t, err.Error(), busy)
	require.Contains(t, err.Error(), "open slots left")
	m, err := c.Do(ctx, src, "GET", busy)
	require.NoError(t, err, "the key is still served by the source")
	v, err := m.ToString()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%d:17:1", slot), v)

	res2, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Replace: true})
	require.NoError(t, err)
	require.Equal(t, 1, res2.Slots)
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, p.Moves[0].Ranges, 30, 1)
	require.Zero(t, countIn(t, ctx, c, src, slot))
}

func countIn(t *testing.T, ctx context.Context, c *clustertest.Cluster, n *clustertest.Node, s slots.Slot) int64 {
	t.Helper()
	m, err := c.Do(ctx, n, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(int(s)))
	require.NoError(t, err)
	v, err := m.AsInt64()
	require.NoError(t, err)
	return v
}

// TestApplyACLUser: with an ACL user (and the default user disabled for
// new connections), Apply authenticates its own connections and MIGRATE
// authenticates to the target (AUTH2); no error or event holds the
// password.
func TestApplyACLUser(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Slots: 30})
	require.NoError(t, err)
	tags := slotTags()
	rc := newRouter(t, ctx, c)
	var moved []slots.Range
	for _, m := range p.Moves {
		moved = append(moved, m.Ranges...)
	}
	fillSlots(t, ctx, rc, tags, moved, 10, 5)
	const user, secret = "mover", "acl-Pa55-only-here"
	for _, n := range c.Nodes() {
		_, err := c.Do(ctx, n, "ACL", "SETUSER", user, "on", ">"+secret, "~*", "&*", "+@all")
		require.NoError(t, err)
		_, err = c.Do(ctx, n, "ACL", "SETUSER", "default", "resetpass", ">another-secret")
		require.NoError(t, err)
	}
	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Attempts: 2})
	require.Error(t, err, "no credentials")
	require.NotContains(t, err.Error(), secret)

	var texts []string
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Username: user, Password: secret, Observer: func(e Event) {
		texts = append(texts, fmt.Sprintf("%+v", e))
	}})
	require.NoError(t, err)
	require.Equal(t, 30, res.Slots)
	require.EqualValues(t, 30*10, res.Keys)
	for _, s := range texts {
		require.NotContains(t, s, secret)
	}
	requireNoOpenSlot(t, ctx, c)
	arc, err := router.New(ctx, router.Options{Seeds: c.Addrs(), Username: user, Password: secret})
	require.NoError(t, err)
	defer arc.Close()
	requireSlots(t, ctx, c, arc, tags, moved, 10, 5)
}

// TestApplyReclaimsForgottenSlot makes a target drop a slot it has just
// taken from its own view (CLUSTER DELSLOTS on it, the state a stale
// gossip message leaves on Redis 7.0.13-7.0.15, see the package doc):
// every other primary still says the target owns it. Apply notices it at
// the end of the run and tells the target again (EventReclaimed,
// Result.Reclaimed); a run of the same plan after such a loss does it as
// step 4. Either way the target claims the slot again with its keys. It
// also checks the order SETSLOT NODE is sent in: target, others, source.
func TestApplyReclaimsForgottenSlot(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	src, dst := l.Nodes[1], l.Nodes[0]
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: dst.ID, Take: map[string]int{src.ID: 4}})
	require.NoError(t, err)
	require.Len(t, p.Moves, 1)
	moved := p.Moves[0].Ranges
	tags := slotTags()
	rc := newRouter(t, ctx, c)
	fillSlots(t, ctx, rc, tags, moved, 3, 11)
	lostSlot := moved[0].Start
	target := c.NodeByID(dst.ID)
	forget := func() error {
		_, err := c.Do(ctx, target, "CLUSTER", "DELSLOTS", strconv.Itoa(int(lostSlot)))
		return err
	}
	// Seeded with a node other than the target: its view names the target
	// as the owner, as the others' do.
	seeds := []string{c.NodeByID(src.ID).Addr}

	var mu sync.Mutex
	var steps []Step
	var reclaimed []Event
	var forgetErr error
	res, err := Apply(ctx, p, Options{Seeds: seeds, SlotsPerRound: 4, Observer: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case EventStep:
			switch e.Step {
			case StepNodeTarget, StepNodeOthers, StepNodeSource:
				steps = append(steps, e.Step)
			}
		case EventSlotsDone:
			forgetErr = forget() // after the run's only round
		case EventReclaimed:
			reclaimed = append(reclaimed, e)
		}
	}})
	require.NoError(t, err)
	mu.Lock()
	require.NoError(t, forgetErr)
	require.Equal(t, []Step{StepNodeTarget, StepNodeOthers, StepNodeSource, // the move
		StepNodeTarget}, steps, "target, others, source; then the target again for the reclaimed slot")
	require.Len(t, reclaimed, 1)
	require.Equal(t, lostSlot, reclaimed[0].Slot)
	require.Equal(t, 1, reclaimed[0].Slots)
	mu.Unlock()
	require.Equal(t, 4, res.Slots)
	require.Equal(t, 1, res.Reclaimed)
	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, moved, 3, 11)

	// Lost after the run: the same plan again gives it back.
	require.NoError(t, forget())
	res, err = Apply(ctx, p, Options{Seeds: seeds})
	require.NoError(t, err)
	require.Equal(t, 1, res.Slots, "the forgotten slot is finished again")
	require.Equal(t, 3, res.AlreadyDone)
	require.Zero(t, res.Reclaimed)
	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, moved, 3, 11)
}
