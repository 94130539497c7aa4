package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slotrouter/slotrouter/internal/loadgen"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// actPlanning reads the live layout into slots/plan, adds an empty
// primary, plans the rebalance and applies it for real (applyPlan) while
// the load runs through the router, then checks every key and the
// layout.
func (d *demo) actPlanning(ctx context.Context) error {
	d.heading(headPlanning)
	addr := d.cl.Addrs()[0]
	lctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	l0, err := liveLayout(lctx, addr, demoLiveTimeout)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the live layout: %w", err)
	}
	fmt.Fprintf(d.out, "live layout read through %s (as slotctl plan -addr does): %s\n", addr, layoutText(l0))
	t := time.Now()
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	added, err := d.cl.AddNode(actx, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("adding a node: %w", err)
	}
	d.notePIDs()
	d.res.Planning.AddedNode = added.Addr
	fmt.Fprintf(d.out, "added an empty primary %s (id %s) with CLUSTER MEET in %s\n", added.Addr, shortID(added.ID), secs(time.Since(t)))
	lctx, cancel = context.WithTimeout(ctx, demoLiveTimeout)
	l1, err := liveLayout(lctx, addr, demoLiveTimeout)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the live layout: %w", err)
	}
	p, err := plan.Rebalance(l1, plan.Options{})
	if err != nil {
		return fmt.Errorf("planning: %w", err)
	}
	pr := &d.res.Planning
	pr.SlotsMoved, pr.RangesAfter, pr.Batches = p.Summary.SlotsMoved, p.Summary.RangesAfter, p.Summary.Batches
	pr.MinimumSlotsMove = minimumMoves(p)
	pr.RedisCLIMoved, pr.RedisCLIRanges = plan.RedisCLIBaseline(l1)
	for _, line := range strings.Split(planSummary(p), "\n") {
		fmt.Fprintln(d.out, "plan.Rebalance: "+line)
	}
	for bi, b := range p.Batches {
		for _, mi := range b {
			m := p.Moves[mi]
			fmt.Fprintf(d.out, "  batch %d: %d slots %s -> %s (%s)\n", bi+1, m.Slots, d.addrOf(m.Source), d.addrOf(m.Target), rangesText(m.Ranges))
		}
	}
	fmt.Fprintf(d.out, "the fewest slots any rebalance can move here: %d; the plan moves %d\n", pr.MinimumSlotsMove, pr.SlotsMoved)
	same := ""
	if pr.RedisCLIMoved == pr.SlotsMoved && pr.RedisCLIRanges == pr.RangesAfter {
		same = ": the same as the plan on this layout"
	}
	fmt.Fprintf(d.out, "redis-cli --cluster rebalance --cluster-use-empty-masters (its algorithm, simulated) would move %d slots and leave %d ranges (plan: %d)%s\n",
		pr.RedisCLIMoved, pr.RedisCLIRanges, pr.RangesAfter, same)
	if d.cfg.PlanOnly || len(p.Batches) == 0 {
		fmt.Fprintln(d.out, "not applied (-plan-only, or nothing to move)")
		return nil
	}
	return d.applyUnderLoad(ctx, p)
}

// applyUnderLoad applies p with applyPlan while the load runs, then
// reads every key back and compares the client's map and the live layout
// with the plan's final layout.
func (d *demo) applyUnderLoad(ctx context.Context, p *plan.Plan) error {
	m0, a0, _ := d.ctr.Total()
	l, err := d.startLoad(ctx, workload("mixed-60-40"), nil)
	if err != nil {
		return err
	}
	sleepCtx(ctx, min(d.cfg.Duration/5, 500*time.Millisecond))
	d.printf("applying the plan while %d goroutines run GET/SET through the router\n", d.cfg.Workers)
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	t := time.Now()
	res, err := applyPlan(actx, d.cl, p, func(e applyProgress) {
		d.printf("  batch %d/%d: %d slots %s -> %s done at %s (%d/%d)\n",
			e.Batch, e.Batches, e.Move.Slots, e.Source, e.Target, secs(e.Took), e.Done, e.Total)
	})
	if err == nil && res != nil {
		d.printf("  the executor (package migrate, as slotctl apply) moved %d slots and %d keys in %s\n", res.Slots, res.Keys, secs(res.Elapsed))
	}
	cancel()
	applyTime := time.Since(t)
	if err == nil {
		sleepCtx(ctx, 300*time.Millisecond) // traffic on the final layout
	}
	s, lerr := l.stop()
	if err != nil {
		return fmt.Errorf("applying the plan: %w", err)
	}
	if lerr != nil {
		return lerr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m1, a1, _ := d.ctr.Total()
	ar := &applyResult{
		loadResult: loadResultOf(&s), SlotsApplied: p.Summary.SlotsMoved, ApplyTime: applyTime,
		Moved: m1 - m0, Asked: a1 - a0,
	}
	d.res.Planning.Apply = ar
	for _, m := range p.Moves {
		ar.ClientAgrees += d.clientAgrees(expand(m.Ranges), m.Target)
	}
	vctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	v, err := l.Verify(vctx, loadgen.FromRouter(d.c))
	if err == nil {
		var after *plan.Layout
		after, err = liveLayout(vctx, d.cl.Addrs()[0], demoLiveTimeout)
		if err == nil {
			ar.LayoutMatches = layoutMatches(after, p.Final())
		}
	}
	cancel()
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	ar.KeysVerified, ar.KeysWrong = v.Checked, v.Wrong
	fmt.Fprintf(d.out, "applied %d slots in %s; %d operations (%.0f ops/s), %d errors surfaced to the caller; Do latency p50 %s, p99 %s, p999 %s\n",
		ar.SlotsApplied, secs(applyTime), ar.Ops, ar.OpsPerS, ar.Errors, loadgen.Dur(ar.P50), loadgen.Dur(ar.P99), loadgen.Dur(ar.P999))
	if ar.FirstErrorText != "" {
		fmt.Fprintf(d.out, "  first error: %s\n", ar.FirstErrorText)
	}
	fmt.Fprintf(d.out, "the router followed %d MOVED and %d ASK redirects; its map routes %d/%d moved slots to their new owner\n",
		ar.Moved, ar.Asked, ar.ClientAgrees, ar.SlotsApplied)
	fmt.Fprintf(d.out, "the live layout is the plan's final layout: %v; read back %d keys with their last acknowledged value: %d wrong or missing\n",
		ar.LayoutMatches, ar.KeysVerified, ar.KeysWrong)
	return nil
}
