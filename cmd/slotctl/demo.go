package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
	"github.com/slotrouter/slotrouter/topology"
)

// Act headings, in order; the test looks for each of them.
const (
	headCluster  = "1. The cluster"
	headKeys     = "2. Where keys live"
	headTraffic  = "3. Traffic"
	headReshard  = "4. Resharding behind the client's back"
	headFailover = "5. Failover"
	headPlanning = "6. Planning"
	headSummary  = "Summary"
)

// Bounds of the demo's loops, whatever the flags say.
const (
	demoMaxOpsPerWorker = 5_000_000
	demoMaxLatencies    = 100_000
	demoPipeline        = 8
	demoCounters        = 64
	// demoErrorPause is how long a load goroutine pauses after a call
	// failed, as a polite caller would.
	demoErrorPause  = 10 * time.Millisecond
	demoLiveTimeout = 10 * time.Second
	// demoActTimeout bounds every cluster change of one act (a move, a
	// failover, a restart).
	demoActTimeout = 90 * time.Second
)

// demoConfig configures runDemo. The zero value of a field means its
// default (see defaults).
type demoConfig struct {
	// Primaries and Replicas shape the cluster (default 3 × 1).
	Primaries, Replicas int
	// Duration is how long each load act runs (default 5s).
	Duration time.Duration
	// Keys is the size of the key space the load uses (default 10000).
	Keys int
	// Workers is the number of load goroutines (default 4).
	Workers int
	// ReshardSlots is how many slots act 4 moves (default 1000).
	ReshardSlots int
	// ApplySlots is how many slots of the plan's first batch act 6 moves
	// for real (and back again); default 3, negative for none.
	ApplySlots int
	// SkipFailover skips act 5.
	SkipFailover bool
}

func (c demoConfig) withDefaults() demoConfig {
	if c.Primaries <= 0 {
		c.Primaries = 3
	}
	if c.Replicas < 0 {
		c.Replicas = 0
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.Keys <= 0 {
		c.Keys = 10000
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	c.Keys = max(c.Keys, c.Workers*demoPipeline)
	if c.ReshardSlots <= 0 {
		c.ReshardSlots = 1000
	}
	if c.ApplySlots == 0 {
		c.ApplySlots = 3
	}
	return c
}

// demoResult is what the demo measured; -json prints it.
type demoResult struct {
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
	Ops      int64            `json:"ops"`
	Errors   int64            `json:"errors"`
	OpsPerS  float64          `json:"ops_per_s"`
	Elapsed  time.Duration    `json:"elapsed_ns"`
	P50, P99 time.Duration    `json:"-"`
	ByKind   map[string]int64 `json:"errors_by_kind,omitempty"`
	// PerNode is the share of GET/SET/INCR calls each primary's server
	// counted (INFO commandstats), act 3 only.
	PerNode map[string]int64 `json:"per_node,omitempty"`
}

// reshardResult is act 4's outcome.
type reshardResult struct {
	loadResult
	SlotsMoved     int           `json:"slots_moved"`
	MoveTime       time.Duration `json:"move_ns"`
	Moved          int64         `json:"moved_followed"`
	Asked          int64         `json:"ask_followed"`
	Retries        int64         `json:"retries"`
	Refreshes      int64         `json:"topology_refreshes"`
	ClientAgrees   int           `json:"client_map_agrees"`
	KeysVerified   int           `json:"keys_verified"`
	KeysWrong      int           `json:"keys_wrong"`
	FirstErrorText string        `json:"first_error,omitempty"`
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
	Applied          int    `json:"slots_applied"`
	AppliedFollowed  bool   `json:"applied_followed"`
	RemovedAgain     bool   `json:"removed_again"`
	MinimumSlotsMove int    `json:"minimum_slots"`
}

// runDemoCmd implements "slotctl demo".
func runDemoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demoConfig
	fs.IntVar(&cfg.Primaries, "primaries", 3, "number of primaries")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "replicas per primary (0 skips the failover act)")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each load act runs")
	fs.IntVar(&cfg.Keys, "keys", 10000, "size of the key space the load uses")
	fs.IntVar(&cfg.Workers, "workers", 4, "load goroutines")
	fs.IntVar(&cfg.ReshardSlots, "reshard-slots", 1000, "slots moved under load in act 4")
	fs.IntVar(&cfg.ApplySlots, "apply-slots", 3, "slots of the plan's first batch applied for real in act 6, then moved back (-1: none)")
	fs.BoolVar(&cfg.SkipFailover, "skip-failover", false, "skip the failover act")
	quiet := fs.Bool("quiet", false, "print the summary only")
	asJSON := fs.Bool("json", false, "print the measured results as JSON on stdout (narration goes to stderr unless -quiet)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: slotctl demo [flags]")
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
	if cfg.ApplySlots == 0 {
		cfg.ApplySlots = -1
	}
	var narr, summ io.Writer = stdout, stdout
	switch {
	case *asJSON && *quiet:
		narr, summ = io.Discard, io.Discard
	case *asJSON:
		narr, summ = stderr, stderr
	case *quiet:
		narr = io.Discard
	}
	res, err := runDemo(ctx, cfg, narr, summ)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "slotctl demo: interrupted (%v); the cluster was stopped\n", ctx.Err())
			return 1
		}
		if errors.Is(err, clustertest.ErrServerNotFound) {
			fmt.Fprintf(stderr, "slotctl demo: %v\nInstall Redis (apt-get install redis-server) or set REDIS_SERVER and REDIS_CLI to the binaries.\n", err)
		} else {
			fmt.Fprintf(stderr, "slotctl demo: %v\n", err)
		}
		return 1
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "slotctl demo: %v\n", err)
			return 1
		}
		if _, err := stdout.Write(append(b, '\n')); err != nil {
			fmt.Fprintf(stderr, "slotctl demo: %v\n", err)
			return 1
		}
	}
	return 0
}

