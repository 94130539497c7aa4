package migrate

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Restart names a replica to restart after a run (Result.Restart): on
// the Redis versions whose replicas may keep a stale "owner not claiming"
// mark on a slot their primary imported (7.0.13 to 7.0.15 and 7.2.0 to
// 7.2.3; fixed by redis/redis#12564 in 7.2.4), such a replica, promoted
// later while its old primary comes back with its old claim, drops that
// slot and its keys and leaves the cluster failing (cluster_state:fail)
// until an operator adds the slot back. The mark lives in memory only: a
// rolling restart of the importing primaries' replicas clears it.
type Restart struct {
	// Replica and Addr are the replica's node id and dialable address.
	Replica string `json:"replica"`
	Addr    string `json:"addr,omitempty"`
	// Primary is the id of the primary that imported slots.
	Primary string `json:"primary"`
	// Version is the primary's server version.
	Version string `json:"version"`
}

// staleNotClaiming reports whether a server of this kind and version has
// the bug Restart describes.
func staleNotClaiming(c Capability) bool {
	if c.Server != "" && c.Server != "redis" {
		return false // Valkey forked from 7.2.4: fixed
	}
	v := strings.Split(c.Version, ".")
	if len(v) < 3 {
		return false
	}
	var n [3]int
	for i := range n {
		x, err := strconv.Atoi(v[i])
		if err != nil {
			return false
		}
		n[i] = x
	}
	switch {
	case n[0] == 7 && n[1] == 0:
		return n[2] >= 13
	case n[0] == 7 && n[1] == 2:
		return n[2] <= 3
	}
	return false
}

// restarts lists the replicas to restart after the run (see Restart):
// those of the primaries that imported slots on an affected version. A
// primary whose version cannot be read within CommandTimeout is left out.
// After a stop (ctx done) the versions are still read, as openSlots
// reads the open slots, within stateReadTimeout in all: the slots
// imported before the stop left the mark all the same.
func (e *executor) restarts(ctx context.Context) []Restart {
	ids := e.importers.sorted()
	if len(ids) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), stateReadTimeout)
		defer cancel()
	}
	var out []Restart
	for _, id := range ids {
		p := e.nodes[id]
		if p == nil {
			continue
		}
		// Known already in ModeAuto; else one INFO and COMMAND INFO,
		// bounded: a node that does not answer now is left out.
		cctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
		c, err := e.capability(cctx, p)
		cancel()
		if err != nil || !staleNotClaiming(c) {
			continue
		}
		for _, n := range e.nodes {
			if n.primaryOf == id && !n.primary {
				out = append(out, Restart{Replica: n.id, Addr: n.addr, Primary: id, Version: c.Version})
			}
		}
	}
	slices.SortFunc(out, func(a, b Restart) int { return strings.Compare(a.Primary+a.Replica, b.Primary+b.Replica) })
	return out
}
