package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// This file is the one place where the demo applies a plan. Today it
// moves slots with clustertest's helpers (MoveSlotList: SETSLOT
// IMPORTING/MIGRATING, GETKEYSINSLOT + MIGRATE, SETSLOT NODE on every
// primary), move after move, batches in order. When the executor of
// package migrate (what "slotctl apply" runs) is available, applyPlan
// becomes a call to it, seeded with cl.Addrs(), its progress events
// turned into applyProgress: a change to this file only.

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
	// Took is how long the move took.
	Took time.Duration
}

// applyPlan applies p to the cluster: it refuses a plan that does not
// validate or whose Before is not the cluster's layout (as the primaries
// themselves report it), then moves every move's slots, batch after
// batch, and calls progress (when not nil) after each move. It stops at
// the first error, leaving the moves done so far in place.
func applyPlan(ctx context.Context, cl *clustertest.Cluster, p *plan.Plan, progress func(applyProgress)) error {
	if cl == nil || p == nil {
		return fmt.Errorf("applyPlan: nil cluster or plan")
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("applyPlan: %w", err)
	}
	for id, rs := range p.Before {
		n := cl.NodeByID(id)
		if n == nil {
			return fmt.Errorf("applyPlan: the plan names node %s, which the cluster does not have", shortID(id))
		}
		have, err := cl.SlotsOf(ctx, n)
		if err != nil {
			return fmt.Errorf("applyPlan: %w", err)
		}
		if want := expand(rs); !slices.Equal(have, want) {
			return fmt.Errorf("applyPlan: %s owns %d slots, the plan was made for %d: plan again", n.Addr, len(have), len(want))
		}
	}
	total := p.Summary.SlotsMoved
	done := 0
	for bi, batch := range p.Batches {
		for _, mi := range batch {
			m := p.Moves[mi]
			src, dst := cl.NodeByID(m.Source), cl.NodeByID(m.Target)
			if src == nil || dst == nil {
				return fmt.Errorf("applyPlan: move %d names unknown nodes %s -> %s", mi, shortID(m.Source), shortID(m.Target))
			}
			t := time.Now()
			if err := cl.MoveSlotList(ctx, src, dst, expand(m.Ranges)); err != nil {
				return fmt.Errorf("applyPlan: batch %d, %s -> %s: %w", bi+1, src.Addr, dst.Addr, err)
			}
			done += m.Slots
			if progress != nil {
				progress(applyProgress{
					Batch: bi + 1, Batches: len(p.Batches), Move: m, Source: src.Addr, Target: dst.Addr,
					Done: done, Total: total, Took: time.Since(t),
				})
			}
		}
	}
	return nil
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
