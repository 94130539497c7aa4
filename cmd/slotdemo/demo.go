package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/internal/loadgen"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// Act headings, in order; the test looks for each of them.
const (
	headCluster  = "1. The cluster"
	headKeys     = "2. Where keys live"
	headTraffic  = "3. Traffic"
	headReshard  = "4. Resharding behind the client's back"
	headFailover = "5. Failover"
	headPlanning = "6. A rebalance, planned and applied under load"
	headSummary  = "Summary"
)

// Bounds and fixed settings of the demo.
const (
	demoPipeline = 8
	demoCounters = 64
	// demoErrorPause is how long a load goroutine pauses after a call
	// failed, as a polite caller would.
	demoErrorPause  = 10 * time.Millisecond
	demoLiveTimeout = 10 * time.Second
	// demoActTimeout bounds every cluster change of one act (a move, a
	// failover, a restart, a plan applied) and every load.
	demoActTimeout = 90 * time.Second
	demoKeyPrefix  = "demo:key:"
)

// config configures runDemo. The zero value of a field means its
// default (see withDefaults).
type config struct {
	// Primaries and Replicas shape the cluster (default 3 × 1).
	Primaries, Replicas int
	// Duration is how long each load act runs (default 3s).
	Duration time.Duration
	// Keys is the size of the key space the load uses (default 10000).
	Keys int
	// Workers is the number of load goroutines (default 4).
	Workers int
	// ReshardSlots is how many slots act 4 moves (default 1000).
	ReshardSlots int
	// PlanOnly makes act 6 plan the rebalance without applying it.
	PlanOnly bool
	// SkipFailover skips act 5.
	SkipFailover bool
	// Live prints a live line while load runs (for terminals).
	Live bool
}

