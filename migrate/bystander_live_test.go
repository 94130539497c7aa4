package migrate

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestApplyFrozenBystander: a plan moves 6 slots holding keys from A to B
// (3 rounds of 2 slots); a third primary C, which only needs to be told
// the new owner (SETSLOT NODE to the other primaries), is frozen (SIGSTOP)
// just before the first such step. The run still succeeds: the observer
// sees EventOthersFailed for C (its try timed out) and, in the later
// rounds, C skipped; Result.Untold names C. Once C is resumed, the
// cluster agrees (WaitHealthy: C learns the owner by gossip) and every
// key is readable, on one primary.
func TestApplyFrozenBystander(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	a, b, bystander := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	s0 := a.Slots[0].Start
	rs := []slots.Range{{Start: s0, End: s0 + 5}}
	rc := newRouter(t, ctx, c)
	tags := slotTags()
	fillSlots(t, ctx, rc, tags, rs, 10, 1)
	p := handPlan(t, l, []plan.Move{{Source: a.ID, Target: b.ID, Ranges: plan.Ranges(rs)}})

	frozen := c.NodeByID(bystander.ID)
	var mu sync.Mutex
	paused := false
	var pauseErr error
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if paused {
			_ = c.Resume(frozen)
		}
	})
	var failed []Event
	o := Options{Seeds: []string{c.NodeByID(a.ID).Addr}, Mode: ModeKeys, SlotsPerRound: 2, KeysPerBatch: 4,
		CommandTimeout: 250 * time.Millisecond, Attempts: 2,
		Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		Observer: func(e Event) {
			if e.Kind == EventOthersFailed {
				failed = append(failed, e)
			}
		}}
	o.beforeStep = func(e Event) {
		if e.Step != StepNodeOthers {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !paused && pauseErr == nil {
			pauseErr = c.Pause(frozen)
			paused = pauseErr == nil
		}
	}
	res, err := Apply(ctx, p, o)
	require.NoError(t, pauseErr)
	require.NoError(t, err, "a frozen bystander must not fail the run")
	require.Equal(t, 6, res.Slots)
	require.Equal(t, []string{bystander.ID}, res.Untold)
	require.NotEmpty(t, failed)
	for _, e := range failed {
		require.Equal(t, bystander.ID, e.Node)
		require.Error(t, e.Err)
	}
	require.ErrorIs(t, failed[0].Err, ErrUnreachable)

	mu.Lock()
	require.NoError(t, c.Resume(frozen))
	paused = false
	mu.Unlock()
	hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
	defer hcancel()
	require.NoError(t, c.WaitHealthy(hctx), "the cluster must agree once the bystander is back")
	requireOwners(t, ctx, c, p.Final())
	requireSlots(t, ctx, c, rc, tags, rs, 10, 1)
}

// TestApplyBystanderBackAsSource: a primary B that could not be told the
// new owner in the first batch (frozen then, resumed right after its
// EventOthersFailed) is the source of a move of the second batch. Being
// left out of the later checks as a bystander must not leave it out as
// the source: the second move reads B's state like any other and the run
// succeeds.
func TestApplyBystanderBackAsSource(t *testing.T) {
	c := startCluster(t, clustertest.Options{Primaries: 4, NodeTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	a, b, cc, d := l.Nodes[0], l.Nodes[1], l.Nodes[2], l.Nodes[3]
	ra := []slots.Range{{Start: a.Slots[0].Start, End: a.Slots[0].Start + 1}}
	rb := []slots.Range{{Start: b.Slots[0].Start, End: b.Slots[0].Start + 1}}
	rc := newRouter(t, ctx, c)
	tags := slotTags()
	fillSlots(t, ctx, rc, tags, ra, 5, 1)
	fillSlots(t, ctx, rc, tags, rb, 5, 1)
	p := handPlan(t, l, []plan.Move{
		{Source: a.ID, Target: cc.ID, Ranges: plan.Ranges(ra)},
		{Source: b.ID, Target: d.ID, Ranges: plan.Ranges(rb)},
	})
	p.Batches = [][]int{{0}, {1}}
	require.NoError(t, p.Validate())

	frozen := c.NodeByID(b.ID)
	var mu sync.Mutex
	paused, done := false, false
	var pauseErr, resumeErr error
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if paused {
			_ = c.Resume(frozen)
		}
	})
	o := Options{Seeds: []string{c.NodeByID(a.ID).Addr}, Mode: ModeKeys,
		CommandTimeout: 250 * time.Millisecond, Attempts: 2,
		Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		Observer: func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == EventOthersFailed && e.Node == b.ID && paused {
				resumeErr = c.Resume(frozen)
				paused = false
			}
		}}
	o.beforeStep = func(e Event) {
		if e.Step != StepNodeOthers {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !done && pauseErr == nil {
			done = true
			pauseErr = c.Pause(frozen)
			paused = pauseErr == nil
		}
	}
	res, err := Apply(ctx, p, o)
	require.NoError(t, pauseErr)
	require.NoError(t, resumeErr)
	require.NoError(t, err, "B, back, is the second move's source")
	require.Equal(t, []string{b.ID}, res.Untold)
	require.Equal(t, 4, res.Slots)
	hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
	defer hcancel()
	require.NoError(t, c.WaitHealthy(hctx))
	requireOwners(t, ctx, c, p.Final())
	requireSlots(t, ctx, c, rc, tags, ra, 5, 1)
	requireSlots(t, ctx, c, rc, tags, rb, 5, 1)
}
