package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/livelayout"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

const planUsage = `usage: slotctl plan SUBCOMMAND [flags]

Reads a layout (JSON, see "go doc slots/plan") from -layout FILE or stdin,
or from a live cluster with -addr HOST:PORT (not both), writes the plan as
JSON on stdout and a short summary on stderr. SIGINT or SIGTERM stops
planning at once (exit 1, "stopped: ... signal received").

Subcommands:
  rebalance [-threshold F]             balance slots by weight (weight 0 drains)
  add ID...                            add empty primaries and rebalance
  remove ID...                         drain primaries and rebalance the rest
  reshard -to ID [-from ID,...] -slots N   move exactly N slots to ID
  reshard -to ID -take ID=N,...        move exactly N slots from each given source
  load [-loads FILE] [-tolerance F] [-range-cost N] [-metric M]
                                       balance per-slot loads instead of counts; with
                                       -addr and no -loads, loads are read live, -metric
                                       keys (CLUSTER COUNTKEYSINSLOT) or cpu-usec,
                                       network-bytes-in, network-bytes-out (CLUSTER SLOT-STATS)
  place -primaries N                   choose primaries and replicas by host/zone
  score                                anti-affinity score of the layout's roles
  repair                               CLUSTER REPLICATE changes that fix violations
  validate PLANFILE                    check a plan file (exit 1 when invalid)
`

