package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/slotrouter/slotrouter/internal/livelayout"
	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

func runCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files []string
	fs.Func("nodes", "saved CLUSTER NODES output of one node (\"-\": stdin); repeat for several nodes", func(s string) error {
		files = append(files, s)
		return nil
	})
	addr := fs.String("addr", "", "a node of a live cluster (host:port); every node it knows is asked too")
	timeout := fs.Duration("timeout", 5*time.Second, "overall time limit of a live check")
	strict := fs.Bool("strict", false, "exit 1 on warnings too, not only on errors")
	conn := addConnFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: slotctl check -nodes FILE [-nodes FILE...] | -addr HOST:PORT  [-strict] [-timeout D]")
		fmt.Fprintln(stderr, "Writes a JSON report on stdout and a summary on stderr; exit 1 when it finds errors.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || (len(files) == 0) == (*addr == "") {
		fs.Usage()
		return 2
	}
	var in plan.CheckInput
	if *addr != "" {
		d, err := conn.config(*timeout)
		if err != nil {
			fmt.Fprintf(stderr, "slotctl check: %v\n", err)
			return 2
		}
		lctx, cancel := context.WithTimeout(ctx, *timeout)
		in, err = gatherLiveWith(lctx, *addr, d)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "slotctl check: %s\n", d.redact(err.Error()))
			return 1
		}
	}
	for _, f := range files {
		data, err := readInputContext(ctx, f, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "slotctl check: %v\n", stoppedErr(ctx, err))
			return 1
		}
		v, err := topology.ParseNodes(string(data), "")
		if err != nil {
			fmt.Fprintf(stderr, "slotctl check: %s: %v\n", f, err)
			return 1
		}
		in.Reports = append(in.Reports, reportsOf(&v, f)...)
	}
	rep, err := plan.Check(in)
	if err != nil {
		fmt.Fprintf(stderr, "slotctl check: %v\n", err)
		return 1
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "slotctl check: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		fmt.Fprintf(stderr, "slotctl check: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "%d nodes (%d primaries) as seen by %d; %d/16384 slots covered; %d errors, %d warnings\n",
		rep.Nodes, rep.Primaries, len(rep.Reporters), rep.Covered, rep.Errors, rep.Warnings)
	for _, f := range rep.Findings {
		fmt.Fprintf(stderr, "[%s] %s: %s\n", f.Severity, f.Code, f.Message)
	}
	if !rep.OK || (*strict && rep.Warnings > 0) {
		return 1
	}
	return 0
}

// reportsOf turns one node's parsed CLUSTER NODES reply into node reports.
func reportsOf(v *topology.View, fallback string) []plan.NodeReport {
	return livelayout.ReportsOf(v, fallback)
}

// gatherLiveWith asks addr and every node it lists for CLUSTER NODES
// (livelayout.Gather) over connections configured by d.
func gatherLiveWith(ctx context.Context, addr string, d dialConfig) (plan.CheckInput, error) {
	return livelayout.Gather(ctx, addr, d.dial)
}
