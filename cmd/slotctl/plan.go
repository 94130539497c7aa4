package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/slotrouter/slotrouter/slots/plan"
)

const planUsage = `usage: slotctl plan SUBCOMMAND [flags]

Reads a layout (JSON, see "go doc slots/plan") from -layout FILE or stdin,
writes the plan as JSON on stdout and a short summary on stderr.

Subcommands:
  rebalance [-threshold F]             balance slots by weight (weight 0 drains)
  add ID...                            add empty primaries and rebalance
  remove ID...                         drain primaries and rebalance the rest
  reshard -to ID [-from ID,...] -slots N   move exactly N slots to ID
  load [-loads FILE] [-tolerance F]    balance per-slot loads instead of counts
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
	var (
		threshold = new(float64)
		to        = new(string)
		from      = new(string)
		nslots    = new(int)
		loadsFile = new(string)
		tolerance = new(float64)
		primaries = new(int)
	)
	switch sub {
	case "rebalance":
		fs.Float64Var(threshold, "threshold", 0, "skip when every primary is within this fraction of its target (0.02 = 2%; 0: any imbalance)")
	case "reshard":
		fs.StringVar(to, "to", "", "target primary ID")
		fs.StringVar(from, "from", "", "comma-separated source primary IDs (default: every other primary)")
		fs.IntVar(nslots, "slots", 0, "number of slots to move")
	case "load":
		fs.StringVar(loadsFile, "loads", "", "JSON object of per-slot loads {\"slot or range\": load} (default: the layout's \"loads\")")
		fs.Float64Var(tolerance, "tolerance", 0, fmt.Sprintf("allowed deviation from the fair share (default %g)", plan.DefaultTolerance))
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
	fail := func(err error) int {
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
		data, err := readInput(fs.Arg(0), stdin)
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
	data, err := readInput(*layoutFile, stdin)
	if err != nil {
		return fail(err)
	}
	l, err := plan.ParseLayout(data)
	if err != nil {
		return fail(err)
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
			p, err = plan.Rebalance(l, plan.Options{Threshold: *threshold})
		case "add":
			if fs.NArg() == 0 {
				fmt.Fprintln(stderr, "usage: slotctl plan add [-layout FILE] ID...")
				return 2
			}
			var nodes []plan.Node
			for _, id := range fs.Args() {
				nodes = append(nodes, plan.Node{ID: id})
			}
			p, err = plan.AddNodes(l, nodes)
		case "remove":
			if fs.NArg() == 0 {
				fmt.Fprintln(stderr, "usage: slotctl plan remove [-layout FILE] ID...")
				return 2
			}
			p, err = plan.RemoveNodes(l, fs.Args())
		case "reshard":
			if *to == "" || *nslots <= 0 {
				fmt.Fprintln(stderr, "usage: slotctl plan reshard [-layout FILE] -to ID [-from ID,...] -slots N")
				return 2
			}
			req := plan.ReshardRequest{Target: *to, Slots: *nslots}
			if *from != "" {
				req.Sources = strings.Split(*from, ",")
			}
			p, err = plan.Reshard(l, req)
		case "load":
			if *loadsFile != "" {
				b, rerr := readInput(*loadsFile, stdin)
				if rerr != nil {
					return fail(rerr)
				}
				var ld plan.Loads
				if jerr := json.Unmarshal(b, &ld); jerr != nil {
					return fail(fmt.Errorf("%w: %s: %v", plan.ErrInvalidLoads, *loadsFile, jerr))
				}
				l.Loads = ld
			}
			p, err = plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: *tolerance})
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
		pl, perr := plan.Place(plan.PlaceRequest{Nodes: l.Nodes, Primaries: *primaries})
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
		rp, rerr := plan.Repair(l)
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
	if _, err := stdout.Write(append(b, '\n')); err != nil {
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

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" || name == "" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}