// runPlan implements "slotctl plan".
func runPlan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, planUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("plan "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, planUsage)
		fs.PrintDefaults()
	}
	layoutFile := fs.String("layout", "-", "layout JSON file (\"-\": stdin)")
	addr := fs.String("addr", "", "read the layout from a live cluster through this node (host:port) instead of -layout")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for reading a live cluster")
	conn := addConnFlags(fs)
	var (
		threshold = new(float64)
		to        = new(string)
		from      = new(string)
		nslots    = new(int)
		loadsFile = new(string)
		tolerance = new(float64)
		rangeCost = new(int)
		primaries = new(int)
		metric    = new(string)
		take      = new(string)
	)
	switch sub {
	case "rebalance":
		fs.Float64Var(threshold, "threshold", 0, "skip when every primary is within this fraction of its target (0.02 = 2%; 0: any imbalance)")
	case "reshard":
		fs.StringVar(to, "to", "", "target primary ID")
		fs.StringVar(from, "from", "", "comma-separated source primary IDs (default: every other primary)")
		fs.IntVar(nslots, "slots", 0, "number of slots to move")
		fs.StringVar(take, "take", "", "exact slots per source, ID=N,ID=N (instead of -from/-slots)")
	case "load":
		fs.StringVar(loadsFile, "loads", "", "JSON object of per-slot loads {\"slot or range\": load} (default: the layout's \"loads\")")
		fs.Float64Var(tolerance, "tolerance", 0, fmt.Sprintf("allowed deviation from the fair share (default %g)", plan.DefaultTolerance))
		fs.IntVar(rangeCost, "range-cost", 0, fmt.Sprintf("slots worth moving to save one slot range (default %d; 1 favours moving few slots)", plan.DefaultRangeCost))
		fs.StringVar(metric, "metric", "keys", "live load metric with -addr: keys, cpu-usec, network-bytes-in, network-bytes-out")
	case "place":
		fs.IntVar(primaries, "primaries", 0, "number of primaries")
	case "add", "remove", "score", "repair", "validate":
	default:
		fmt.Fprintf(stderr, "slotctl plan: unknown subcommand %q\n\n%s", sub, planUsage)
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if msg := planFlagErrors(fs, sub, *addr, *loadsFile, *metric, *threshold, *tolerance, *rangeCost); msg != "" {
		fmt.Fprintf(stderr, "slotctl plan %s: %s\n", sub, msg)
		return 2
	}
	fail := func(err error) int {
		err = stoppedErr(ctx, err)
		fmt.Fprintf(stderr, "slotctl plan %s: %v\n", sub, err)
		return 1
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	if sub == "validate" {
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: slotctl plan validate PLANFILE")
			return 2
		}
		data, err := readInputContext(ctx, fs.Arg(0), stdin)
		if err != nil {
			return fail(err)
		}
		p, err := plan.ParsePlan(data)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "valid plan: %s\n", planSummary(p))
		return 0
	}
	var l *plan.Layout
	var err error
	if *addr != "" {
		d, cerr := conn.config(*timeout)
		if cerr != nil {
			return fail(cerr)
		}
		lctx, cancel := context.WithTimeout(ctx, *timeout)
		l, err = liveLayoutWith(lctx, *addr, d)
		if err == nil && sub == "load" && *loadsFile == "" {
			l.Loads, err = liveLoads(lctx, l, *metric, d)
		}
		cancel()
		if err != nil {
			return fail(errors.New(d.redact(err.Error())))
		}
	} else {
		data, err := readInputContext(ctx, *layoutFile, stdin)
		if err != nil {
			return fail(err)
		}
		if l, err = plan.ParseLayout(data); err != nil {
			return fail(err)
		}
	}
	var out any
	var summary string
	switch sub {
	case "rebalance", "add", "remove", "reshard", "load":
		var p *plan.Plan
		switch sub {
		case "rebalance":
			if fs.NArg() > 0 {
				fmt.Fprintln(stderr, "slotctl plan rebalance: unexpected arguments", fs.Args())
				return 2
			}
			p, err = plan.RebalanceContext(ctx, l, plan.Options{Threshold: *threshold})
		case "add":
			if fs.NArg() == 0 {
				fmt.Fprintln(stderr, "usage: slotctl plan add [-layout FILE] ID...")
				return 2
			}
			var nodes []plan.Node
			for _, id := range fs.Args() {
				nodes = append(nodes, plan.Node{ID: id})
			}
			p, err = plan.AddNodesContext(ctx, l, nodes)
		case "remove":
			if fs.NArg() == 0 {
				fmt.Fprintln(stderr, "usage: slotctl plan remove [-layout FILE] ID...")
				return 2
			}
			p, err = plan.RemoveNodesContext(ctx, l, fs.Args())
		case "reshard":
			if *to == "" || (*nslots <= 0 && *take == "") {
				fmt.Fprintln(stderr, "usage: slotctl plan reshard [-layout FILE] -to ID {[-from ID,...] -slots N | -take ID=N,...}")
				return 2
			}
			req := plan.ReshardRequest{Target: *to, Slots: *nslots}
			if *from != "" {
				req.Sources = strings.Split(*from, ",")
			}
			if *take != "" {
				req.Take = map[string]int{}
				for _, kv := range strings.Split(*take, ",") {
					id, n, ok := strings.Cut(kv, "=")
					v, err := strconv.Atoi(n)
					if !ok || err != nil || id == "" {
						fmt.Fprintf(stderr, "slotctl plan reshard: -take %q: want ID=N,ID=N\n", *take)
						return 2
					}
					req.Take[id] += v
				}
			}
			p, err = plan.ReshardContext(ctx, l, req)
		case "load":
			if *loadsFile != "" {
				b, rerr := readInputContext(ctx, *loadsFile, stdin)
				if rerr != nil {
					return fail(rerr)
				}
				var ld plan.Loads
				if jerr := json.Unmarshal(b, &ld); jerr != nil {
					return fail(fmt.Errorf("%w: %s: %v", plan.ErrInvalidLoads, *loadsFile, jerr))
				}
				l.Loads = ld
			}
			p, err = plan.RebalanceLoadContext(ctx, l, plan.LoadOptions{Tolerance: *tolerance, RangeCost: *rangeCost})
		}
		if err != nil {
			return fail(err)
		}
		out, summary = p, planSummary(p)
	case "place":
		if *primaries <= 0 {
			fmt.Fprintln(stderr, "usage: slotctl plan place [-layout FILE] -primaries N")
			return 2
		}
		pl, perr := plan.PlaceContext(ctx, plan.PlaceRequest{Nodes: l.Nodes, Primaries: *primaries})
		if perr != nil {
			return fail(perr)
		}
		out = pl
		summary = fmt.Sprintf("primaries %s; score %d%s", strings.Join(pl.Primaries, ","), pl.Score.Total, violations(pl.Score))
	case "score":
		sc, serr := plan.ScoreLayout(l)
		if serr != nil {
			return fail(serr)
		}
		out = sc
		summary = fmt.Sprintf("score %d%s", sc.Total, violations(sc))
	case "repair":
		rp, rerr := plan.RepairContext(ctx, l)
		if rerr != nil {
			return fail(rerr)
		}
		out = rp
		var b strings.Builder
		fmt.Fprintf(&b, "score %d -> %d with %d CLUSTER REPLICATE change(s)", rp.Before.Total, rp.After.Total, len(rp.Changes))
		for _, c := range rp.Changes {
			fmt.Fprintf(&b, "\n  on %s: CLUSTER REPLICATE %s (was %s)", c.Replica, c.Primary, c.From)
		}
		summary = b.String()
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := writeContext(ctx, stdout, append(b, '\n')); err != nil {
		return fail(err)
	}
	fmt.Fprintln(stderr, summary)
	return 0
}

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

func violations(sc plan.Score) string {
	var b strings.Builder
	for _, v := range sc.Violations {
		fmt.Fprintf(&b, "\n  [%d] %s", v.Weight, v.Explanation)
	}
	return b.String()
}

// planFlagErrors returns what is wrong with the flags of "plan sub", or
// "": flags that would be silently ignored, and values the planners would
// refuse later, are refused up front with a message naming the flag.
func planFlagErrors(fs *flag.FlagSet, sub, addr, loadsFile, metric string, threshold, tolerance float64, rangeCost int) string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case sub == "validate" && (set["layout"] || set["addr"]):
		return "-layout and -addr do not apply: validate reads the PLANFILE argument"
	case set["layout"] && addr != "":
		return "-layout and -addr are exclusive: -addr reads the layout from the cluster"
	case threshold < 0 || math.IsNaN(threshold) || math.IsInf(threshold, 0):
		return fmt.Sprintf("-threshold %v: must be a number >= 0", threshold)
	case tolerance < 0 || math.IsNaN(tolerance) || math.IsInf(tolerance, 0):
		return fmt.Sprintf("-tolerance %v: must be a number >= 0", tolerance)
	case rangeCost < 0:
		return fmt.Sprintf("-range-cost %d: must be >= 0", rangeCost)
	case sub == "load" && !slicesContains(liveMetrics(), metric):
		return fmt.Sprintf("-metric %q: unknown metric (want %s)", metric, strings.Join(liveMetrics(), ", "))
	case set["metric"] && (addr == "" || loadsFile != ""):
		return "-metric applies to loads read live only (-addr without -loads)"
	}
	return ""
}

