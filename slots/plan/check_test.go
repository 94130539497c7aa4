package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// healthyReports: 3 primaries on 3 hosts, each with one replica on the
// next host (a ring), every node reporting every node.
func healthyReports() []plan.NodeReport {
	rs := createRanges(3)
	type nd struct {
		id, addr, primary string
		slots             plan.Ranges
	}
	nodes := []nd{
		{"A", "10.0.0.1:7000", "", plan.Ranges{rs[0]}},
		{"B", "10.0.0.2:7000", "", plan.Ranges{rs[1]}},
		{"C", "10.0.0.3:7000", "", plan.Ranges{rs[2]}},
		{"a", "10.0.0.2:7001", "A", nil},
		{"b", "10.0.0.3:7001", "B", nil},
		{"c", "10.0.0.1:7001", "C", nil},
	}
	var out []plan.NodeReport
	for _, rep := range nodes {
		for _, n := range nodes {
			r := plan.NodeReport{Reporter: rep.id, ID: n.id, Addr: n.addr, Primary: n.primary, Slots: n.slots, Flags: []string{"master"}}
			if n.primary != "" {
				r.Flags = []string{"slave"}
			}
			if n.id == rep.id {
				r.Flags = append([]string{"myself"}, r.Flags...)
			}
			out = append(out, r)
		}
	}
	return out
}

func codes(r *plan.CheckReport) map[string]plan.Severity {
	m := map[string]plan.Severity{}
	for _, f := range r.Findings {
		m[f.Code] = f.Severity
	}
	return m
}

func TestCheckHealthy(t *testing.T) {
	r, err := plan.Check(plan.CheckInput{Reports: healthyReports()})
	require.NoError(t, err)
	assert.True(t, r.OK)
	assert.Empty(t, r.Findings, "%+v", r.Findings)
	assert.Equal(t, 6, r.Nodes)
	assert.Equal(t, 3, r.Primaries)
	assert.Equal(t, slots.Count, r.Covered)
	assert.Len(t, r.Reporters, 6)
}

func edit(reps []plan.NodeReport, f func(r *plan.NodeReport)) []plan.NodeReport {
	for i := range reps {
		f(&reps[i])
	}
	return reps
}

func TestCheckOpenSlot(t *testing.T) {
	reps := edit(healthyReports(), func(r *plan.NodeReport) {
		if r.Reporter == "A" && r.ID == "A" {
			r.Migrating = []plan.SlotPeer{{Slot: 7, Node: "B"}}
		}
		if r.Reporter == "B" && r.ID == "B" {
			r.Importing = []plan.SlotPeer{{Slot: 7, Node: "A"}}
		}
	})
	r, err := plan.Check(plan.CheckInput{Reports: reps})
	require.NoError(t, err)
	require.Len(t, r.Findings, 1)
	f := r.Findings[0]
	assert.Equal(t, plan.FindingOpenSlot, f.Code)
	assert.Equal(t, plan.SeverityWarning, f.Severity)
	assert.Equal(t, "7", f.Slots[0].String())
	assert.Equal(t, []string{"A", "B"}, f.Nodes)
	// Half open: only the importing side.
	reps = edit(healthyReports(), func(r *plan.NodeReport) {
		if r.Reporter == "B" && r.ID == "B" {
			r.Importing = []plan.SlotPeer{{Slot: 7, Node: "A"}}
		}
	})
	r, err = plan.Check(plan.CheckInput{Reports: reps})
	require.NoError(t, err)
	assert.False(t, r.OK)
	assert.Equal(t, plan.SeverityError, codes(r)[plan.FindingOpenSlot])
	assert.Contains(t, r.Findings[0].Message, "not migrating")
}

func TestCheckUncoveredAndOwners(t *testing.T) {
	reps := edit(healthyReports(), func(r *plan.NodeReport) {
		if r.ID == "C" {
			r.Slots = plan.Ranges{{Start: 10923, End: 16000}}
		}
	})
	r, err := plan.Check(plan.CheckInput{Reports: reps})
	require.NoError(t, err)
	assert.False(t, r.OK)
	require.Equal(t, plan.SeverityError, codes(r)[plan.FindingUncovered])
	assert.Equal(t, "16001-16383", r.Findings[0].Slots[0].String())
	assert.Equal(t, 16001, r.Covered)

	// Two nodes claiming slot 0 for themselves (B also says it owns 0).
	reps = edit(healthyReports(), func(r *plan.NodeReport) {
		if r.ID == "B" && r.Reporter == "B" {
			r.Slots = append(plan.Ranges{{Start: 0, End: 0}}, r.Slots...)
		}
	})
	r, err = plan.Check(plan.CheckInput{Reports: reps})
	require.NoError(t, err)
	c := codes(r)
	assert.Equal(t, plan.SeverityError, c[plan.FindingMultipleOwners])
	assert.Equal(t, plan.SeverityError, c[plan.FindingDisagreement])
	var dis plan.Finding
	for _, f := range r.Findings {
		if f.Code == plan.FindingDisagreement {
			dis = f
		}
	}
	assert.Equal(t, []string{"B"}, dis.Reporters)
	assert.Equal(t, "0", dis.Slots[0].String())
}

func TestCheckFlagsAndAffinity(t *testing.T) {
	reps := edit(healthyReports(), func(r *plan.NodeReport) {
		if r.ID == "b" && r.Reporter == "A" {
			r.Flags = append(r.Flags, "fail?")
		}
		if r.ID == "c" {
			r.Addr = "10.0.0.3:7001" // on C's host
		}
	})
	r, err := plan.Check(plan.CheckInput{Reports: reps, Unreachable: []string{"10.0.0.9:7000"}})
	require.NoError(t, err)
	c := codes(r)
	assert.Equal(t, plan.SeverityWarning, c[plan.FindingNodeSuspected])
	assert.Equal(t, plan.SeverityWarning, c[plan.ViolationReplicaSameHost])
	assert.Equal(t, plan.SeverityWarning, c[plan.FindingUnreachable])
	assert.True(t, r.OK)
	assert.Equal(t, 3, r.Warnings)
}

func TestCheckInvalid(t *testing.T) {
	_, err := plan.Check(plan.CheckInput{Reports: []plan.NodeReport{{Reporter: "x"}}})
	assert.ErrorIs(t, err, plan.ErrInvalidReport)
	_, err = plan.Check(plan.CheckInput{Reports: []plan.NodeReport{{ID: "x"}}})
	assert.ErrorIs(t, err, plan.ErrInvalidReport)
	_, err = plan.Check(plan.CheckInput{Reports: []plan.NodeReport{{ID: "x", Reporter: "x", Slots: plan.Ranges{{Start: 5, End: 2}}}}})
	assert.ErrorIs(t, err, plan.ErrInvalidReport)
	r, err := plan.Check(plan.CheckInput{})
	require.NoError(t, err)
	assert.True(t, r.OK)
}
