// Command slotload runs a named workload against a Redis Cluster for a
// given time, through slotrouter or, for comparison, rueidis's or
// go-redis's cluster client, and prints throughput, latency percentiles
// (p50/p99/p999) and errors per second: a live line on a terminal, and a
// summary (or JSON) at the end. The load is the project's load generator
// (internal/loadgen), the one the demo and the benchmarks use.
//
// Usage:
//
//	go run ./cmd/slotload -addr 127.0.0.1:7000 [-workload mixed-80-20] [-duration 10s]
//	    [-workers 64] [-client slotrouter|rueidis|go-redis] [-pipeline N] [-live auto|on|off] [-json]
//
// Workloads: get, set, incr, mixed-G-S (G% GET, S% SET) and mixed-G-S-I
// (with I% INCR on shared counters).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/loadgen"
	"github.com/slotrouter/slotrouter/router"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

// config is what the flags say.
type config struct {
	seeds    []string
	workload loadgen.Workload
	duration time.Duration
	workers  int
	pipeline int
	client   string
	live     bool
	json     bool
}

// run executes one invocation and returns the exit code: 0 success (the
// load ran; errors are reported, not fatal), 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	cfg, err := parse(args, stderr, terminal)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "slotload:", err)
		return 2
	}
	c, closeClient, err := connect(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "slotload:", err)
		return 1
	}
	defer closeClient()
	load, err := loadgen.Start(ctx, c, loadgen.Options{
		Workload: cfg.workload, Workers: cfg.workers, Duration: cfg.duration, Pipeline: cfg.pipeline,
	})
	if err != nil {
		fmt.Fprintln(stderr, "slotload:", err)
		return 1
	}
	if cfg.live {
		_ = load.Live(ctx, stderr, time.Second)
	}
	select {
	case <-load.Done():
	case <-ctx.Done():
	}
	st, err := load.Stop()
	if err != nil {
		fmt.Fprintln(stderr, "slotload:", err)
		return 1
	}
	if cfg.json {
		return printJSON(stdout, stderr, cfg, &st)
	}
	printSummary(stdout, cfg, &st)
	return 0
}

func parse(args []string, stderr io.Writer, terminal bool) (config, error) {
	fs := flag.NewFlagSet("slotload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "seed addresses, host:port[,host:port...] (required)")
	workload := fs.String("workload", "mixed-80-20", "workload: "+strings.Join(loadgen.Names(), ", "))
	duration := fs.Duration("duration", 10*time.Second, "how long the load runs")
	workers := fs.Int("workers", 64, "goroutines")
	pipeline := fs.Int("pipeline", 1, "every second round of a worker is a pipeline of N commands (slotrouter only; 1: none)")
	client := fs.String("client", "slotrouter", "client: slotrouter, rueidis or go-redis")
	live := fs.String("live", "auto", "live line on stderr: auto (on a terminal), on, off")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := config{duration: *duration, workers: *workers, pipeline: *pipeline, client: *client, json: *asJSON}
	for _, a := range strings.Split(*addr, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return config{}, fmt.Errorf("-addr %q: %v", a, err)
		}
		cfg.seeds = append(cfg.seeds, a)
	}
	if len(cfg.seeds) == 0 {
		return config{}, errors.New("-addr is required")
	}
	w, err := loadgen.ParseWorkload(*workload)
	if err != nil {
		return config{}, fmt.Errorf("-workload: %w", err)
	}
	cfg.workload = w
	switch {
	case cfg.duration <= 0:
		return config{}, fmt.Errorf("-duration %v: must be positive", cfg.duration)
	case cfg.workers < 1 || cfg.workers > loadgen.MaxWorkers:
		return config{}, fmt.Errorf("-workers %d: must be within 1..%d", cfg.workers, loadgen.MaxWorkers)
	case cfg.pipeline < 1 || cfg.pipeline > loadgen.MaxPipeline:
		return config{}, fmt.Errorf("-pipeline %d: must be within 1..%d", cfg.pipeline, loadgen.MaxPipeline)
	case cfg.pipeline > 1 && cfg.client != "slotrouter":
		return config{}, errors.New("-pipeline works with -client slotrouter only")
	}
	switch cfg.client {
	case "slotrouter", "rueidis", "go-redis":
	default:
		return config{}, fmt.Errorf("-client %q: slotrouter, rueidis or go-redis", cfg.client)
	}
	switch *live {
	case "auto":
		cfg.live = terminal
	case "on":
		cfg.live = true
	case "off":
	default:
		return config{}, fmt.Errorf("-live %q: auto, on or off", *live)
	}
	return cfg, nil
}