// liveMetrics returns the values of "plan load -metric".
func liveMetrics() []string {
	return []string{"keys", "cpu-usec", "network-bytes-in", "network-bytes-out"}
}

// writeContext writes data to w, giving up when ctx ends (a pipe whose
// reader stalls blocks a write for ever); like readInputContext, the write
// goes on in a goroutine.
func writeContext(ctx context.Context, w io.Writer, data []byte) error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("writing: panic: %v", p)
			}
			done <- err
		}()
		_, err = w.Write(data)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stoppedErr says "stopped" and why when err is ctx's own end (SIGINT or
// SIGTERM, or the caller's ctx), and returns err unchanged otherwise.
func stoppedErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	return err
}

// readInputContext is readInput that gives up when ctx ends (a terminal or
// pipe on stdin can block for ever): the read goes on in a goroutine,
// which ends with the read (in slotctl, the process ends first).
func readInputContext(ctx context.Context, name string, stdin io.Reader) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("reading %s: panic: %v", name, p)}
			}
			done <- r
		}()
		r.data, r.err = readInput(name, stdin)
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" || name == "" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// liveLayoutWith reads a live cluster's layout through addr
// (livelayout.Read) over connections configured by d.
func liveLayoutWith(ctx context.Context, addr string, d dialConfig) (*plan.Layout, error) {
	l, err := livelayout.Read(ctx, addr, d.dial)
	if errors.Is(err, livelayout.ErrNotSettled) {
		err = fmt.Errorf("%w (run slotctl check)", err)
	}
	return l, err
}

func slicesContains(have []string, want ...string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// liveLoads reads per-slot loads from each primary of l: key counts with
// CLUSTER COUNTKEYSINSLOT (pipelined), or a CLUSTER SLOT-STATS metric
// (Redis 8 / Valkey 8; older servers answer with an error, passed on).
func liveLoads(ctx context.Context, l *plan.Layout, metric string, d dialConfig) (plan.Loads, error) {
	if !slicesContains(liveMetrics(), metric) {
		return nil, fmt.Errorf("%w: unknown metric %q (%s)", plan.ErrInvalidLoads, metric, strings.Join(liveMetrics(), ", "))
	}
	per := make([]float64, slots.Count)
	for _, n := range l.Nodes {
		if n.IsReplica() || len(n.Slots) == 0 {
			continue
		}
		if err := nodeLoads(ctx, n, metric, d, per); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", n.ID, n.Addr, err)
		}
	}
	return plan.LoadsOf(per), nil
}

func nodeLoads(ctx context.Context, n plan.Node, metric string, d dialConfig, per []float64) error {
	c, err := dialNodeWith(n.Addr, d)
	if err != nil {
		return err
	}
	defer c.Close()
	if metric == "keys" {
		var cmds rueidis.Commands
		var which []slots.Slot
		for _, r := range n.Slots {
			for s := int(r.Start); s <= int(r.End); s++ {
				cmds = append(cmds, c.B().ClusterCountkeysinslot().Slot(int64(s)).Build())
				which = append(which, slots.Slot(s))
			}
		}
		for i, res := range c.DoMulti(ctx, cmds...) {
			v, err := res.AsInt64()
			if err != nil {
				return fmt.Errorf("CLUSTER COUNTKEYSINSLOT %d: %w", which[i], err)
			}
			per[which[i]] = float64(v)
		}
		return nil
	}
	msg, err := c.Do(ctx, c.B().Arbitrary("CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", strconv.Itoa(int(slots.Max))).Build()).ToMessage()
	if err != nil {
		return fmt.Errorf("CLUSTER SLOT-STATS: %w", err)
	}
	rows, err := msg.ToArray()
	if err != nil {
		return fmt.Errorf("CLUSTER SLOT-STATS: %w", err)
	}
	for _, row := range rows {
		pair, err := row.ToArray()
		if err != nil || len(pair) != 2 {
			return fmt.Errorf("CLUSTER SLOT-STATS: unexpected entry %v", row)
		}
		s, err := pair[0].AsInt64()
		if err != nil || s < 0 || s > int64(slots.Max) {
			return fmt.Errorf("CLUSTER SLOT-STATS: bad slot in %v", row)
		}
		m, err := pair[1].AsIntMap()
		if err != nil {
			return fmt.Errorf("CLUSTER SLOT-STATS: slot %d: %w", s, err)
		}
		per[s] = float64(m[metric])
	}
	return nil
}
