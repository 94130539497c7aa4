package migrate

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// waitFor blocks until ch is closed, or until the other Apply has
// returned (other closed) or ctx is done, so that a hook never blocks a
// run forever when the other run took an unexpected path.
func waitFor(ctx context.Context, ch, other <-chan struct{}) {
	select {
	case <-ch:
	case <-other:
	case <-ctx.Done():
	}
}

// TestConcurrentDifferentPlans: two Applys of different plans that move
// the same slot of A (20 keys), P1 to B and P2 to C, both past their
// check before opening, which found the slot closed. The hooks (no sleep)
// set the order: P2 opens the slot first (C importing, A migrating to C)
// and moves a first batch of 5 keys to C; then P1 opens it (A migrating
// to B: MIGRATING is single-valued, the last writer wins). P2 sees at its
// next batch boundary that A migrates the slot to B now: it gives the 5
// keys it moved to B (which imports the slot), closes the slot on C and
// fails with ErrConflict naming B. P1, which reaches its check before
// SETSLOT NODE while C still imports the slot (P2's hook holds the give
// back until P1 reports the wait, an EventRetry matching ErrConflict),
// waits until C no longer imports it, drains A once more and finishes. Before this
// change (build tag audit3) both ran to the end and keys were lost
// ("redis nil message") or the nodes disagreed on the owner.
func TestConcurrentDifferentPlans(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, l, rc, tags, rs, p1, p2 := twoPlansOnOneSlot(t, ctx)
	_, b, cc := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	s := rs[0].Start

	p1Done, p2Done := make(chan struct{}), make(chan struct{})
	p1Checked := make(chan struct{}) // P1 passed its check before opening
	p2Moved := make(chan struct{})   // P2 moved its first batch to C
	p1Migrating := make(chan struct{})
	p1Waits := make(chan struct{}) // P1 waits for C before SETSLOT NODE
	var once1, once2, once3, once4, once5, once6 sync.Once
	o1 := Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, KeysPerBatch: 5, SlotsPerRound: 1}
	var p1Waited error
	o1.Observer = func(e Event) {
		if e.Kind == EventRetry && e.Step == StepCheck && errors.Is(e.Err, ErrConflict) {
			once5.Do(func() { p1Waited = e.Err; close(p1Waits) })
		}
	}
	o1.beforeStep = func(e Event) {
		switch e.Step {
		case StepImporting:
			once1.Do(func() { close(p1Checked); waitFor(ctx, p2Moved, p2Done) })
		case StepCount:
			once2.Do(func() { close(p1Migrating) })
		}
	}
	o2 := Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, KeysPerBatch: 5, SlotsPerRound: 1}
	var p2Events []Event
	o2.beforeStep = func(e Event) {
		switch e.Step {
		case StepImporting:
			once3.Do(func() { waitFor(ctx, p1Checked, p1Done) })
		case StepGiveBack:
			// C still imports the slot and holds P2's 5 keys: P1 must
			// see that before SETSLOT NODE and wait.
			once6.Do(func() { waitFor(ctx, p1Waits, p1Done) })
		}
	}
	o2.Observer = func(e Event) {
		p2Events = append(p2Events, e)
		if e.Kind == EventKeys {
			once4.Do(func() { close(p2Moved); waitFor(ctx, p1Migrating, p1Done) })
		}
	}
	var wg sync.WaitGroup
	var err1, err2 error
	var res2 *Result
	wg.Add(2)
	go func() { defer wg.Done(); defer close(p1Done); _, err1 = Apply(ctx, p1, o1) }()
	go func() { defer wg.Done(); defer close(p2Done); res2, err2 = Apply(ctx, p2, o2) }()
	wg.Wait()
	t.Logf("P1 (A->B): %v", err1)
	t.Logf("P2 (A->C): %v", err2)
	require.NoError(t, err1, "P1 set MIGRATING last: it owns the move")
	require.ErrorIs(t, err2, ErrConflict)
	require.Contains(t, err2.Error(), "now migrates it to "+short(b.ID))
	require.EqualValues(t, 5, res2.Keys, "P2 moved one batch before it lost the slot")
	gaveBack := false
	for _, e := range p2Events {
		if e.Kind == EventStep && e.Step == StepGiveBack {
			gaveBack = true
		}
	}
	require.True(t, gaveBack, "P2 gave its keys back")
	require.ErrorIs(t, p1Waited, ErrConflict, "P1 waited for C before SETSLOT NODE")
	require.Contains(t, p1Waited.Error(), short(cc.ID))
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	defer hcancel()
	require.NoError(t, c.WaitHealthy(hctx), "the nodes must agree on the slot's owner")
	requireOwners(t, ctx, c, p1.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, rs, 20, 1)
	require.Zero(t, countIn(t, ctx, c, c.NodeByID(cc.ID), s))
}

