package migrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestStopWithCause: a caller's context cancelled with a cause of its own
// (signal.NotifyContext does that: "interrupt signal received") while
// Apply waits between two tries of reading the cluster is a stop
// (ErrStopped and context.Canceled), not "another move failed": whether a
// move was stopped by a sibling is decided by the batch's own
// cancellation, not by whatever cause the caller's context carries. The
// seed is a closed loopback port.
func TestStopWithCause(t *testing.T) {
	all := plan.Ranges{{Start: 0, End: slots.Max}}
	p := &plan.Plan{Version: plan.FormatVersion, Kind: plan.KindRebalance,
		Before: plan.Assignment{"a": all}, Moves: []plan.Move{}, Batches: [][]int{},
		FinalLayout: plan.Assignment{"a": all}}
	require.NoError(t, p.Validate())
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	res, err := Apply(ctx, p, Options{
		Seeds:   []string{"127.0.0.1:1"},
		Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		Observer: func(e Event) {
			if e.Kind == EventRetry {
				cancel(errors.New("interrupt signal received"))
			}
		},
	})
	require.NotNil(t, res)
	require.ErrorIs(t, err, ErrStopped)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, errSiblingFailed)
	require.NotContains(t, err.Error(), "another move failed")
}

// TestStopErrSibling: a batch cancelled by runBatch because a move failed
// stops the others with errSiblingFailed; a plain cancel, a deadline, or
// a caller's cause give ErrStopped.
func TestStopErrSibling(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(siblingFailed{errors.New("ERR boom")})
	require.ErrorIs(t, stopErr(ctx), errSiblingFailed)

	parent, pcancel := context.WithCancelCause(context.Background())
	bctx, bcancel := context.WithCancelCause(parent)
	defer bcancel(nil)
	pcancel(errors.New("terminated signal received"))
	require.ErrorIs(t, stopErr(bctx), ErrStopped)
	require.ErrorIs(t, stopErr(bctx), context.Canceled)

	dctx, dcancel := context.WithTimeout(context.Background(), 0)
	defer dcancel()
	require.ErrorIs(t, stopErr(dctx), context.DeadlineExceeded)
}

// TestOptionsBackoffNegative: a negative Backoff.Base or Cap is refused
// with ErrInvalidOptions naming the field (retry.Backoff.Check), like the
// other negative fields, not silently replaced by the default.
func TestOptionsBackoffNegative(t *testing.T) {
	for _, b := range []retry.Backoff{{Base: -time.Second}, {Cap: -time.Second}} {
		_, err := Options{Seeds: []string{"127.0.0.1:1"}, Backoff: b}.withDefaults()
		require.ErrorIs(t, err, ErrInvalidOptions, "%+v", b)
		require.ErrorContains(t, err, "Backoff.", "%+v", b)
	}
}

// TestOptionsSeedNotHostPort: a seed that is not "host:port" is refused at
// once with ErrInvalidOptions naming Seeds, not dialled Attempts times
// with backoff (about half a minute by default) before ErrUnreachable.
func TestOptionsSeedNotHostPort(t *testing.T) {
	for _, s := range []string{"nonsense", "127.0.0.1", ":", "127.0.0.1:"} {
		_, err := Options{Seeds: []string{"127.0.0.1:1", s}}.withDefaults()
		require.ErrorIs(t, err, ErrInvalidOptions, "%q", s)
		require.ErrorContains(t, err, "Seeds", "%q", s)
	}
	_, err := Options{Seeds: []string{"127.0.0.1:1", "[::1]:7000", "localhost:6379"}}.withDefaults()
	require.NoError(t, err)
}

// TestVerifyTwoClaimants: the final check refuses a slot of the plan that
// another reached primary still serves by its own account, even when the
// target wins by config epoch (two Applys of different plans at once
// leave that: see TestConcurrentDifferentPlans, build tag audit3); a
// plain finished state passes.
func TestVerifyTwoClaimants(t *testing.T) {
	all := plan.Ranges{{Start: 0, End: slots.Max}}
	p := &plan.Plan{Version: plan.FormatVersion, Kind: plan.KindReshard,
		Before:      plan.Assignment{"a": all, "b": {}, "c": {}},
		Moves:       []plan.Move{{Source: "a", Target: "b", Ranges: plan.Ranges{{Start: 0, End: 0}}, Slots: 1}},
		Batches:     [][]int{{0}},
		FinalLayout: plan.Assignment{"a": {{Start: 1, End: slots.Max}}, "b": {{Start: 0, End: 0}}, "c": {}},
		Summary:     plan.Summary{SlotsMoved: 1}}
	require.NoError(t, p.Validate())
	state := func(cClaims bool) *clusterState {
		cs := &clusterState{nodes: map[string]*nodeState{}}
		for i, id := range []string{"a", "b", "c"} {
			n := &nodeState{id: id, addr: "127.0.0.1:1", reached: true, primary: true, epoch: uint64(i + 1),
				migrating: map[slots.Slot]string{}, importing: map[slots.Slot]string{}}
			cs.nodes[id] = n
		}
		cs.nodes["a"].own.AddRange(slots.Range{Start: 1, End: slots.Max})
		cs.nodes["b"].own.Add(0)
		if cClaims {
			cs.nodes["c"].own.Add(0)
			cs.nodes["b"].epoch = 9 // b wins by epoch
		}
		for s := range cs.owner {
			cs.owner[s] = "a"
		}
		cs.owner[0] = "b"
		return cs
	}
	e := &executor{plan: p}
	require.NoError(t, e.verifyState(state(false)))
	err := e.verifyState(state(true))
	require.ErrorIs(t, err, ErrNotFinished)
	require.ErrorContains(t, err, "slot 0 is claimed by c as well")
}
