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