// TestConcurrentRefused: while one Apply (P1, A -> B) holds slot s open
// (stopped by its hook after MIGRATING), a plan moving s from A to C is
// refused with ErrConflict and changes nothing: once when it read the
// cluster before P1 opened the slot (refused by the check before opening,
// at the source's MIGRATING), once when it starts after (refused when it
// reads the cluster, also ErrPlanMismatch). P1 then finishes.
func TestConcurrentRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, l, rc, tags, rs, p1, p2 := twoPlansOnOneSlot(t, ctx)
	a, b, cc := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	s := rs[0].Start

	p1Done, p2Done := make(chan struct{}), make(chan struct{})
	p2Read := make(chan struct{})
	p1Open := make(chan struct{})
	release := make(chan struct{})
	var once1, once2 sync.Once
	o1 := Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, KeysPerBatch: 5, SlotsPerRound: 1}
	o1.beforeStep = func(e Event) {
		switch e.Step {
		case StepImporting:
			once1.Do(func() { waitFor(ctx, p2Read, p2Done) })
		case StepCount:
			once2.Do(func() { close(p1Open); waitFor(ctx, release, nil) })
		}
	}
	var p2Steps []Step
	o2 := Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, Observer: func(e Event) {
		if e.Kind == EventStart {
			close(p2Read)
			waitFor(ctx, p1Open, p1Done)
		}
		if e.Kind == EventStep {
			p2Steps = append(p2Steps, e.Step)
		}
	}}
	var err1, err2 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); defer close(p1Done); _, err1 = Apply(ctx, p1, o1) }()
	_, err2 = Apply(ctx, p2, o2)
	close(p2Done)
	t.Logf("P2, read before P1 opened: %v", err2)
	require.ErrorIs(t, err2, ErrConflict)
	require.Contains(t, err2.Error(), "migrates it to "+short(b.ID))
	require.Equal(t, []Step{StepCheck}, p2Steps, "refused by the check before opening, nothing sent")

	// Started while P1 holds the slot open: refused on reading.
	_, err3 := Apply(ctx, p2, Options{Seeds: c.Addrs()[:1], Mode: ModeKeys})
	t.Logf("P2, started after P1 opened: %v", err3)
	require.ErrorIs(t, err3, ErrConflict)
	require.ErrorIs(t, err3, ErrPlanMismatch)

	// Nothing changed: C imports nothing, A still migrates s to B.
	nodes := func(id string) string {
		m, err := c.Do(ctx, c.NodeByID(id), "CLUSTER", "NODES")
		require.NoError(t, err)
		v, err := m.ToString()
		require.NoError(t, err)
		return v
	}
	require.NotContains(t, nodes(cc.ID), "-<-")
	require.Contains(t, nodes(a.ID), "["+strconv.Itoa(int(s))+"->-"+b.ID+"]")

	close(release)
	wg.Wait()
	require.NoError(t, err1)
	requireOwners(t, ctx, c, p1.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, rs, 20, 1)
}

// twoPlansOnOneSlot starts a 3-primary cluster A, B, C, writes 20 keys
// into A's first slot s, and returns the cluster, its layout, a router
// client, the slot tags, s as a range, and two plans moving s: A -> B and
// A -> C.
func twoPlansOnOneSlot(t *testing.T, ctx context.Context) (*clustertest.Cluster, *plan.Layout, *router.Client, []string, []slots.Range, *plan.Plan, *plan.Plan) {
	t.Helper()
	c := startCluster(t, clustertest.Options{})
	l := layoutOf(t, ctx, c)
	a, b, cc := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	s := a.Slots[0].Start
	rs := []slots.Range{{Start: s, End: s}}
	rc := newRouter(t, ctx, c)
	tags := slotTags()
	fillSlots(t, ctx, rc, tags, rs, 20, 1)
	p1 := handPlan(t, l, []plan.Move{{Source: a.ID, Target: b.ID, Ranges: plan.Ranges(rs)}})
	p2 := handPlan(t, l, []plan.Move{{Source: a.ID, Target: cc.ID, Ranges: plan.Ranges(rs)}})
	return c, l, rc, tags, rs, p1, p2
}

// TestConcurrentSameMove: two Applys of the same plan (A -> B, 20 keys,
// batches of 5), as when an operator runs it again while the first run
// is still going. X moves a first batch; then (its hook, no sleep) Y runs
// the same plan from start to end: it resumes X's open slot, drains the
// rest and assigns it to B. X, at its next batch boundary, finds the
// source no longer migrating the slot and B its owner: the move it was
// making is done, not taken over by another move. X must not fail with
// ErrConflict (there is nobody to give keys back to: B is our target);
// it finishes (SETSLOT NODE is idempotent) and every key is on B.
func TestConcurrentSameMove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, rc, tags, rs, p1, _ := twoPlansOnOneSlot(t, ctx)

	var once sync.Once
	var errY error
	oX := Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, KeysPerBatch: 5, SlotsPerRound: 1}
	oX.Observer = func(e Event) {
		if e.Kind == EventKeys {
			once.Do(func() {
				_, errY = Apply(ctx, p1, Options{Seeds: c.Addrs()[:1], Mode: ModeKeys, KeysPerBatch: 5, SlotsPerRound: 1})
			})
		}
	}
	_, errX := Apply(ctx, p1, oX)
	t.Logf("Y (run inside X): %v", errY)
	t.Logf("X: %v", errX)
	require.NoError(t, errY)
	require.NoError(t, errX, "the same move finished by another run is done, not a conflict")
	requireOwners(t, ctx, c, p1.Final())
	requireNoOpenSlot(t, ctx, c)
	requireSlots(t, ctx, c, rc, tags, rs, 20, 1)
}