// demo holds what the acts share.
type demo struct {
	cfg   demoConfig
	out   io.Writer
	cl    *clustertest.Cluster
	c     *router.Client
	ctr   router.Counters
	refr  refreshCounter
	res   *demoResult
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
func runDemo(ctx context.Context, cfg demoConfig, out, summary io.Writer) (res demoResult, err error) {
	cfg = cfg.withDefaults()
	d := &demo{cfg: cfg, out: out, res: &res, pids: map[int]bool{}, start: time.Now()}
	res.Primaries, res.Replicas = cfg.Primaries, cfg.Replicas
	fmt.Fprintln(out, "slotctl demo: a real Redis Cluster on 127.0.0.1, started for this demo and stopped at its end")

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
	return res, nil
}

func (d *demo) heading(h string) { fmt.Fprintf(d.out, "\n== %s ==\n", h) }

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

// actKeys shows where keys live, a cross-slot command refused before it
// is sent, and the hash-tagged version working.
func (d *demo) actKeys(ctx context.Context) error {
	d.heading(headKeys)
	for _, k := range []string{"user:1000:name", "user:1000:email", "cart:42", "session:7f3a"} {
		slot, node, err := d.c.Route("GET", k)
		if err != nil {
			return fmt.Errorf("route %q: %w", k, err)
		}
		fmt.Fprintf(d.out, "GET %-16s -> slot %5d on %s\n", k, slot, node.Addr)
	}
	moved0, _, _ := d.ctr.Total()
	t := time.Now()
	_, err := d.c.Do(ctx, "MGET", "user:1000:name", "user:1000:email")
	took := time.Since(t)
	var cse *router.CrossSlotError
	if !errors.As(err, &cse) {
		return fmt.Errorf("MGET across slots: expected a *router.CrossSlotError, got %v", err)
	}
	moved1, _, _ := d.ctr.Total()
	d.res.Keys.CrossSlotRejected = true
	d.res.Keys.SuggestedKeys = cse.SuggestedKeys
	fmt.Fprintf(d.out, "MGET user:1000:name user:1000:email is refused in %s, before anything is sent (%d redirects):\n  %v\n",
		us(took), moved1-moved0, err)
	sk := cse.SuggestedKeys
	res := d.c.DoMulti(ctx, router.C("SET", sk[0], "Ada"), router.C("SET", sk[1], "ada@example.com"))
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("SET %v: %w", sk, r.Err)
		}
	}
	msg, err := d.c.Do(ctx, append([]string{"MGET"}, sk...)...)
	if err != nil {
		return fmt.Errorf("MGET %v: %w", sk, err)
	}
	vals, err := msg.AsStrSlice()
	if err != nil {
		return fmt.Errorf("MGET %v: %w", sk, err)
	}
	slot, node, err := d.c.Route(append([]string{"MGET"}, sk...)...)
	if err != nil {
		return err
	}
	d.res.Keys.TaggedMGETOK = len(vals) == 2 && vals[0] == "Ada"
	fmt.Fprintf(d.out, "with the suggested hash tag: MGET %s -> %q, one slot (%d) on %s\n", strings.Join(sk, " "), vals, slot, node.Addr)
	return nil
}

