package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

// ErrInvalidReport means a CheckInput is malformed (a report without a node
// ID or without a reporter).
var ErrInvalidReport = errors.New("plan: invalid node report")

// SlotPeer is one open-slot marker: the slot and the node on the other
// side of the migration.
type SlotPeer struct {
	Slot slots.Slot `json:"slot"`
	Node string     `json:"node"`
}

// NodeReport is what one node (Reporter) says about one node (ID), as in
// one line of the reporter's CLUSTER NODES reply. Several reporters may
// describe the same node differently; Check compares them.
type NodeReport struct {
	// Reporter is the ID of the node whose reply this comes from.
	Reporter string `json:"reporter"`
	ID       string `json:"id"`
	Addr     string `json:"addr,omitempty"`
	// Host labels the machine; empty means the host part of Addr.
	Host string `json:"host,omitempty"`
	Zone string `json:"zone,omitempty"`
	// Flags as listed: "myself", "master", "slave", "fail?", "fail",
	// "handshake", "noaddr", "nofailover".
	Flags []string `json:"flags,omitempty"`
	// Primary is the primary's ID, for replicas.
	Primary string `json:"primary,omitempty"`
	// Slots are the ranges the node serves, per the reporter.
	Slots Ranges `json:"slots,omitempty"`
	// Migrating ("[slot->-id]") and Importing ("[slot-<-id]") markers; a
	// node lists them only for itself.
	Migrating []SlotPeer `json:"migrating,omitempty"`
	Importing []SlotPeer `json:"importing,omitempty"`
}

func (r *NodeReport) has(flag string) bool { return slices.Contains(r.Flags, flag) }

func (r *NodeReport) isReplica() bool {
	return r.has("slave") || r.has("replica") || (r.Primary != "" && r.Primary != "-" && !r.has("master"))
}

// CheckInput is the neutral input of Check: every node report gathered
// from a live cluster or from saved CLUSTER NODES output.
type CheckInput struct {
	Reports []NodeReport `json:"reports"`
	// Unreachable lists nodes (ID or address) that could not be asked;
	// each becomes a warning.
	Unreachable []string `json:"unreachable,omitempty"`
}

// Severity ranks findings.
type Severity string

// Severities, most severe first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Finding codes.
const (
	FindingOpenSlot       = "open-slot"
	FindingUncovered      = "uncovered"
	FindingMultipleOwners = "multiple-owners"
	FindingDisagreement   = "disagreement"
	FindingNodeFailed     = "node-failed"
	FindingNodeSuspected  = "node-suspected"
	FindingNodeHandshake  = "node-handshake"
	FindingUnreachable    = "unreachable"
	FindingOrphanReplica  = "orphan-replica"
	FindingNoReplica      = "no-replica"
	// Anti-affinity findings reuse the Violation kinds of ScoreLayout.
)

// Finding is one problem found by Check.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Nodes    []string `json:"nodes,omitempty"`
	Slots    Ranges   `json:"slots,omitempty"`
	// Reporters are the nodes whose replies show the problem.
	Reporters []string `json:"reporters,omitempty"`
}

// CheckFormatVersion is the version of the CheckReport document. It is
// separate from FormatVersion (plans): the report did not change when
// plans went to version 2.
const CheckFormatVersion = 1

// CheckReport is the outcome of Check.
type CheckReport struct {
	// Version is CheckFormatVersion.
	Version int `json:"version"`
	// OK is true when there is no error-level finding.
	OK        bool     `json:"ok"`
	Errors    int      `json:"errors"`
	Warnings  int      `json:"warnings"`
	Reporters []string `json:"reporters"`
	Nodes     int      `json:"nodes"`
	Primaries int      `json:"primaries"`
	// Covered is the number of slots that some reporter assigns.
	Covered  int       `json:"covered_slots"`
	Findings []Finding `json:"findings"`
}

