package migrate

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestTransientClosing: rueidis.ErrClosing on one of the executor's own
// clients means another move of the batch dropped (closed) the shared
// client of a node (the other primaries are shared by every pair of a
// batch): it is retried with a fresh client, not a failed step.
func TestTransientClosing(t *testing.T) {
	require.True(t, transient(context.Background(), rueidis.ErrClosing))
}

// TestPoolAndUnreachableLive, on one real cluster:
//
//   - pool: a move that saw a connection error on a client another move
//     already replaced drops only the client it used, never the fresh one
//     the other move is using (which then failed with ErrClosing);
//   - a killed target: Apply fails (after Options.Attempts) with an error
//     that matches ErrUnreachable, as the documentation of ErrUnreachable
//     promises ("a node the plan needs could not be reached after the
//     retries"), in ModeKeys (StepImporting) and ModeAuto (detection).
func TestPoolAndUnreachableLive(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	o, err := Options{Seeds: c.Addrs()[:1]}.withDefaults()
	require.NoError(t, err)
	p := newPool(o)
	addr := c.Addrs()[0]
	c1, err := p.get(addr)
	require.NoError(t, err)
	p.drop(addr, c1) // move A: a connection error on c1
	c2, err := p.get(addr)
	require.NoError(t, err) // move A dials again
	require.NotSame(t, c1, c2)
	p.drop(addr, c1) // move B: its own error on c1, seen later
	got, err := p.get(addr)
	require.NoError(t, err)
	require.True(t, got == c2, "the fresh client is still the pool's")
	require.NoError(t, c2.Do(ctx, c2.B().Ping().Build()).Error(), "the fresh client was not closed")
	p.close()

	l := layoutOf(t, ctx, c)
	rp, err := plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Take: map[string]int{l.Nodes[1].ID: 3}})
	require.NoError(t, err)
	target := c.NodeByID(l.Nodes[0].ID)
	seed := c.NodeByID(l.Nodes[1].ID)
	require.NoError(t, c.Kill(target))
	for _, mode := range []Mode{ModeKeys, ModeAuto} {
		res, err := Apply(ctx, rp, Options{Seeds: []string{seed.Addr}, Mode: mode, Attempts: 2,
			Backoff: retry.Backoff{Base: time.Millisecond, Cap: time.Millisecond}})
		require.Error(t, err, "mode %v", mode)
		require.ErrorIs(t, err, ErrUnreachable, "mode %v: %v", mode, err)
		require.Zero(t, res.Slots)
	}
}
