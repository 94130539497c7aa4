package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/loadgen"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

// heading starts an act.
func (d *demo) heading(h string) { fmt.Fprintf(d.out, "\n== %s ==\n", h) }

// printf prints a line of narration while a load may run: with a live
// line it first erases it.
func (d *demo) printf(format string, args ...any) {
	if d.cfg.Live {
		fmt.Fprint(d.out, "\r\x1b[K")
	}
	fmt.Fprintf(d.out, format, args...)
}

// printSummary prints one line per act.
func (d *demo) printSummary(w io.Writer) {
	r := d.res
	fmt.Fprintf(w, "\n== %s ==\n", headSummary)
	fmt.Fprintf(w, "cluster     %d primaries × %d replica(s) on 127.0.0.1, started in %s; demo ran %s\n", r.Primaries, r.Replicas, secs(r.Startup), secs(r.Elapsed))
	fmt.Fprintf(w, "keys        cross-slot MGET refused before sending: %v; hash-tagged MGET: %v\n", r.Keys.CrossSlotRejected, r.Keys.TaggedMGETOK)
	fmt.Fprintf(w, "traffic     %d ops at %.0f ops/s, %d errors; p50 %s, p99 %s, p999 %s\n",
		r.Traffic.Ops, r.Traffic.OpsPerS, r.Traffic.Errors, loadgen.Dur(r.Traffic.P50), loadgen.Dur(r.Traffic.P99), loadgen.Dur(r.Traffic.P999))
	rs := r.Reshard
	fmt.Fprintf(w, "resharding  %d slots moved under load in %s: %d ops, %d errors, %d MOVED + %d ASK followed, %d refreshes, %d keys wrong\n",
		rs.SlotsMoved, secs(rs.MoveTime), rs.Ops, rs.Errors, rs.Moved, rs.Asked, rs.Refreshes, rs.KeysWrong)
	if f := r.Failover; f != nil {
		fmt.Fprintf(w, "failover    promoted %s (client saw it after %s), last error %s after the kill; %d errors, %d of them unknown-outcome INCRs\n",
			f.Promoted, secs(f.ClientSaw), secs(f.LastError), f.Errors, f.IncrUnknown)
	} else {
		fmt.Fprintln(w, "failover    skipped")
	}
	p := r.Planning
	fmt.Fprintf(w, "planning    +1 node: plan moves %d slots (minimum %d) into %d ranges; redis-cli: %d slots, %d ranges\n",
		p.SlotsMoved, p.MinimumSlotsMove, p.RangesAfter, p.RedisCLIMoved, p.RedisCLIRanges)
	if a := p.Apply; a != nil {
		fmt.Fprintf(w, "rebalance   applied under load in %s: %d ops, %d errors, %d MOVED + %d ASK followed, layout as planned: %v, %d keys wrong\n",
			secs(a.ApplyTime), a.Ops, a.Errors, a.Moved, a.Asked, a.LayoutMatches, a.KeysWrong)
	} else {
		fmt.Fprintln(w, "rebalance   not applied")
	}
	fmt.Fprintf(w, "stopped     the cluster: %d redis-server processes, killed by pid\n", len(r.PIDs))
}

// printTopology prints the router's current snapshot, shard by shard.
func (d *demo) printTopology() {
	s := d.c.Topology().Current()
	un := s.Uncovered()
	covered := slots.Count - un.Count()
	fmt.Fprintf(d.out, "the router's topology snapshot (v%d): %d nodes, %d shards, %d/%d slots covered\n",
		s.Version(), len(s.Nodes()), len(s.Shards()), covered, slots.Count)
	loading := false
	for i, sh := range s.Shards() {
		var reps []string
		for _, r := range sh.Replicas {
			reps = append(reps, fmt.Sprintf("%s (%s)", r.Addr, r.Health))
		}
		if len(reps) == 0 {
			reps = []string{"none"}
		}
		fmt.Fprintf(d.out, "  shard %d: primary %s id %s, slots %s (%d); replicas %s\n",
			i+1, sh.Primary.Addr, shortID(sh.Primary.ID), rangesText(sh.Ranges), sh.SlotCount(), strings.Join(reps, ", "))
		for _, r := range sh.Replicas {
			loading = loading || r.Health == topology.HealthLoading
		}
	}
	if loading {
		fmt.Fprintln(d.out, "  (CLUSTER SHARDS calls a replica \"loading\" while its replication offset is 0: nothing has been written yet)")
	}
}