// actTraffic runs the load and reports throughput and where it went.
func (d *demo) actTraffic(ctx context.Context) error {
	d.heading(headTraffic)
	ps, err := d.cl.Primaries(ctx)
	if err != nil {
		return err
	}
	before := map[string]int64{}
	for _, p := range ps {
		before[p.Addr] = d.commandCalls(ctx, p)
	}
	l := d.newLoad(false)
	l.start(ctx)
	timer := time.NewTimer(d.cfg.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	r := l.finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	r.PerNode = map[string]int64{}
	var total int64
	for _, p := range ps {
		n := d.commandCalls(ctx, p) - before[p.Addr]
		r.PerNode[p.Addr] = n
		total += n
	}
	d.res.Traffic = r.loadResult
	fmt.Fprintf(d.out, "%d goroutines, %d keys, GET/SET half through DoMulti pipelines of %d, half through Do, for %s\n",
		d.cfg.Workers, d.cfg.Keys, demoPipeline, secs(r.Elapsed))
	fmt.Fprintf(d.out, "%d operations, %.0f ops/s, %d errors; Do latency p50 %s, p99 %s\n", r.Ops, r.OpsPerS, r.Errors, us(r.P50), us(r.P99))
	for _, p := range ps {
		n := r.PerNode[p.Addr]
		fmt.Fprintf(d.out, "  %s served %5.1f%% (%d GET/SET calls counted by the server)\n", p.Addr, pct(n, total), n)
	}
	return nil
}

// commandCalls returns the GET+SET+INCR calls n's server counted.
func (d *demo) commandCalls(ctx context.Context, n *clustertest.Node) int64 {
	m, err := d.cl.Do(ctx, n, "INFO", "commandstats")
	if err != nil {
		return 0
	}
	s, _ := m.ToString()
	var total int64
	for _, line := range strings.Split(s, "\n") {
		for _, name := range []string{"get", "set", "incr", "mget"} {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls=")
			if !ok {
				continue
			}
			v, _, _ := strings.Cut(rest, ",")
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
		}
	}
	return total
}

// actReshard moves slots with clustertest (another connection) while
// the load runs through the router.
func (d *demo) actReshard(ctx context.Context) error {
	d.heading(headReshard)
	ps, err := d.cl.Primaries(ctx)
	if err != nil {
		return err
	}
	if len(ps) < 2 {
		fmt.Fprintln(d.out, "skipped: one primary, nowhere to move slots")
		return nil
	}
	from, to := ps[0], ps[1]
	have, err := d.cl.SlotsOf(ctx, from)
	if err != nil {
		return err
	}
	n := min(d.cfg.ReshardSlots, len(have)-1)
	m0, a0, r0 := d.ctr.Total()
	f0 := d.refr.published.Load()
	v0 := d.c.Topology().Current().Version()
	l := d.newLoad(false)
	l.start(ctx)
	began := time.Now()
	sleepCtx(ctx, min(d.cfg.Duration/5, 500*time.Millisecond))
	fmt.Fprintf(d.out, "moving %d slots %s -> %s with CLUSTER SETSLOT/MIGRATE from another connection, while %d goroutines run GET/SET\n",
		n, from.Addr, to.Addr, d.cfg.Workers)
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	t := time.Now()
	moved, err := d.cl.MoveSlots(actx, from, to, n)
	cancel()
	moveTime := time.Since(t)
	if err == nil {
		sleepCtx(ctx, max(300*time.Millisecond, d.cfg.Duration-time.Since(began)))
	}
	r := l.finish()
	if err != nil {
		return fmt.Errorf("moving slots: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m1, a1, r1 := d.ctr.Total()
	rr := reshardResult{
		loadResult: r.loadResult, SlotsMoved: len(moved), MoveTime: moveTime,
		Moved: m1 - m0, Asked: a1 - a0, Retries: r1 - r0, Refreshes: d.refr.published.Load() - f0,
	}
	if r.firstErr != nil {
		rr.FirstErrorText = r.firstErr.Error()
	}
	snap := d.c.Topology().Current()
	for _, s := range moved {
		if p, ok := snap.Primary(slots.Slot(s)); ok && p.ID == to.ID {
			rr.ClientAgrees++
		}
	}
	vctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	rr.KeysVerified, rr.KeysWrong, err = l.verify(vctx)
	cancel()
	if err != nil {
		return fmt.Errorf("verifying keys: %w", err)
	}
	d.res.Reshard = rr
	fmt.Fprintf(d.out, "%d slots moved in %s; the load ran %s\n", rr.SlotsMoved, secs(moveTime), secs(r.Elapsed))
	fmt.Fprintf(d.out, "%d operations (%.0f ops/s), %d errors surfaced to the caller\n", rr.Ops, rr.OpsPerS, rr.Errors)
	if rr.FirstErrorText != "" {
		fmt.Fprintf(d.out, "  first error: %s\n", rr.FirstErrorText)
	}
	fmt.Fprintf(d.out, "the router followed %d MOVED and %d ASK redirects and retried %d times (%s)\n", rr.Moved, rr.Asked, rr.Retries, retriesText(d.ctr.Retries()))
	fmt.Fprintf(d.out, "%d topology refreshes published (snapshot v%d -> v%d); without a forced refresh the client's map already agrees on %d/%d moved slots\n",
		rr.Refreshes, v0, snap.Version(), rr.ClientAgrees, len(moved))
	if rr.ClientAgrees < len(moved) {
		fmt.Fprintln(d.out, "  (slots moved after the last refresh and not used since are learned from the next MOVED or the periodic refresh)")
	}
	fmt.Fprintf(d.out, "read back %d keys with their last acknowledged value: %d wrong or missing\n", rr.KeysVerified, rr.KeysWrong)
	return nil
}

// actFailover kills a primary while the load runs and reports how the
// client came through.
func (d *demo) actFailover(ctx context.Context) error {
	d.heading(headFailover)
	if d.cfg.SkipFailover || d.cfg.Replicas == 0 {
		fmt.Fprintln(d.out, "skipped (-skip-failover, or no replicas)")
		return nil
	}
	ps, err := d.cl.Primaries(ctx)
	if err != nil {
		return err
	}
	var victim, replica *clustertest.Node
	for _, p := range slices.Backward(ps) {
		reps, err := d.cl.ReplicasOf(ctx, p)
		if err != nil {
			return err
		}
		if len(reps) > 0 {
			victim, replica = p, reps[0]
			break
		}
	}
	if victim == nil {
		fmt.Fprintln(d.out, "skipped: no primary has a replica")
		return nil
	}
	// The victim's slots as the router sees them (sample is one of them),
	// else as the cluster says.
	var affected slots.Set
	snap := d.c.Topology().Current()
	if vn, ok := snap.NodeByID(victim.ID); ok {
		if sh, ok := snap.ShardOf(vn); ok {
			affected = sh.Slots()
		}
	}
	if affected.Empty() {
		own, err := d.cl.SlotsOf(ctx, victim)
		if err != nil {
			return err
		}
		for _, s := range own {
			affected.Add(slots.Slot(s))
		}
	}
	nAffected := affected.Count()
	var sample slots.Slot
	for s := range affected.All() {
		sample = s
		break
	}
	l := d.newLoad(true)
	l.affected = &affected
	l.start(ctx)
	sleepCtx(ctx, min(d.cfg.Duration/5, 500*time.Millisecond))
	fmt.Fprintf(d.out, "kill -9 %s (pid %d), primary of %d slots, replica %s; load: GET, SET marked idempotent, plain INCR (a goroutine pauses %s after an error)\n",
		victim.Addr, victim.PID(), nAffected, replica.Addr, demoErrorPause)
	if err := d.cl.Kill(victim); err != nil {
		l.finish()
		return err
	}
	killAt := time.Now() // the process is dead and reaped
	l.killAt.Store(killAt.UnixNano())
	type waited struct {
		n   *clustertest.Node
		err error
		at  time.Duration
	}
	done := make(chan waited, 1)
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	defer cancel()
	go func() {
		n, err := d.cl.WaitFailover(actx, victim)
		done <- waited{n, err, time.Since(killAt)}
	}()
	var w waited
	var clientSaw time.Duration
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	got := false
	var gotAt time.Time
	for i := 0; i < int(demoActTimeout/(10*time.Millisecond))+1000; i++ {
		if got && (clientSaw != 0 || time.Since(gotAt) > 5*time.Second) {
			break
		}
		select {
		case w = <-done:
			got, gotAt = true, time.Now()
		case <-tick.C:
		}
		if clientSaw == 0 {
			if p, ok := d.c.Topology().Current().Primary(sample); ok && p.ID != victim.ID {
				clientSaw = time.Since(killAt)
			}
		}
	}
	if !got {
		w = <-done // actx has ended by now: WaitFailover returns
	}
	if w.err == nil {
		sleepCtx(ctx, max(time.Second, d.cfg.Duration-time.Since(killAt)))
	}
	r := l.finish()
	if w.err != nil {
		return fmt.Errorf("waiting for the failover: %w", w.err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fr := &failoverResult{
		loadResult: r.loadResult, Killed: victim.Addr, Promoted: w.n.Addr,
		ClientSaw: clientSaw, ClusterHealthy: w.at, FirstWrite: r.firstWrite, LastError: r.lastErr,
		ReadsOK: r.ok[opRead], ReadsFailed: r.failed[opRead], IdemOK: r.ok[opSet], IdemFailed: r.failed[opSet],
		IncrOK: r.ok[opIncr], IncrUnknown: r.unknown, IncrFailed: r.failed[opIncr] - r.unknown,
	}
	d.res.Failover = fr
	fmt.Fprintf(d.out, "the replica %s was promoted: the client's topology named it after %s; clustertest saw the cluster healthy after %s\n",
		w.n.Addr, secs(clientSaw), secs(w.at))
	if r.firstWrite > 0 {
		fmt.Fprintf(d.out, "first write to the failed shard's slots succeeded %s after the kill\n", secs(r.firstWrite))
	}
	if r.lastErr > 0 {
		fmt.Fprintf(d.out, "the last error surfaced %s after the kill; every operation succeeded after that\n", secs(r.lastErr))
	} else {
		fmt.Fprintln(d.out, "no error surfaced at all")
	}
	fmt.Fprintf(d.out, "%d operations (%.0f ops/s): GET %d ok / %d failed, idempotent SET %d ok / %d failed, INCR %d ok / %d failed\n",
		r.Ops, r.OpsPerS, fr.ReadsOK, fr.ReadsFailed, fr.IdemOK, fr.IdemFailed, fr.IncrOK, r.failed[opIncr])
	for _, k := range sortedKeys(r.ByKind) {
		fmt.Fprintf(d.out, "  %6d × %s\n", r.ByKind[k], k)
	}
	fmt.Fprintf(d.out, "unknown outcome: %d INCR(s) were sent, then the connection died before a reply; they may or may not have counted, so the router never resends them and tells the caller (router.ErrUnknownOutcome)\n", r.unknown)
	fmt.Fprintln(d.out, "GETs and idempotent SETs cut the same way were retried by the router; fail-fast errors (circuit breaker open) were never sent, so the caller may retry them")
	t := time.Now()
	actx2, cancel2 := context.WithTimeout(ctx, demoActTimeout)
	err = d.cl.Restart(actx2, victim)
	cancel2()
	if err != nil {
		return fmt.Errorf("restarting %s: %w", victim.Addr, err)
	}
	fr.Restart = time.Since(t)
	d.notePIDs()
	role := "a primary"
	if reps, err := d.cl.ReplicasOf(ctx, w.n); err == nil && slices.Contains(reps, victim) {
		role = "a replica of " + w.n.Addr
	}
	fmt.Fprintf(d.out, "the old primary %s restarted (pid %d) and rejoined as %s in %s\n", victim.Addr, victim.PID(), role, secs(fr.Restart))
	return nil
}

// actPlanning reads the live layout into slots/plan, adds an empty
// primary, plans the rebalance, applies a few slots of it and removes the
// node again.
func (d *demo) actPlanning(ctx context.Context) error {
	d.heading(headPlanning)
	addr := d.cl.Addrs()[0]
	lctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	l0, err := liveLayout(lctx, addr, demoLiveTimeout)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the live layout: %w", err)
	}
	fmt.Fprintf(d.out, "live layout read through %s (as slotctl plan -addr does): %s\n", addr, layoutText(l0))
	t := time.Now()
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	added, err := d.cl.AddNode(actx, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("adding a node: %w", err)
	}
	d.notePIDs()
	d.res.Planning.AddedNode = added.Addr
	fmt.Fprintf(d.out, "added an empty primary %s (id %s) with CLUSTER MEET in %s\n", added.Addr, shortID(added.ID), secs(time.Since(t)))
	lctx, cancel = context.WithTimeout(ctx, demoLiveTimeout)
	l1, err := liveLayout(lctx, addr, demoLiveTimeout)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the live layout: %w", err)
	}
	p, err := plan.Rebalance(l1, plan.Options{})
	if err != nil {
		return fmt.Errorf("planning: %w", err)
	}
	pr := &d.res.Planning
	pr.SlotsMoved, pr.RangesAfter, pr.Batches = p.Summary.SlotsMoved, p.Summary.RangesAfter, p.Summary.Batches
	pr.MinimumSlotsMove = minimumMoves(p)
	pr.RedisCLIMoved, pr.RedisCLIRanges = plan.RedisCLIBaseline(l1)
	for _, line := range strings.Split(planSummary(p), "\n") {
		fmt.Fprintln(d.out, "plan.Rebalance: "+line)
	}
	for bi, b := range p.Batches {
		for _, mi := range b {
			m := p.Moves[mi]
			fmt.Fprintf(d.out, "  batch %d: %d slots %s -> %s (%s)\n", bi+1, m.Slots, d.addrOf(m.Source), d.addrOf(m.Target), rangesText(m.Ranges))
		}
	}
	fmt.Fprintf(d.out, "the fewest slots any rebalance can move here: %d; the plan moves %d\n", pr.MinimumSlotsMove, pr.SlotsMoved)
	same := ""
	if pr.RedisCLIMoved == pr.SlotsMoved && pr.RedisCLIRanges == pr.RangesAfter {
		same = ": the same as the plan on this layout"
	}
	fmt.Fprintf(d.out, "redis-cli --cluster rebalance --cluster-use-empty-masters (its algorithm, simulated) would move %d slots and leave %d ranges (plan: %d)%s\n",
		pr.RedisCLIMoved, pr.RedisCLIRanges, pr.RangesAfter, same)

	var applied []uint16
	var back []*clustertest.Node
	if d.cfg.ApplySlots > 0 && len(p.Batches) > 0 {
		m := p.Moves[p.Batches[0][0]]
		src, dst := d.cl.NodeByID(m.Source), d.cl.NodeByID(m.Target)
		if src == nil || dst == nil {
			return fmt.Errorf("plan names unknown nodes %s, %s", m.Source, m.Target)
		}
		for _, r := range m.Ranges {
			for s := int(r.Start); s <= int(r.End) && len(applied) < d.cfg.ApplySlots; s++ {
				applied = append(applied, uint16(s))
			}
		}
		keys := make([]string, len(applied))
		for i, s := range applied {
			keys[i] = keyInSlot(slots.Slot(s))
			if _, err := d.c.Do(ctx, "SET", keys[i], "moved-by-plan"); err != nil {
				return fmt.Errorf("SET %s: %w", keys[i], err)
			}
		}
		t := time.Now()
		actx, cancel := context.WithTimeout(ctx, demoActTimeout)
		for _, s := range applied {
			if err = d.cl.MoveSlot(actx, s, dst); err != nil {
				break
			}
			back = append(back, src)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("applying the plan: %w", err)
		}
		pr.Applied = len(applied)
		m0, _, _ := d.ctr.Total()
		ok := 0
		for _, k := range keys {
			msg, err := d.c.Do(ctx, "GET", k)
			if v, _ := msg.ToString(); err == nil && v == "moved-by-plan" {
				ok++
			}
		}
		m1, _, _ := d.ctr.Total()
		_, n, _ := d.c.Route("GET", keys[0])
		pr.AppliedFollowed = ok == len(keys) && n != nil && n.Addr == dst.Addr
		fmt.Fprintf(d.out, "applied the first %d slot(s) of batch 1 with MoveSlot in %s; GET of a key in each: %d/%d values intact, %d MOVED followed, now routed to %s\n",
			len(applied), secs(time.Since(t)), ok, len(keys), m1-m0, addrOrNone(n))
		t = time.Now()
		actx, cancel = context.WithTimeout(ctx, demoActTimeout)
		for i, s := range applied {
			if err = d.cl.MoveSlot(actx, s, back[i]); err != nil {
				break
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("moving the applied slots back: %w", err)
		}
		fmt.Fprintf(d.out, "moved them back to %s in %s (the demo leaves the cluster as it found it)\n", src.Addr, secs(time.Since(t)))
	}
	t = time.Now()
	actx, cancel = context.WithTimeout(ctx, demoActTimeout)
	err = d.cl.RemoveNode(actx, added)
	cancel()
	if err != nil {
		return fmt.Errorf("removing %s: %w", added.Addr, err)
	}
	pr.RemovedAgain = true
	fmt.Fprintf(d.out, "removed %s again (CLUSTER FORGET on every node) in %s\n", added.Addr, secs(time.Since(t)))
	return nil
}

// addrOf returns the address of the node with id, or a short id.
func (d *demo) addrOf(id string) string {
	if n := d.cl.NodeByID(id); n != nil {
		return n.Addr
	}
	return shortID(id)
}

// printSummary prints one line per act.
func (d *demo) printSummary(w io.Writer) {
	r := d.res
	fmt.Fprintf(w, "\n== %s ==\n", headSummary)
	fmt.Fprintf(w, "cluster     %d primaries × %d replica(s) on 127.0.0.1, started in %s; demo ran %s\n", r.Primaries, r.Replicas, secs(r.Startup), secs(r.Elapsed))
	fmt.Fprintf(w, "keys        cross-slot MGET refused before sending: %v; hash-tagged MGET: %v\n", r.Keys.CrossSlotRejected, r.Keys.TaggedMGETOK)
	fmt.Fprintf(w, "traffic     %d ops at %.0f ops/s, %d errors\n", r.Traffic.Ops, r.Traffic.OpsPerS, r.Traffic.Errors)
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
	fmt.Fprintf(w, "planning    +1 node: plan moves %d slots (minimum %d) into %d ranges; redis-cli: %d slots, %d ranges; %d slots applied and undone\n",
		p.SlotsMoved, p.MinimumSlotsMove, p.RangesAfter, p.RedisCLIMoved, p.RedisCLIRanges, p.Applied)
	fmt.Fprintf(w, "stopped     the cluster: %d redis-server processes, killed by pid\n", len(r.PIDs))
}

// Operation kinds of the load.
const (
	opRead = iota
	opSet
	opIncr
	numOps
)

// load drives GET/SET (and INCR) traffic through the router from
// cfg.Workers goroutines until finish.
type load struct {
	d        *demo
	incr     bool
	affected *slots.Set
	killAt   atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
	workers  []*worker
	began    time.Time
}

// worker is one load goroutine's state; only it writes it until finish.
type worker struct {
	id      int
	expect  []string // last acknowledged value of each owned key ("" none, "?" unknown)
	ops     int64
	ok      [numOps]int64
	failed  [numOps]int64
	unknown int64
	byKind  map[string]int64
	lat     []time.Duration
	first   error
	lastErr time.Duration
	firstWr time.Duration
	pause   bool // the last call failed: pause before the next
}

// loadOutcome is the merged outcome of a load.
type loadOutcome struct {
	loadResult
	ok, failed [numOps]int64
	unknown    int64
	firstErr   error
	lastErr    time.Duration
	firstWrite time.Duration
}

func (d *demo) newLoad(incr bool) *load {
	l := &load{d: d, incr: incr, stop: make(chan struct{})}
	per := d.cfg.Keys / d.cfg.Workers
	for w := range d.cfg.Workers {
		l.workers = append(l.workers, &worker{id: w, expect: make([]string, per), byKind: map[string]int64{}, lastErr: -1, firstWr: -1})
	}
	return l
}

func (l *load) start(ctx context.Context) {
	l.began = time.Now()
	deadline := l.began.Add(demoActTimeout)
	for _, w := range l.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(ctx, w, deadline)
		}()
	}
}

// key returns the name of worker w's j-th key.
func (l *load) key(w, j int) string {
	return "demo:key:" + strconv.Itoa(w+j*len(l.workers))
}

func (l *load) run(ctx context.Context, w *worker, deadline time.Time) {
	rng := rand.New(rand.NewPCG(uint64(w.id)+1, uint64(time.Now().UnixNano())))
	per := len(w.expect)
	cmds := make([]router.Cmd, 0, demoPipeline)
	kinds := make([]int, 0, demoPipeline)
	idx := make([]int, 0, demoPipeline)
	vals := make([]string, 0, demoPipeline)
	next := func(j int, seq int) {
		op := opRead
		switch r := rng.IntN(10); {
		case r < 4:
			op = opSet
		case r < 6 && l.incr:
			op = opIncr
		}
		var cmd router.Cmd
		var val string
		switch op {
		case opRead:
			cmd = router.C("GET", l.key(w.id, j))
		case opSet:
			val = strconv.Itoa(w.id) + ":" + strconv.Itoa(seq)
			cmd = router.Idempotent("SET", l.key(w.id, j), val)
		case opIncr:
			cmd = router.C("INCR", "demo:counter:"+strconv.Itoa(j%demoCounters))
		}
		cmds, kinds, idx, vals = append(cmds, cmd), append(kinds, op), append(idx, j), append(vals, val)
	}
	for i := 0; i < demoMaxOpsPerWorker; i++ {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if i%64 == 0 && time.Now().After(deadline) {
			return
		}
		if w.pause {
			w.pause = false
			sleepCtx(ctx, demoErrorPause)
		}
		cmds, kinds, idx, vals = cmds[:0], kinds[:0], idx[:0], vals[:0]
		j0 := rng.IntN(per)
		if i%2 == 0 {
			for k := range min(demoPipeline, per) {
				next((j0+k)%per, i*demoPipeline+k)
			}
			for k, r := range l.d.c.DoMulti(ctx, cmds...) {
				l.record(ctx, w, cmds[k], kinds[k], idx[k], vals[k], r.Err)
			}
			continue
		}
		next(j0, i*demoPipeline)
		t := time.Now()
		_, err := l.d.c.DoCmd(ctx, cmds[0])
		if len(w.lat) < demoMaxLatencies {
			w.lat = append(w.lat, time.Since(t))
		}
		l.record(ctx, w, cmds[0], kinds[0], idx[0], vals[0], err)
	}
}

// record counts one result.
func (l *load) record(ctx context.Context, w *worker, cmd router.Cmd, op, j int, val string, err error) {
	if err != nil && rueidis.IsRedisNil(err) {
		err = nil
	}
	if err != nil && ctx.Err() != nil {
		return // the demo is being cancelled: not the cluster's doing
	}
	w.ops++
	var since time.Duration = -1
	if k := l.killAt.Load(); k != 0 {
		since = time.Duration(time.Now().UnixNano() - k)
	}
	if err != nil {
		w.pause = true
		w.failed[op]++
		w.byKind[errKind(err)]++
		if errors.Is(err, router.ErrUnknownOutcome) {
			w.unknown++
		}
		if w.first == nil {
			w.first = err
		}
		if since >= 0 {
			w.lastErr = since
		}
		if op == opSet {
			w.expect[j] = "?"
		}
		return
	}
	w.ok[op]++
	if op == opSet {
		w.expect[j] = val
	}
	if op != opRead && since >= 0 && w.firstWr < 0 && l.affected != nil && l.affected.Has(slots.Of(cmd.Args[1])) {
		w.firstWr = since
	}
}

// finish stops the workers, waits for them and merges their counts.
func (l *load) finish() loadOutcome {
	close(l.stop)
	l.wg.Wait()
	var o loadOutcome
	o.Elapsed = time.Since(l.began)
	o.ByKind = map[string]int64{}
	var lat []time.Duration
	o.lastErr, o.firstWrite = 0, 0
	for _, w := range l.workers {
		o.Ops += w.ops
		for k := range numOps {
			o.ok[k] += w.ok[k]
			o.failed[k] += w.failed[k]
			o.Errors += w.failed[k]
		}
		o.unknown += w.unknown
		for k, v := range w.byKind {
			o.ByKind[k] += v
		}
		lat = append(lat, w.lat...)
		if o.firstErr == nil {
			o.firstErr = w.first
		}
		o.lastErr = max(o.lastErr, w.lastErr)
		if w.firstWr >= 0 && (o.firstWrite == 0 || w.firstWr < o.firstWrite) {
			o.firstWrite = w.firstWr
		}
	}
	if o.Elapsed > 0 {
		o.OpsPerS = float64(o.Ops) / o.Elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		o.P50, o.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return o
}

// verify reads back every key whose last write is known and counts those
// that do not hold it.
func (l *load) verify(ctx context.Context) (checked, wrong int, err error) {
	var cmds []router.Cmd
	var want []string
	for _, w := range l.workers {
		for j, v := range w.expect {
			if v == "" || v == "?" {
				continue
			}
			cmds = append(cmds, router.C("GET", l.key(w.id, j)))
			want = append(want, v)
		}
	}
	for start := 0; start < len(cmds); start += 1000 {
		end := min(start+1000, len(cmds))
		for i, r := range l.d.c.DoMulti(ctx, cmds[start:end]...) {
			if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
				return checked, wrong, r.Err
			}
			checked++
			if v, _ := r.Msg.ToString(); v != want[start+i] {
				wrong++
			}
		}
	}
	return checked, wrong, nil
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

// minimumMoves is the fewest slots any plan reaching p's targets moves:
// sum over primaries of max(0, current - target).
func minimumMoves(p *plan.Plan) int {
	total := 0
	for id, rs := range p.Before {
		if t, ok := p.Targets[id]; ok {
			total += max(0, rs.Len()-t)
		}
	}
	return total
}

// keyInSlot returns a key that hashes to slot s (a bounded search: every
// slot is reached well within it).
func keyInSlot(s slots.Slot) string {
	for i := range 1 << 22 {
		k := "demo:plan:" + strconv.Itoa(i)
		if slots.Of(k) == s {
			return k
		}
	}
	return "{" + strconv.Itoa(int(s)) + "}" // not reached in practice
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

// addrOrNone returns n's address, or "(none)" for nil.
func addrOrNone(n *topology.Node) string {
	if n == nil {
		return "(none)"
	}
	return n.Addr
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
