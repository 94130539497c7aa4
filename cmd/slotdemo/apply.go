package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/migrate"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// This file is the one place where the demo applies a plan: with the
// executor of package migrate, what "slotctl apply" runs (resumable from
// the cluster's own state, disjoint pairs in parallel, SETSLOT NODE on
// the target first), seeded with the cluster's addresses. Its progress
// events are folded into one applyProgress per move of the plan.

// applyProgress reports one move of a plan done.
type applyProgress struct {
	// Batch is the 1-based batch of the move, of Batches.
	Batch, Batches int
	// Move is the move done.
	Move plan.Move
	// Source and Target are the addresses of the move's nodes.
	Source, Target string
	// Done counts the plan's slots moved so far, of Total.
	Done, Total int
	// Took is how long the move took, from the start of the apply.
	Took time.Duration
}

// applyPlan applies p to the cluster with migrate.Apply: a plan that
// does not validate, or whose Before no longer matches the cluster (but
// for the slots this plan already moved), is refused; progress (when not
// nil) is called when each move's slots have all reached their target.
// Running the same plan again after it finished moves nothing. It
// returns what Apply did.
func applyPlan(ctx context.Context, cl *clustertest.Cluster, p *plan.Plan, progress func(applyProgress)) (*migrate.Result, error) {
	if cl == nil || p == nil {
		return nil, fmt.Errorf("applyPlan: nil cluster or plan")
	}
	type pair struct{ src, dst string }
	moveOf := map[pair]int{}
	batchOf := map[int]int{}
	for bi, batch := range p.Batches {
		for _, mi := range batch {
			m := p.Moves[mi]
			moveOf[pair{m.Source, m.Target}] = mi
			batchOf[mi] = bi
		}
	}
	addrOf := func(id string) string {
		if n := cl.NodeByID(id); n != nil {
			return n.Addr
		}
		return shortID(id)
	}
	var mu sync.Mutex
	movedOf := map[int]int{}
	done, start := 0, time.Now()
	observe := func(e migrate.Event) {
		if e.Kind != migrate.EventSlotsDone || progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		mi, ok := moveOf[pair{e.Source, e.Target}]
		if !ok {
			return
		}
		movedOf[mi] += e.Slots
		done += e.Slots
		if m := p.Moves[mi]; movedOf[mi] == m.Slots {
			progress(applyProgress{
				Batch: batchOf[mi] + 1, Batches: len(p.Batches), Move: m,
				Source: addrOf(m.Source), Target: addrOf(m.Target),
				Done: done, Total: p.Summary.SlotsMoved, Took: time.Since(start),
			})
		}
	}
	res, err := migrate.Apply(ctx, p, migrate.Options{Seeds: cl.Addrs(), Observer: observe})
	if err != nil {
		return res, fmt.Errorf("applyPlan: %w", err)
	}
	return res, nil
}

// expand lists the slots of rs, ascending.
func expand(rs plan.Ranges) []uint16 {
	out := make([]uint16, 0, rs.Len())
	for _, r := range rs {
		for s := int(r.Start); s <= int(r.End); s++ {
			out = append(out, uint16(s))
		}
	}
	slices.Sort(out)
	return out
}