// connect opens the client cfg names.
func connect(ctx context.Context, cfg config) (loadgen.Client, func(), error) {
	switch cfg.client {
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cfg.seeds})
		if err != nil {
			return nil, nil, err
		}
		return loadgen.DoFunc(func(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
			b := c.B().Arbitrary(args[0])
			if len(args) > 1 {
				b = b.Keys(args[1]).Args(args[2:]...)
			}
			return c.Do(ctx, b.Build()).ToMessage()
		}), c.Close, nil
	case "go-redis":
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cfg.seeds})
		return loadgen.DoFunc(func(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
			a := make([]any, len(args))
			for i, s := range args {
				a[i] = s
			}
			err := c.Do(ctx, a...).Err()
			if errors.Is(err, goredis.Nil) {
				err = nil
			}
			return rueidis.RedisMessage{}, err // the load counts errors only
		}), func() { _ = c.Close() }, nil
	}
	rc, err := router.New(ctx, router.Options{Seeds: cfg.seeds})
	if err != nil {
		return nil, nil, err
	}
	return loadgen.FromRouter(rc), rc.Close, nil
}

// result is the JSON form of a run.
type result struct {
	Client       string           `json:"client"`
	Workload     string           `json:"workload"`
	Workers      int              `json:"workers"`
	Seconds      float64          `json:"seconds"`
	Ops          int64            `json:"ops"`
	OpsPerSecond float64          `json:"ops_per_second"`
	P50          float64          `json:"p50_ms"`
	P99          float64          `json:"p99_ms"`
	P999         float64          `json:"p999_ms"`
	Errors       int64            `json:"errors"`
	ErrorsPerSec float64          `json:"errors_per_second"`
	Unknown      int64            `json:"unknown_outcomes"`
	ByClass      map[string]int64 `json:"errors_by_class,omitempty"`
}

func resultOf(cfg config, st *loadgen.Stats) result {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r := result{
		Client: cfg.client, Workload: cfg.workload.Name, Workers: cfg.workers,
		Seconds: st.Elapsed.Seconds(), Ops: st.Ops, OpsPerSecond: st.OpsPerSecond(),
		P50: ms(st.Latency.Quantile(0.5)), P99: ms(st.Latency.Quantile(0.99)), P999: ms(st.Latency.Quantile(0.999)),
		Errors: st.Errors, Unknown: st.Unknown, ByClass: st.ByClass,
	}
	if s := st.Elapsed.Seconds(); s > 0 {
		r.ErrorsPerSec = float64(st.Errors) / s
	}
	return r
}

func printJSON(stdout, stderr io.Writer, cfg config, st *loadgen.Stats) int {
	b, err := json.MarshalIndent(resultOf(cfg, st), "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "slotload:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}

func printSummary(w io.Writer, cfg config, st *loadgen.Stats) {
	r := resultOf(cfg, st)
	fmt.Fprintf(w, "%s, %s, %d workers, %.1fs: %d ops, %.0f ops/s; latency p50 %.3fms, p99 %.3fms, p999 %.3fms; %d errors (%.1f/s), %d unknown outcomes\n",
		r.Client, r.Workload, r.Workers, r.Seconds, r.Ops, r.OpsPerSecond, r.P50, r.P99, r.P999, r.Errors, r.ErrorsPerSec, r.Unknown)
	classes := make([]string, 0, len(r.ByClass))
	for k := range r.ByClass {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	for _, k := range classes {
		fmt.Fprintf(w, "  %s: %d\n", k, r.ByClass[k])
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
