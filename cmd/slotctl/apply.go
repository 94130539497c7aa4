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
	"sync"
	"time"

	"github.com/slotrouter/slotrouter/migrate"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

const applyUsage = `usage: slotctl apply [flags] -addr HOST:PORT PLANFILE     ("-": read the plan from stdin)

Executes a plan made by "slotctl plan" against the live cluster: per slot
SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE of the
keys, SETSLOT NODE on the target, the source and the other primaries.
Disjoint pairs of a batch run in parallel. The plan's "before" must match
the cluster (slots this plan already moved or left open excepted), so the
same command resumes a run that was interrupted (Ctrl-C, a crash) at any
point. On a terminal a progress line is shown; otherwise progress is
written as JSON lines on stdout.

  slotctl plan rebalance -addr HOST:PORT | slotctl apply -addr HOST:PORT -
`

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runApply(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, applyUsage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "", "a node of the cluster (host:port)")
	timeout := fs.Duration("timeout", 5*time.Second, "dial timeout")
	parallel := fs.Int("parallel", migrate.DefaultParallel, "pairs moving at the same time")
	batch := fs.Int("batch", migrate.DefaultKeysPerBatch, "keys per GETKEYSINSLOT / MIGRATE")
	round := fs.Int("slots-per-round", migrate.DefaultSlotsPerRound, "slots of a pair opened and assigned together (pipelined)")
	mt := fs.Duration("migrate-timeout", migrate.DefaultMigrateTimeout, "MIGRATE timeout; ×4 after a timeout, up to -max-migrate-timeout")
	maxMT := fs.Duration("max-migrate-timeout", migrate.DefaultMaxMigrateTimeout, "largest MIGRATE timeout")
	replace := fs.Bool("replace", false, "MIGRATE ... REPLACE: overwrite keys the target already holds")
	mode := fs.String("mode", "auto", "auto (atomic slot migration when the servers offer it), keys, atomic")
	jsonOut := fs.Bool("json", false, "JSON lines on stdout even on a terminal")
	conn := addConnFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 || *addr == "" {
		fs.Usage()
		return 2
	}
	d, err := conn.config(*timeout)
	if err != nil {
		fmt.Fprintf(stderr, "slotctl apply: %v\n", err)
		return 2
	}
	if msg := applyFlagErrors(*parallel, *batch, *round, *mt, *maxMT); msg != "" {
		fmt.Fprintf(stderr, "slotctl apply: %s\n", msg)
		return 2
	}
	opts := migrate.Options{
		Seeds: []string{*addr}, Username: d.user, Password: d.password, TLSConfig: d.tls,
		DialTimeout: *timeout, Parallel: *parallel, KeysPerBatch: *batch, SlotsPerRound: *round,
		MigrateTimeout: *mt, MaxMigrateTimeout: *maxMT, Replace: *replace,
	}
	switch *mode {
	case "auto":
	case "keys":
		opts.Mode = migrate.ModeKeys
	case "atomic":
		opts.Mode = migrate.ModeAtomic
	default:
		fmt.Fprintf(stderr, "slotctl apply: -mode %q: want auto, keys or atomic\n", *mode)
		return 2
	}
	data, err := readInputContext(ctx, fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "slotctl apply: %v\n", stoppedErr(ctx, err))
		return 1
	}
	p, err := plan.ParsePlan(data)
	if err != nil {
		fmt.Fprintf(stderr, "slotctl apply: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "plan %s\n", planSummary(p))
	pr := &applyProgress{ctx: ctx, w: stdout, json: *jsonOut || !isTerminal(stdout), redact: d.redact, start: time.Now(), pairs: map[string]bool{}}
	opts.Observer = pr.observe
	res, err := migrate.Apply(ctx, p, opts)
	pr.finish(res, err)
	printAfterApply(stderr, res)
	if err != nil {
		msg := d.redact(err.Error())
		if errors.Is(err, migrate.ErrInvalidOptions) {
			fmt.Fprintf(stderr, "slotctl apply: %s\n", msg)
			return 2
		}
		if errors.Is(err, migrate.ErrStopped) {
			fmt.Fprintf(stderr, "slotctl apply: %s\n%d slots moved before the stop; run the same command again to resume\n", msg, res.Slots)
		} else {
			fmt.Fprintf(stderr, "slotctl apply: %s\n", msg)
		}
		return 1
	}
	fmt.Fprintf(stderr, "done: %d slots moved (%d already done), %d keys, in %v\n", res.Slots, res.AlreadyDone, res.Keys, res.Elapsed.Round(time.Millisecond))
	return 0
}

// printAfterApply tells what the operator should know after a run
// besides its outcome: the slots a target had dropped and was given
// back (their keys may be gone), the primaries that were not told the
// new owners (they learn them by gossip), and the replicas to restart
// (see migrate.Restart).
func printAfterApply(w io.Writer, res *migrate.Result) {
	if res.Reclaimed > 0 {
		fmt.Fprintf(w, "%d slots were dropped by their new owner after the move (a stale cluster message) and given back to it: check their keys, which that node may have deleted (the JSON progress names them: event \"reclaimed\")\n", res.Reclaimed)
	}
	if len(res.Untold) > 0 {
		fmt.Fprintf(w, "not told the new owners (unreachable; they learn them by gossip): %s\n", strings.Join(res.Untold, ", "))
	}
	if len(res.Restart) == 0 {
		return
	}
	fmt.Fprintf(w, "restart these replicas, one at a time, before the next failover: on Redis 7.0.13-7.0.15 and 7.2.0-7.2.3 a replica of a primary that imported slots may lose one of them when it is promoted (redis/redis#12564, fixed in 7.2.4):\n")
	for _, r := range res.Restart {
		fmt.Fprintf(w, "  %s %s (replica of %s, Redis %s)\n", r.Addr, r.Replica, r.Primary, r.Version)
	}
}

// applyFlagErrors checks the flags that become migrate.Options (as
// migrate does, but naming the flag, before the plan is read); "" when
// they are fine.
func applyFlagErrors(parallel, batch, round int, mt, maxMT time.Duration) string {
	switch {
	case parallel < 0:
		return fmt.Sprintf("-parallel %d: must be >= 0 (0: the default)", parallel)
	case batch < 0:
		return fmt.Sprintf("-batch %d: must be >= 0 (0: the default)", batch)
	case round < 0 || round > slots.Count:
		return fmt.Sprintf("-slots-per-round %d: must be within 0..%d (0: the default)", round, slots.Count)
	case mt < 0 || (mt > 0 && mt < time.Millisecond):
		return fmt.Sprintf("-migrate-timeout %v: must be 0 (the default) or at least 1ms", mt)
	case maxMT < 0:
		return fmt.Sprintf("-max-migrate-timeout %v: must be >= 0 (0: the default)", maxMT)
	}
	return ""
}

// applyProgress renders migrate events: one updating line on a terminal, JSON
// lines otherwise.
type applyProgress struct {
	mu  sync.Mutex
	ctx context.Context
	w   io.Writer
	// stalled is set when a write did not return within stallGrace of
	// the stop: the writer (a pipe nobody reads) is left behind.
	stalled bool
	json    bool
	redact  func(string) string
	start   time.Time
	last    time.Time
	total   int
	done    int
	keys    int64
	pairs   map[string]bool
}

// applyLine is one JSON progress line.
type applyLine struct {
	Event     string   `json:"event"`
	Step      string   `json:"step,omitempty"`
	Batch     int      `json:"batch"`
	Source    string   `json:"source,omitempty"`
	Target    string   `json:"target,omitempty"`
	Slot      int      `json:"slot"`
	Slots     int      `json:"slots,omitempty"`
	Atomic    bool     `json:"atomic,omitempty"`
	Node      string   `json:"node,omitempty"` // others-failed: the primary not told
	Attempt   int      `json:"attempt,omitempty"`
	Error     string   `json:"error,omitempty"`
	DoneSlots int      `json:"done_slots"`
	Total     int      `json:"total_slots"`
	Keys      int64    `json:"keys"`
	SlotsPerS float64  `json:"slots_per_s"`
	KeysPerS  float64  `json:"keys_per_s"`
	ETASec    *float64 `json:"eta_s,omitempty"`
	Time      string   `json:"time"`
}

func (p *applyProgress) rates() (sps, kps float64, eta *float64) {
	el := time.Since(p.start).Seconds()
	if el <= 0 {
		return 0, 0, nil
	}
	sps, kps = float64(p.done)/el, float64(p.keys)/el
	if sps > 0 {
		e := float64(p.total-p.done) / sps
		eta = &e
	}
	return sps, kps, eta
}

func (p *applyProgress) observe(e migrate.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pair := applyShortID(e.Source) + "->" + applyShortID(e.Target)
	switch e.Kind {
	case migrate.EventStart:
		p.total = e.Slots
	case migrate.EventKeys:
		p.keys += int64(e.Keys)
	case migrate.EventSlotsDone:
		p.done += e.Slots
	case migrate.EventPairStart:
		p.pairs[pair] = true
	case migrate.EventPairDone:
		delete(p.pairs, pair)
	}
	if p.json {
		if e.Kind == migrate.EventStep || e.Kind == migrate.EventKeys {
			return // too many; their effect shows in the counters
		}
		sps, kps, eta := p.rates()
		l := applyLine{Event: e.Kind.String(), Batch: e.Batch, Source: e.Source, Target: e.Target,
			Slot: int(e.Slot), Slots: e.Slots, Atomic: e.Atomic, Node: e.Node, Attempt: e.Attempt,
			DoneSlots: p.done, Total: p.total, Keys: p.keys, SlotsPerS: applyRound1(sps), KeysPerS: applyRound1(kps), ETASec: eta,
			Time: e.Time.UTC().Format(time.RFC3339Nano)}
		if e.Step != migrate.StepNone {
			l.Step = e.Step.String()
		}
		if e.Err != nil {
			l.Error = p.redact(e.Err.Error())
		}
		if eta != nil {
			v := applyRound1(*eta)
			l.ETASec = &v
		}
		b, err := json.Marshal(l)
		if err == nil {
			p.write(append(b, '\n'))
		}
		return
	}
	if time.Since(p.last) < 100*time.Millisecond && e.Kind != migrate.EventDone {
		return
	}
	p.last = time.Now()
	p.line()
}

// line redraws the terminal progress line.
func (p *applyProgress) line() {
	sps, kps, eta := p.rates()
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	pairs := make([]string, 0, len(p.pairs))
	for k := range p.pairs {
		pairs = append(pairs, k)
	}
	etaS := "-"
	if eta != nil {
		etaS = (time.Duration(*eta * float64(time.Second))).Round(time.Second).String()
	}
	p.write(fmt.Appendf(nil, "\r\033[Kslots %d/%d (%.0f%%)  keys %d  %.0f slots/s  %.0f keys/s  ETA %s  moving %s",
		p.done, p.total, pct, p.keys, sps, kps, etaS, strings.Join(pairs, " ")))
}

// finish writes the last line: the result.
func (p *applyProgress) finish(res *migrate.Result, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.json {
		p.line()
		p.write([]byte("\n"))
		return
	}
	type resultLine struct {
		Event string `json:"event"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
		*migrate.Result
	}
	l := resultLine{Event: "result", OK: err == nil, Result: res}
	if err != nil {
		l.Error = p.redact(err.Error())
	}
	if b, jerr := json.Marshal(l); jerr == nil {
		p.write(append(b, '\n'))
	}
}

// stallGrace is how long a progress write may take once apply is stopped.
const stallGrace = 2 * time.Second

// write writes b to p.w (p.mu held). The progress is written from the
// moves' own goroutines, which wait for it: when stdout stalls (a pipe
// nobody reads, a terminal paused with Ctrl-S) a stop must still get
// through. So the write runs in a goroutine; once ctx ends, a write still
// blocked after stallGrace is left behind, and so is every later one.
// Before the stop a slow stdout holds the moves back, as it should.
func (p *applyProgress) write(b []byte) {
	if p.stalled {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // a writer that panics loses its progress line, not the run
		_, _ = p.w.Write(b)
	}()
	var stop <-chan struct{} // nil ctx (tests): never
	if p.ctx != nil {
		stop = p.ctx.Done()
	}
	select {
	case <-done:
		return
	case <-stop:
	}
	t := time.NewTimer(stallGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.stalled = true
	}
}

func applyRound1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func applyShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