// Check analyses node reports: open slots (migrating/importing, and
// whether both sides agree), slots no reporter assigns, slots with several
// owners (in one reporter's view, or claimed by two nodes for themselves),
// reporters whose views of slot ownership differ, failed/suspected nodes,
// unreachable nodes, replicas without a known primary, primaries without
// replicas, and anti-affinity violations (as ScoreLayout scores them).
// Findings are sorted by severity, code and first node; the output is
// deterministic.
func Check(in CheckInput) (*CheckReport, error) {
	for i, r := range in.Reports {
		if r.ID == "" {
			return nil, fmt.Errorf("%w: report #%d has no node id", ErrInvalidReport, i)
		}
		if r.Reporter == "" {
			return nil, fmt.Errorf("%w: report #%d (node %s) has no reporter", ErrInvalidReport, i, r.ID)
		}
		for _, rg := range r.Slots {
			if !rg.Valid() {
				return nil, fmt.Errorf("%w: report #%d (node %s): invalid range %d-%d", ErrInvalidReport, i, r.ID, rg.Start, rg.End)
			}
		}
		for _, m := range append(slices.Clone(r.Migrating), r.Importing...) {
			if !m.Slot.Valid() {
				return nil, fmt.Errorf("%w: report #%d (node %s): invalid open slot %d", ErrInvalidReport, i, r.ID, m.Slot)
			}
		}
	}
	rep := &CheckReport{Version: CheckFormatVersion, Findings: []Finding{}}
	add := func(f Finding) { rep.Findings = append(rep.Findings, f) }

	// Interned node IDs.
	idNum := map[string]int{}
	var ids []string
	intern := func(id string) int {
		if n, ok := idNum[id]; ok {
			return n
		}
		idNum[id] = len(ids)
		ids = append(ids, id)
		return len(ids) - 1
	}
	byReporter := map[string][]*NodeReport{}
	for i := range in.Reports {
		r := &in.Reports[i]
		intern(r.ID)
		byReporter[r.Reporter] = append(byReporter[r.Reporter], r)
	}
	for rr := range byReporter {
		rep.Reporters = append(rep.Reporters, rr)
	}
	slices.Sort(rep.Reporters)

	// Per reporter: owner per slot (-1 none, -2 several).
	const several = -2
	views := make([][]int32, len(rep.Reporters))
	for vi, rr := range rep.Reporters {
		v := make([]int32, slots.Count)
		for s := range v {
			v[s] = noOwner
		}
		var multi slots.Set
		multiNodes := map[string]bool{}
		for _, r := range byReporter[rr] {
			if r.isReplica() {
				continue
			}
			n := int32(intern(r.ID))
			for _, rg := range r.Slots {
				for s := int(rg.Start); s <= int(rg.End); s++ {
					switch v[s] {
					case noOwner:
						v[s] = n
					case n:
					default:
						if v[s] >= 0 {
							multiNodes[ids[v[s]]] = true
						}
						multiNodes[r.ID] = true
						v[s] = several
						multi.Add(slots.Slot(s))
					}
				}
			}
		}
		if !multi.Empty() {
			add(Finding{Severity: SeverityError, Code: FindingMultipleOwners, Slots: multi.Ranges(), Nodes: sortedKeys(multiNodes), Reporters: []string{rr},
				Message: fmt.Sprintf("%s sees %d slots (%s) served by more than one primary", rr, multi.Count(), shortRanges(multi.Ranges()))})
		}
		views[vi] = v
	}
	// Nodes claiming the same slot for themselves.
	claims := make([]int32, slots.Count)
	for s := range claims {
		claims[s] = noOwner
	}
	var clash slots.Set
	clashNodes := map[string]bool{}
	for _, rr := range rep.Reporters {
		for _, r := range byReporter[rr] {
			if r.Reporter != r.ID || r.isReplica() {
				continue
			}
			n := int32(idNum[r.ID])
			for _, rg := range r.Slots {
				for s := int(rg.Start); s <= int(rg.End); s++ {
					if c := claims[s]; c != noOwner && c != n {
						clash.Add(slots.Slot(s))
						clashNodes[ids[c]] = true
						clashNodes[r.ID] = true
					}
					claims[s] = n
				}
			}
		}
	}
	if !clash.Empty() {
		add(Finding{Severity: SeverityError, Code: FindingMultipleOwners, Slots: clash.Ranges(), Nodes: sortedKeys(clashNodes),
			Message: fmt.Sprintf("%d slots (%s) are claimed by more than one node for itself", clash.Count(), shortRanges(clash.Ranges()))})
	}
	// Disagreement: group reporters by identical views.
	if len(views) > 1 {
		group := make([]int, len(views))
		var reps []int
		for i := range views {
			group[i] = -1
			for gi, k := range reps {
				if slices.Equal(views[i], views[k]) {
					group[i] = gi
					break
				}
			}
			if group[i] < 0 {
				group[i] = len(reps)
				reps = append(reps, i)
			}
		}
		if len(reps) > 1 {
			size := make([]int, len(reps))
			for _, g := range group {
				size[g]++
			}
			major := 0
			for g := range reps {
				if size[g] > size[major] {
					major = g
				}
			}
			var majority []string
			for i, g := range group {
				if g == major {
					majority = append(majority, rep.Reporters[i])
				}
			}
			for g, k := range reps {
				if g == major {
					continue
				}
				var who []string
				for i, gg := range group {
					if gg == g {
						who = append(who, rep.Reporters[i])
					}
				}
				var diff slots.Set
				for s := range slots.Count {
					if views[k][s] != views[reps[major]][s] {
						diff.Add(slots.Slot(s))
					}
				}
				add(Finding{Severity: SeverityError, Code: FindingDisagreement, Slots: diff.Ranges(), Reporters: who,
					Message: fmt.Sprintf("%s disagree(s) with %s about the owners of %d slots (%s)",
						strings.Join(who, ","), strings.Join(majority, ","), diff.Count(), shortRanges(diff.Ranges()))})
			}
		}
	}
	// Coverage over all views.
	var covered slots.Set
	for _, v := range views {
		for s, o := range v {
			if o != noOwner {
				covered.Add(slots.Slot(s))
			}
		}
	}
	rep.Covered = covered.Count()
	if rep.Covered < slots.Count && len(views) > 0 {
		un := covered.Complement()
		add(Finding{Severity: SeverityError, Code: FindingUncovered, Slots: un.Ranges(), Reporters: rep.Reporters,
			Message: fmt.Sprintf("%d slots (%s) are served by no node", un.Count(), shortRanges(un.Ranges()))})
	}
	// Open slots.
	type mig struct {
		slot     slots.Slot
		from, to string
	}
	migrating, importing := map[mig]bool{}, map[mig]bool{}
	for _, r := range in.Reports {
		for _, m := range r.Migrating {
			migrating[mig{m.Slot, r.ID, m.Node}] = true
		}
		for _, m := range r.Importing {
			importing[mig{m.Slot, m.Node, r.ID}] = true
		}
	}
	open := map[mig]bool{}
	for m := range migrating {
		open[m] = true
	}
	for m := range importing {
		open[m] = true
	}
	opens := make([]mig, 0, len(open))
	for m := range open {
		opens = append(opens, m)
	}
	slices.SortFunc(opens, func(a, b mig) int {
		return cmp.Or(cmp.Compare(a.slot, b.slot), strings.Compare(a.from, b.from), strings.Compare(a.to, b.to))
	})
	for _, m := range opens {
		f := Finding{Severity: SeverityWarning, Code: FindingOpenSlot, Slots: Ranges{{Start: m.slot, End: m.slot}}, Nodes: []string{m.from, m.to}}
		switch {
		case migrating[m] && importing[m]:
			f.Message = fmt.Sprintf("slot %d is open: migrating from %s to %s (a migration in progress, or one left unfinished)", m.slot, m.from, m.to)
		case migrating[m]:
			f.Severity = SeverityError
			f.Message = fmt.Sprintf("slot %d is open: %s is migrating it to %s, but %s is not importing it", m.slot, m.from, m.to, m.to)
		default:
			f.Severity = SeverityError
			f.Message = fmt.Sprintf("slot %d is open: %s is importing it from %s, but %s is not migrating it", m.slot, m.to, m.from, m.from)
		}
		add(f)
	}
	// Node flags, per node with the reporters that say so.
	type flagged struct {
		code string
		sev  Severity
		what string
	}
	checks := []struct {
		flag string
		flagged
	}{
		{"fail", flagged{FindingNodeFailed, SeverityError, "marked failed (fail)"}},
		{"fail?", flagged{FindingNodeSuspected, SeverityWarning, "suspected failing (fail?)"}},
		{"handshake", flagged{FindingNodeHandshake, SeverityWarning, "still in handshake"}},
		{"noaddr", flagged{FindingNodeHandshake, SeverityWarning, "without a known address (noaddr)"}},
	}
	nodeIDs := slices.Clone(ids)
	slices.Sort(nodeIDs)
	// flaggedBy[c][id] lists the reporters that see node id with checks[c]'s
	// flag, in reporter order (one pass over the reports).
	flaggedBy := make([]map[string][]string, len(checks))
	for ci := range checks {
		flaggedBy[ci] = map[string][]string{}
	}
	for _, rr := range rep.Reporters {
		for _, r := range byReporter[rr] {
			for ci, c := range checks {
				if r.has(c.flag) {
					flaggedBy[ci][r.ID] = append(flaggedBy[ci][r.ID], rr)
				}
			}
		}
	}
	for ci, c := range checks {
		for _, id := range nodeIDs {
			who := flaggedBy[ci][id]
			if len(who) > 0 {
				add(Finding{Severity: c.sev, Code: c.code, Nodes: []string{id}, Reporters: who,
					Message: fmt.Sprintf("node %s is %s according to %s", id, c.what, strings.Join(who, ","))})
			}
		}
	}
	for _, u := range in.Unreachable {
		add(Finding{Severity: SeverityWarning, Code: FindingUnreachable, Nodes: []string{u}, Message: fmt.Sprintf("node %s could not be asked", u)})
	}
	// Roles: each node as it reports itself, else as the first reporter
	// (in ID order) says.
	best := map[string]*NodeReport{}
	for _, rr := range rep.Reporters {
		for _, r := range byReporter[rr] {
			if cur, ok := best[r.ID]; !ok || (r.Reporter == r.ID && cur.Reporter != cur.ID) {
				best[r.ID] = r
			}
		}
	}
	l := &Layout{}
	replicas := map[string]int{}
	for _, id := range nodeIDs {
		r := best[id]
		if r.isReplica() {
			if _, ok := best[r.Primary]; !ok || best[r.Primary].isReplica() {
				add(Finding{Severity: SeverityWarning, Code: FindingOrphanReplica, Nodes: []string{id},
					Message: fmt.Sprintf("replica %s follows %q, which is not a known primary", id, r.Primary)})
				continue
			}
			replicas[r.Primary]++
		}
	}
	for _, id := range nodeIDs {
		r := best[id]
		if r.has("fail") || r.has("handshake") || r.has("noaddr") {
			continue
		}
		n := Node{ID: id, Addr: r.Addr, Host: r.Host, Zone: r.Zone}
		if r.isReplica() {
			p, ok := best[r.Primary]
			if !ok || p.isReplica() || p.has("fail") || p.has("handshake") || p.has("noaddr") {
				continue
			}
			n.Role, n.Primary = RoleReplica, r.Primary
		} else {
			rep.Primaries++
			if len(r.Slots) > 0 && replicas[id] == 0 {
				add(Finding{Severity: SeverityInfo, Code: FindingNoReplica, Nodes: []string{id},
					Message: fmt.Sprintf("primary %s serves slots but has no replica", id)})
			}
		}
		l.Nodes = append(l.Nodes, n)
	}
	rep.Nodes = len(nodeIDs)
	if len(l.Nodes) > 0 && rep.Primaries > 0 {
		if sc, err := ScoreLayout(l); err == nil {
			for _, v := range sc.Violations {
				sev := SeverityWarning
				if v.Kind == ViolationReplicasSameHost || v.Kind == ViolationMutualPair {
					sev = SeverityInfo
				}
				add(Finding{Severity: sev, Code: v.Kind, Nodes: v.Nodes, Message: v.Explanation})
			}
		}
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Severity.rank(), b.Severity.rank()), strings.Compare(a.Code, b.Code), strings.Compare(first(a.Nodes), first(b.Nodes)))
	})
	for _, f := range rep.Findings {
		switch f.Severity {
		case SeverityError:
			rep.Errors++
		case SeverityWarning:
			rep.Warnings++
		}
	}
	rep.OK = rep.Errors == 0
	if rep.Reporters == nil {
		rep.Reporters = []string{}
	}
	return rep, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// shortRanges formats at most 8 ranges.
func shortRanges(rs []slots.Range) string {
	s := slots.FormatRanges(rs[:min(len(rs), 8)], ",")
	if len(rs) > 8 {
		s += ",…"
	}
	return s
}