func (c config) withDefaults() config {
	if c.Primaries <= 0 {
		c.Primaries = 3
	}
	if c.Replicas < 0 {
		c.Replicas = 0
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.Keys <= 0 {
		c.Keys = 10000
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	c.Workers = min(c.Workers, loadgen.MaxWorkers)
	c.Keys = max(c.Keys, c.Workers*demoPipeline)
	if c.ReshardSlots <= 0 {
		c.ReshardSlots = 1000
	}
	return c
}

// result is what the demo measured; -json prints it.
type result struct {
	Primaries int `json:"primaries"`
	Replicas  int `json:"replicas"`
	// PIDs are every redis-server process the demo's cluster ran.
	PIDs     []int           `json:"pids"`
	Startup  time.Duration   `json:"startup_ns"`
	Keys     keysResult      `json:"keys"`
	Traffic  loadResult      `json:"traffic"`
	Reshard  reshardResult   `json:"reshard"`
	Failover *failoverResult `json:"failover,omitempty"`
	Planning planningResult  `json:"planning"`
	Elapsed  time.Duration   `json:"elapsed_ns"`
	// Stopped reports that the cluster was stopped without error.
	Stopped bool `json:"stopped"`
}

// keysResult is act 2's outcome.
type keysResult struct {
	CrossSlotRejected bool     `json:"cross_slot_rejected"`
	SuggestedKeys     []string `json:"suggested_keys"`
	TaggedMGETOK      bool     `json:"tagged_mget_ok"`
}

// loadResult counts one load run.
type loadResult struct {
	Ops     int64         `json:"ops"`
	Errors  int64         `json:"errors"`
	OpsPerS float64       `json:"ops_per_s"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// P50, P99 and P999 are the latencies of single Do calls.
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	// ByKind counts errors by what they are.
	ByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// PerNode is the share of GET/SET/INCR calls each primary's server
	// counted (INFO commandstats), act 3 only.
	PerNode map[string]int64 `json:"per_node,omitempty"`
	// FirstErrorText is the first error the load counted.
	FirstErrorText string `json:"first_error,omitempty"`
}

// loadResultOf summarises a load's statistics.
func loadResultOf(s *loadgen.Stats) loadResult {
	r := loadResult{
		Ops: s.Ops, Errors: s.Errors, OpsPerS: s.OpsPerSecond(), Elapsed: s.Elapsed,
		P50: s.Latency.Quantile(0.5), P99: s.Latency.Quantile(0.99), P999: s.Latency.Quantile(0.999),
	}
	if len(s.ByClass) > 0 {
		r.ByKind = s.ByClass
	}
	if s.FirstError != nil {
		r.FirstErrorText = s.FirstError.Error()
	}
	return r
}

// reshardResult is act 4's outcome.
type reshardResult struct {
	loadResult
	SlotsMoved   int           `json:"slots_moved"`
	MoveTime     time.Duration `json:"move_ns"`
	Moved        int64         `json:"moved_followed"`
	Asked        int64         `json:"ask_followed"`
	Retries      int64         `json:"retries"`
	Refreshes    int64         `json:"topology_refreshes"`
	ClientAgrees int           `json:"client_map_agrees"`
	KeysVerified int           `json:"keys_verified"`
	KeysWrong    int           `json:"keys_wrong"`
}

// failoverResult is act 5's outcome.
type failoverResult struct {
	loadResult
	Killed   string `json:"killed"`
	Promoted string `json:"promoted"`
	// ClientSaw is when the client's topology first named the new
	// primary; ClusterHealthy when clustertest.WaitFailover returned;
	// FirstWrite the first successful write to the failed shard's slots;
	// LastError the last error surfaced (0: none), all since the kill.
	ClientSaw      time.Duration `json:"client_saw_ns"`
	ClusterHealthy time.Duration `json:"cluster_healthy_ns"`
	FirstWrite     time.Duration `json:"first_write_ns"`
	LastError      time.Duration `json:"last_error_ns"`
	Restart        time.Duration `json:"restart_ns"`
	ReadsOK        int64         `json:"reads_ok"`
	ReadsFailed    int64         `json:"reads_failed"`
	IdemOK         int64         `json:"idempotent_writes_ok"`
	IdemFailed     int64         `json:"idempotent_writes_failed"`
	IncrOK         int64         `json:"incr_ok"`
	IncrUnknown    int64         `json:"incr_unknown_outcome"`
	IncrFailed     int64         `json:"incr_failed_other"`
}

// planningResult is act 6's outcome.
type planningResult struct {
	AddedNode        string `json:"added_node"`
	SlotsMoved       int    `json:"slots_moved"`
	RangesAfter      int    `json:"ranges_after"`
	Batches          int    `json:"batches"`
	RedisCLIMoved    int    `json:"redis_cli_slots_moved"`
	RedisCLIRanges   int    `json:"redis_cli_ranges_after"`
	MinimumSlotsMove int    `json:"minimum_slots"`
	// Apply is the plan applied under load (nil with -plan-only).
	Apply *applyResult `json:"apply,omitempty"`
}

// applyResult is the outcome of applying act 6's plan under load.
type applyResult struct {
	loadResult
	SlotsApplied int           `json:"slots_applied"`
	ApplyTime    time.Duration `json:"apply_ns"`
	Moved        int64         `json:"moved_followed"`
	Asked        int64         `json:"ask_followed"`
	// ClientAgrees counts the plan's moved slots the client's map routes
	// to their new owner at the end.
	ClientAgrees int `json:"client_map_agrees"`
	// LayoutMatches reports that the live layout read afterwards is the
	// plan's final one.
	LayoutMatches bool `json:"layout_matches_plan"`
	KeysVerified  int  `json:"keys_verified"`
	KeysWrong     int  `json:"keys_wrong"`
}

// demo holds what the acts share.
type demo struct {
	cfg   config
	out   io.Writer
	cl    *clustertest.Cluster
	c     *router.Client
	ctr   router.Counters
	refr  refreshCounter
	res   *result
	pids  map[int]bool
	start time.Time
}

// refreshCounter is the topology observer: it counts published
// snapshots.
type refreshCounter struct {
	published atomic.Int64
}

// OnRefresh counts e when it published a snapshot.
func (r *refreshCounter) OnRefresh(e topology.RefreshEvent) {
	if e.Err == nil && e.New != nil {
		r.published.Add(1)
	}
}

// runDemo starts a cluster, runs the acts, prints the narration on out and
// the summary on summary, and stops the cluster (always, also when ctx
// ends). The error wraps clustertest.ErrServerNotFound when redis-server
// or redis-cli is missing.
func runDemo(ctx context.Context, cfg config, out, summary io.Writer) (res result, err error) {
	cfg = cfg.withDefaults()
	d := &demo{cfg: cfg, out: out, res: &res, pids: map[int]bool{}, start: time.Now()}
	res.Primaries, res.Replicas = cfg.Primaries, cfg.Replicas
	fmt.Fprintln(out, "slotdemo: a real Redis Cluster on 127.0.0.1, started for this demo and stopped at its end")

	d.heading(headCluster)
	sctx, cancel := context.WithTimeout(ctx, clustertest.StartTimeout)
	cl, err := clustertest.Start(sctx, clustertest.Options{
		Primaries: cfg.Primaries, Replicas: cfg.Replicas,
	})
	cancel()
	if err != nil {
		return res, fmt.Errorf("starting the cluster: %w", err)
	}
	d.cl = cl
	defer func() {
		if serr := cl.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stopping the cluster: %w", serr)
		}
		res.PIDs = d.sortedPIDs()
	}()
	res.Startup = time.Since(d.start)
	d.notePIDs()
	fmt.Fprintf(out, "started %d primaries × %d replica(s): %d redis-server processes on 127.0.0.1 in %s\n",
		cfg.Primaries, cfg.Replicas, len(d.pids), secs(res.Startup))

	nctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	t := time.Now()
	c, err := router.New(nctx, router.Options{
		Seeds:    cl.Addrs()[:1],
		Observer: &d.ctr,
		Topology: topology.Options{Observer: &d.refr},
		// The keys act shows a cross-slot MGET refused before anything is
		// sent; by default the router would split it per slot.
		StrictCrossSlot: true,
	})
	cancel()
	if err != nil {
		return res, fmt.Errorf("connecting the router: %w", err)
	}
	d.c = c
	defer c.Close()
	fmt.Fprintf(out, "router.New from one seed (%s) in %s: learned %d commands from COMMAND\n", cl.Addrs()[0], ms(time.Since(t)), c.Table().Len())
	d.printTopology()

	acts := []func(context.Context) error{d.actKeys, d.actTraffic, d.actReshard, d.actFailover, d.actPlanning}
	for _, act := range acts {
		if err := act(ctx); err != nil {
			return res, err
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	c.Close()
	if err := cl.Stop(); err != nil {
		return res, fmt.Errorf("stopping the cluster: %w", err)
	}
	res.Stopped = true
	res.Elapsed = time.Since(d.start)
	res.PIDs = d.sortedPIDs()
	d.printSummary(summary)
	if res.Reshard.Errors > 0 {
		return res, fmt.Errorf("resharding surfaced %d errors to the caller, expected none (first: %s)", res.Reshard.Errors, res.Reshard.FirstErrorText)
	}
	if a := res.Planning.Apply; a != nil && a.Errors > 0 {
		return res, fmt.Errorf("applying the rebalance surfaced %d errors to the caller, expected none (first: %s)", a.Errors, a.FirstErrorText)
	}
	return res, nil
}

// notePIDs records the pids of the running nodes.
func (d *demo) notePIDs() {
	for _, n := range d.cl.Nodes() {
		if p := n.PID(); p > 0 {
			d.pids[p] = true
		}
	}
}

func (d *demo) sortedPIDs() []int {
	out := make([]int, 0, len(d.pids))
	for p := range d.pids {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// demoLoad is a load of an act and its live line.
type demoLoad struct {
	*loadgen.Load
	live    chan struct{} // closed when the live line has ended; nil: none
	liveErr error         // a panic of the live line, set before live is closed
}

// stop stops the load and its live line and returns its statistics.
func (l *demoLoad) stop() (loadgen.Stats, error) {
	s, err := l.Stop()
	if l.live != nil {
		<-l.live
		if err == nil {
			err = l.liveErr
		}
	}
	return s, err
}

// startLoad starts the demo's load through the router: cfg.Workers
// goroutines, half of their rounds DoMulti pipelines of demoPipeline
// commands, half single Do calls, with w's mix. With cfg.Live a live
// line runs until the load stops.
func (d *demo) startLoad(ctx context.Context, w loadgen.Workload, onResult func(loadgen.Result)) (*demoLoad, error) {
	l, err := loadgen.Start(ctx, loadgen.FromRouter(d.c), loadgen.Options{
		Workload:      w,
		Workers:       d.cfg.Workers,
		Keys:          d.cfg.Keys,
		KeyPrefix:     demoKeyPrefix,
		Counters:      demoCounters,
		CounterPrefix: "demo:counter:",
		Pipeline:      demoPipeline,
		ErrorPause:    demoErrorPause,
		Duration:      demoActTimeout,
		Classify:      classify,
		OnResult:      onResult,
	})
	if err != nil {
		return nil, err
	}
	dl := &demoLoad{Load: l}
	if d.cfg.Live {
		dl.live = make(chan struct{})
		go func() {
			defer close(dl.live)
			defer func() {
				if r := recover(); r != nil {
					dl.liveErr = fmt.Errorf("live line: panic: %v", r)
				}
			}()
			_ = l.Live(ctx, d.out, 250*time.Millisecond) // a failed write to the terminal is not the demo's failure
		}()
	}
	return dl, nil
}

// workload returns a workload of the demo, known valid.
func workload(name string) loadgen.Workload {
	w, err := loadgen.ParseWorkload(name)
	if err != nil {
		panic(err) // a constant name: a programming error
	}
	return w
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
