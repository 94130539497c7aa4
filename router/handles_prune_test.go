package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
)

// pruneSetup returns two fake nodes and a client (FailoverWait < 0) that
// has a node state for both, and a context for the test's calls.
func pruneSetup(t *testing.T) (context.Context, *fakeGroup, *router.Client) {
	g := newFakeGroup(t, 2)
	c := newFakeClient(t, g, router.Options{FailoverWait: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	for _, n := range g.nodes { // a state for every primary
		_, err := c.Do(ctx, "SET", keyOn(t, g, n), "v")
		require.NoError(t, err)
	}
	return ctx, g, c
}

// TestHandlesSkipPrunedState: the prune loop prunes by the snapshot it
// read at its tick, which can be older than the current one (a node that
// came back, or joined, in between): a node of the current snapshot then
// loses its pool state while the node table of the current snapshot
// still holds it. The breaker that counts (the pool's, which failures,
// Trip and the refresher's health feed) must be the one pick consults.
func TestHandlesSkipPrunedState(t *testing.T) {
	ctx, g, c := pruneSetup(t)
	f := g.nodes[0]
	k := keyOn(t, g, f)
	require.True(t, router.HandlesCurrent(c), "the table holds the node's state")

	router.PruneAddr(c, f.addr) // a prune by an older snapshot
	router.TripBreaker(c, f.addr)
	_, err := c.Do(ctx, "SET", k, "v")
	assert.ErrorIs(t, err, retry.ErrOpen, "pick consults the pool's breaker of the node, not a pruned one")
	assert.True(t, router.HandlesCurrent(c), "the table follows the pool's states again")
}

// TestPruneKeepsNodesOfTheCurrentSnapshot: the prune loop reads the
// snapshot at its tick and prunes after that; a node that the snapshot
// it read lacks but the current one has (it came back in between) keeps
// its pool state: its breaker's history, here a tripped breaker.
func TestPruneKeepsNodesOfTheCurrentSnapshot(t *testing.T) {
	ctx, g, c := pruneSetup(t)
	f := g.nodes[0]
	k := keyOn(t, g, f)
	router.TripBreaker(c, f.addr)
	require.NoError(t, router.PruneTickWithout(c, f.addr))
	_, err := c.Do(ctx, "SET", k, "v")
	assert.ErrorIs(t, err, retry.ErrOpen, "the node's state, and its tripped breaker, survived the prune")
	_, err = c.Do(ctx, "SET", keyOn(t, g, g.nodes[1]), "v")
	assert.NoError(t, err, "the other node is untouched")
}
