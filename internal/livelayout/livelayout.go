// Package livelayout reads a live cluster's slot layout the way slotctl
// does for "check -addr" and "plan ... -addr": CLUSTER NODES from a node,
// then from every node it lists, into slots/plan's CheckInput and Layout.
// slotctl and the demo share it.
package livelayout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

// MaxNodes bounds how many nodes one read asks.
const MaxNodes = 1000

// ErrNotSettled is wrapped by Read's error for a cluster whose check finds
// errors or open slots: plans are made for a settled cluster.
var ErrNotSettled = errors.New("the cluster is not settled")

// Dial opens a connection of its own to one node (the caller closes it).
type Dial func(addr string) (rueidis.Client, error)

// Gather asks addr for CLUSTER NODES, then every node it lists (and those
// they list), one at a time; nodes that do not answer are reported as
// unreachable. Only the first node's failure is an error.
func Gather(ctx context.Context, addr string, dial Dial) (plan.CheckInput, error) {
	var in plan.CheckInput
	if dial == nil {
		return in, errors.New("livelayout: nil Dial")
	}
	asked := map[string]bool{addr: true}
	queue := []string{addr}
	for len(queue) > 0 && len(asked) <= MaxNodes {
		a := queue[0]
		queue = queue[1:]
		text, err := clusterNodes(ctx, a, dial)
		var v topology.View
		if err == nil {
			v, err = topology.ParseNodes(text, a)
		}
		if err != nil {
			if a == addr {
				return in, fmt.Errorf("%s: %w", a, err)
			}
			in.Unreachable = append(in.Unreachable, fmt.Sprintf("%s (%v)", a, err))
			continue
		}
		in.Reports = append(in.Reports, ReportsOf(&v, a)...)
		for i := range v.Facts {
			f := &v.Facts[i]
			next := f.Addr
			if next == "" {
				next = f.Announced
			}
			if next == "" || f.Handshake || f.NoAddr || f.Fail || asked[next] {
				continue
			}
			asked[next] = true
			queue = append(queue, next)
		}
	}
	return in, nil
}

// Read reads the cluster's layout through addr: the nodes and slots as
// addr's CLUSTER NODES lists them (nodes flagged fail, handshake or noaddr
// left out). It refuses (ErrNotSettled) a cluster whose check finds errors
// or open slots.
func Read(ctx context.Context, addr string, dial Dial) (*plan.Layout, error) {
	in, err := Gather(ctx, addr, dial)
	if err != nil {
		return nil, err
	}
	rep, err := plan.Check(in)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, f := range rep.Findings {
		if f.Severity == plan.SeverityError || f.Code == plan.FindingOpenSlot {
			problems = append(problems, f.Message)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotSettled, strings.Join(problems, "; "))
	}
	if len(in.Reports) == 0 {
		return nil, fmt.Errorf("%s: no nodes reported", addr)
	}
	first := in.Reports[0].Reporter
	l := &plan.Layout{Version: 1}
	primary := map[string]bool{}
	var reps []plan.NodeReport
	for _, r := range in.Reports {
		if r.Reporter != first || hasAny(r.Flags, "fail", "handshake", "noaddr") {
			continue
		}
		reps = append(reps, r)
		if !hasAny(r.Flags, "slave") {
			primary[r.ID] = true
		}
	}
	for _, r := range reps {
		n := plan.Node{ID: r.ID, Addr: r.Addr, Host: r.Host}
		if primary[r.ID] {
			n.Slots = r.Slots
		} else {
			if !primary[r.Primary] {
				continue
			}
			n.Role, n.Primary = plan.RoleReplica, r.Primary
		}
		l.Nodes = append(l.Nodes, n)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// ReportsOf turns one node's parsed CLUSTER NODES reply into node reports;
// the reporter is the node flagged myself, else fallback.
func ReportsOf(v *topology.View, fallback string) []plan.NodeReport {
	reporter := v.MyID
	if reporter == "" {
		reporter = fallback
	}
	out := make([]plan.NodeReport, 0, len(v.Facts))
	for i := range v.Facts {
		f := &v.Facts[i]
		r := plan.NodeReport{
			Reporter: reporter,
			ID:       f.ID,
			Addr:     f.Announced,
			Host:     f.IP,
			Flags:    f.Flags,
			Slots:    plan.Ranges(f.Ranges),
		}
		if f.Replica {
			r.Primary = f.PrimaryID
		}
		for _, m := range f.Migrating {
			r.Migrating = append(r.Migrating, plan.SlotPeer{Slot: m.Slot, Node: m.NodeID})
		}
		for _, m := range f.Importing {
			r.Importing = append(r.Importing, plan.SlotPeer{Slot: m.Slot, Node: m.NodeID})
		}
		out = append(out, r)
	}
	return out
}

func hasAny(have []string, want ...string) bool {
	return slices.ContainsFunc(have, func(h string) bool { return slices.Contains(want, h) })
}

// clusterNodes sends CLUSTER NODES to one node over its own connection.
func clusterNodes(ctx context.Context, addr string, dial Dial) (string, error) {
	c, err := dial(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.Do(ctx, c.B().Arbitrary("CLUSTER", "NODES").Build()).ToString()
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "txt:"), nil
}
