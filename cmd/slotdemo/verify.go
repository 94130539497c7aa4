package main

import (
	"slices"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// Verification beyond the load's own read-back (loadgen.Load.Verify):
// whether the client's map and the live layout agree with what was moved.

// clientAgrees counts the slots in list that the router's current
// topology snapshot routes to the primary with id owner.
func (d *demo) clientAgrees(list []uint16, owner string) int {
	snap := d.c.Topology().Current()
	n := 0
	for _, s := range list {
		if p, ok := snap.Primary(slots.Slot(s)); ok && p.ID == owner {
			n++
		}
	}
	return n
}

// layoutMatches reports whether the primaries of l own exactly the slots
// a gives them (primaries a does not name must own nothing).
func layoutMatches(l *plan.Layout, a plan.Assignment) bool {
	seen := 0
	for _, n := range l.Nodes {
		if n.IsReplica() {
			continue
		}
		want, ok := a[n.ID]
		if ok {
			seen++
		}
		if !slices.Equal(expand(n.Slots), expand(want)) {
			return false
		}
	}
	return seen == len(a)
}

// minimumMoves is the fewest slots any plan reaching p's targets moves:
// sum over primaries of max(0, current - target).
func minimumMoves(p *plan.Plan) int {
	total := 0
	for id, rs := range p.Before {
		if t, ok := p.Targets[id]; ok {
			total += max(0, rs.Len()-t)
		}
	}
	return total
}
