package bench_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

const (
	// reshardSlots is how many slots TestReshardCompare moves.
	reshardSlots = 500
	// reshardKeys is how many keys each client works on, all in slots
	// that move.
	reshardKeys = 120
	// reshardWorkers is the number of goroutines per client.
	reshardWorkers = 3
	// reshardMaxLoad bounds how long the load runs, whatever the move.
	reshardMaxLoad = 30 * time.Second
	// reshardMaxOps bounds each worker's loop.
	reshardMaxOps = 200000
)

// TestReshardCompare moves 500 slots between two primaries of the shared
// cluster (clustertest.MoveSlots: SETSLOT IMPORTING/MIGRATING, MIGRATE,
// SETSLOT NODE, from its own connections) while every client, at the same
// time, runs 3 goroutines of alternating SET and GET on keys of the slots
// that move, and counts the errors each client surfaced to its caller.
// slotrouter must surface none; the peers' counts are reported.
func TestReshardCompare(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ps), 2)
	from, to := ps[0], ps[1]
	fromSlots, err := cl.SlotsOf(ctx, from)
	require.NoError(t, err)
	if len(fromSlots) < reshardSlots+1 {
		from, to = to, from
		fromSlots, err = cl.SlotsOf(ctx, from)
		require.NoError(t, err)
	}
	require.Greater(t, len(fromSlots), reshardSlots)
	moving := make(map[slots.Slot]bool, reshardSlots)
	for _, s := range fromSlots[:reshardSlots] { // MoveSlots moves the lowest
		moving[slots.Slot(s)] = true
	}

	var ctr router.Counters
	clients := make([]client, len(clientNames))
	for i, name := range clientNames {
		if name == "slotrouter" {
			rc, err := router.New(ctx, router.Options{Seeds: cl.Addrs(), Observer: &ctr})
			require.NoError(t, err)
			t.Cleanup(rc.Close)
			clients[i] = srClient{c: rc}
		} else {
			clients[i] = mustClient(t, name, cl.Addrs())
		}
	}
	keys := make([][]string, len(clientNames))
	for i, name := range clientNames {
		for j := 0; len(keys[i]) < reshardKeys && j < 1_000_000; j++ {
			k := fmt.Sprintf("reshard:%s:%d", name, j)
			if moving[slots.Of(k)] {
				keys[i] = append(keys[i], k)
			}
		}
		require.Len(t, keys[i], reshardKeys)
		require.NoError(t, setAll(ctx, clients[i], keys[i]), name)
	}

	loadCtx, stopLoad := context.WithTimeout(ctx, reshardMaxLoad)
	defer stopLoad()
	stats := make([]opStats, len(clientNames))
	var wg sync.WaitGroup
	for i := range clientNames {
		for g := range reshardWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ks := keys[i]
				for n := 0; n < reshardMaxOps && loadCtx.Err() == nil; n++ {
					k := ks[(g*len(ks)/reshardWorkers+n/2)%len(ks)]
					stats[i].record(doOp(clients[i], n%2 == 0, k))
				}
			}()
		}
	}
	start := time.Now()
	moved, moveErr := cl.MoveSlots(ctx, from, to, reshardSlots)
	took := time.Since(start)
	stopLoad()
	wg.Wait()
	require.NoError(t, moveErr)
	require.Len(t, moved, reshardSlots)

	m, a, r := ctr.Total()
	t.Logf("moved %d slots %s -> %s in %v; slotrouter saw MOVED %d, ASK %d, retries %d",
		len(moved), from, to, took.Round(time.Millisecond), m, a, r)
	t.Logf("%-11s %8s %7s  %s", "client", "ops", "errors", "first errors")
	for i, name := range clientNames {
		t.Logf("%-11s %8d %7d  %s", name, stats[i].ops.Load(), stats[i].errs.Load(), stats[i].sampleText())
		assert.Greater(t, stats[i].ops.Load(), int64(reshardWorkers), "%s ran", name)
	}
	assert.Zero(t, stats[0].errs.Load(), "slotrouter surfaces no error while slots move")
	assert.Greater(t, m+a, int64(0), "the move happened behind slotrouter's back")
}
