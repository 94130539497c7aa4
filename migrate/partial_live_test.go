package migrate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestPartialFailureSaysResume: a plan of two batches (two sources give
// to one target); once the first pair is done, the source of the second
// is killed, so the second pair fails before any step of its own (in
// ModeAuto, while asking the source what it offers). The error must say
// that part of the plan moved and how to go on, as a *StepError or open
// slots do; it matches ErrUnreachable.
func TestPartialFailureSaysResume(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := layoutOf(t, ctx, c)
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID,
		Take: map[string]int{l.Nodes[1].ID: 2, l.Nodes[2].ID: 2}})
	require.NoError(t, err)
	require.Len(t, p.Batches, 2)
	var killErr error
	killed := false
	res, err := Apply(ctx, p, Options{Seeds: []string{c.NodeByID(l.Nodes[0].ID).Addr}, Attempts: 2,
		Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
		Observer: func(e Event) {
			if e.Kind != EventPairDone || killed {
				return
			}
			killed = true
			for _, m := range p.Moves {
				if m.Source != e.Source {
					killErr = c.Kill(c.NodeByID(m.Source))
				}
			}
		}})
	require.NoError(t, killErr)
	require.True(t, killed)
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnreachable)
	require.Equal(t, 2, res.Slots)
	require.Empty(t, res.Open)
	require.Contains(t, err.Error(), "run the same plan again", "%v", err)
}
