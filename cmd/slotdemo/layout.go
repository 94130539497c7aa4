package main

// The live layout is read as "slotctl plan -addr" reads it. This is a
// copy of cmd/slotctl's gatherLive/liveLayout (check.go, plan.go), which
// a package main cannot share; it belongs in a library package (the
// executor of package migrate needs it too, to check a plan's Before).

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

// maxLayoutNodes bounds how many nodes a live layout read asks.
const maxLayoutNodes = 1000

// liveLayout reads a live cluster's layout through addr: the nodes and
// slots as addr's CLUSTER NODES lists them (nodes flagged fail, handshake
// or noaddr left out). It refuses a cluster whose check finds errors or
// open slots: plans are made for a settled cluster.
func liveLayout(ctx context.Context, addr string, timeout time.Duration) (*plan.Layout, error) {
	in, err := gatherLive(ctx, addr, timeout)
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
		return nil, fmt.Errorf("the cluster is not settled: %s", strings.Join(problems, "; "))
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

func hasAny(have []string, want ...string) bool {
	return slices.ContainsFunc(have, func(h string) bool { return slices.Contains(want, h) })
}

// gatherLive asks addr for CLUSTER NODES, then every node it lists (and
// those they list), one at a time; nodes that do not answer are reported
// as unreachable. Only the first node's failure is an error.
func gatherLive(ctx context.Context, addr string, timeout time.Duration) (plan.CheckInput, error) {
	var in plan.CheckInput
	asked := map[string]bool{addr: true}
	queue := []string{addr}
	for len(queue) > 0 && len(asked) <= maxLayoutNodes {
		a := queue[0]
		queue = queue[1:]
		text, err := clusterNodes(ctx, a, timeout)
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
		in.Reports = append(in.Reports, reportsOf(&v, a)...)
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

// reportsOf turns one node's parsed CLUSTER NODES reply into node reports;
// the reporter is the node flagged myself, else fallback.
func reportsOf(v *topology.View, fallback string) []plan.NodeReport {
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

// clusterNodes sends CLUSTER NODES to one node over a connection of its
// own (a rueidis single-node client without cache or retries).
func clusterNodes(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Dialer:            net.Dialer{Timeout: timeout},
	})
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
