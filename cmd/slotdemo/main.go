// Command slotdemo is slotrouter's live demo, the README's main job: it
// starts a throwaway Redis Cluster on 127.0.0.1 (redis-server and
// redis-cli must be installed), routes traffic through the router while
// slots move and a primary is killed, plans a rebalance onto a new node
// and applies it under load, prints what it measured, and stops every
// process it started.
//
// Usage:
//
//	go run ./cmd/slotdemo [flags]
//
// Run "slotdemo -h" for the flags. It links internal/clustertest (which
// runs redis-server, kill -9 and SIGSTOP); the operators' tool slotctl
// does not.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one slotdemo invocation and returns the process exit
// code: 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slotdemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.IntVar(&cfg.Primaries, "primaries", 3, "number of primaries")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "replicas per primary (0 skips the failover act)")
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "how long each load act runs")
	fs.IntVar(&cfg.Keys, "keys", 10000, "size of the key space the load uses")
	fs.IntVar(&cfg.Workers, "workers", 4, "load goroutines")
	fs.IntVar(&cfg.ReshardSlots, "reshard-slots", 1000, "slots moved under load in act 4")
	noApply := fs.Bool("plan-only", false, "act 6 plans the rebalance but does not apply it")
	fs.BoolVar(&cfg.SkipFailover, "skip-failover", false, "skip the failover act")
	live := fs.String("live", "auto", "print a live line (ops/s, latency, errors/s) while load runs: auto (when the narration goes to a terminal), on, off")
	quiet := fs.Bool("quiet", false, "print the summary only")
	asJSON := fs.Bool("json", false, "print the measured results as JSON on stdout (narration goes to stderr unless -quiet)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: slotdemo [flags]")
		fmt.Fprintln(stderr, "Starts a local Redis Cluster on 127.0.0.1 (redis-server, redis-cli), shows what slotrouter does, stops it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg.PlanOnly = *noApply
	var narr, summ io.Writer = stdout, stdout
	switch {
	case *asJSON && *quiet:
		narr, summ = io.Discard, io.Discard
	case *asJSON:
		narr, summ = stderr, stderr
	case *quiet:
		narr = io.Discard
	}
	switch *live {
	case "auto":
		cfg.Live = isTerminal(narr)
	case "on":
		cfg.Live = narr != io.Discard
	case "off":
	default:
		fmt.Fprintf(stderr, "slotdemo: -live %q: want auto, on or off\n", *live)
		return 2
	}
	res, err := runDemo(ctx, cfg, narr, summ)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "slotdemo: interrupted (%v); the cluster was stopped\n", ctx.Err())
			return 1
		}
		if errors.Is(err, clustertest.ErrServerNotFound) {
			fmt.Fprintf(stderr, "slotdemo: %v\nInstall Redis (apt-get install redis-server) or set REDIS_SERVER and REDIS_CLI to the binaries.\n", err)
		} else {
			fmt.Fprintf(stderr, "slotdemo: %v\n", err)
		}
		return 1
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "slotdemo: %v\n", err)
			return 1
		}
		if _, err := stdout.Write(append(b, '\n')); err != nil {
			fmt.Fprintf(stderr, "slotdemo: %v\n", err)
			return 1
		}
	}
	return 0
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