// addrOf returns the address of the node with id, or a short id.
func (d *demo) addrOf(id string) string {
	if n := d.cl.NodeByID(id); n != nil {
		return n.Addr
	}
	return shortID(id)
}

// errKind names the kind of an error the router surfaced.
func errKind(err error) string {
	var rerr *rueidis.RedisError
	switch {
	case errors.Is(err, router.ErrUnknownOutcome):
		return "unknown outcome (router.ErrUnknownOutcome: written, no reply, not resent)"
	case errors.Is(err, retry.ErrOpen):
		return "fail-fast: the node's circuit breaker is open (retry.ErrOpen: not sent)"
	case errors.Is(err, retry.ErrExhausted):
		return "retries exhausted (retry.ErrExhausted), last: " + retry.Classify(err).Kind.String()
	case errors.Is(err, router.ErrNoNode):
		return "no node serves the slot (router.ErrNoNode)"
	case errors.As(err, &rerr):
		word, _, _ := strings.Cut(rerr.Error(), " ")
		return "server error " + word
	default:
		return "other: " + retry.Classify(err).Kind.String()
	}
}

// layoutText describes a layout's primaries and replica count in one line.
func layoutText(l *plan.Layout) string {
	var parts []string
	reps := 0
	for _, n := range l.Nodes {
		if n.IsReplica() {
			reps++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d slots", shortID(n.ID), plan.Ranges(n.Slots).Len()))
	}
	return fmt.Sprintf("%s; %d replicas", strings.Join(parts, ", "), reps)
}

// rangesText writes slot ranges in redis-cli notation, the first few only.
func rangesText(rs []slots.Range) string {
	const maxShown = 4
	if len(rs) == 0 {
		return "none"
	}
	s := slots.FormatRanges(rs[:min(len(rs), maxShown)], ",")
	if len(rs) > maxShown {
		s += fmt.Sprintf(",+%d more", len(rs)-maxShown)
	}
	return s
}

// retriesText lists the router's retries per cause.
func retriesText(m map[retry.Kind]int64) string {
	if len(m) == 0 {
		return "no retries"
	}
	ks := make([]retry.Kind, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b retry.Kind) int { return cmp.Compare(a, b) })
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return "since start: " + strings.Join(parts, ", ")
}

// sortedKeys returns m's keys, largest count first.
func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	return ks
}

// shortID returns the first 8 characters of a node ID.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// pct returns n as a percentage of total (0 when total is 0).
func pct(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

// secs, ms and us format a duration for the narration.
func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
func ms(d time.Duration) string   { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string   { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

// planSummary is one line about p, then its notes (as slotctl plan
// prints it).
func planSummary(p *plan.Plan) string {
	s := p.Summary
	if s.Skipped {
		return fmt.Sprintf("%s: nothing to move (%s)", p.Kind, strings.Join(p.Notes, "; "))
	}
	out := fmt.Sprintf("%s: %d slots in %d moves, %d batches; ranges %d -> %d (max %d per node)",
		p.Kind, s.SlotsMoved, s.Moves, s.Batches, s.RangesBefore, s.RangesAfter, s.MaxRangesAfter)
	if s.Load != nil {
		out += fmt.Sprintf("; load deviation %.1f%% -> %.1f%% (tolerance %.1f%%)", 100*s.Load.MaxDeviationBefore, 100*s.Load.MaxDeviationAfter, 100*s.Load.Tolerance)
	}
	for _, n := range p.Notes {
		out += "\nnote: " + n
	}
	return out
}
