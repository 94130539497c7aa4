// Package loadgen drives a workload of GET, SET and INCR commands through
// a Redis (Cluster) client from several goroutines and measures it:
// operations, errors by class, unknown outcomes, latency histograms
// (p50/p99/p999), and the last acknowledged value of every key for a
// read-back check afterwards (Verify). Live prints a live line on a
// terminal while a load runs.
//
// The client is a small interface (Client: Do(ctx, args...)), so that
// router.Client fits as it is (FromRouter adds idempotence marks and
// pipelines) and other clients can be adapted for comparisons. The demo
// (cmd/slotdemo) runs its acts' traffic with it.
//
// Every key belongs to one worker goroutine, which alone writes it, so
// the last value a worker saw acknowledged is the value the key must
// hold once the load has stopped.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// ErrInvalidOptions is wrapped by the errors of Start and ParseWorkload
// for options they refuse; the message names the field.
var ErrInvalidOptions = errors.New("loadgen: invalid options")

// ErrRunning is returned by Verify while the load still runs.
var ErrRunning = errors.New("loadgen: the load is still running")

// ErrPanic is wrapped by the error Stop returns when a worker panicked.
var ErrPanic = errors.New("loadgen: a worker panicked")

// Defaults of Options.
const (
	DefaultWorkers       = 4
	DefaultKeys          = 10000
	DefaultKeyPrefix     = "loadgen:key:"
	DefaultCounters      = 64
	DefaultCounterPrefix = "loadgen:counter:"
	DefaultOpTimeout     = 5 * time.Second
	DefaultErrorPause    = 10 * time.Millisecond
	DefaultDuration      = time.Minute
	// MaxWorkers and MaxPipeline bound Options.Workers and Pipeline.
	MaxWorkers  = 4096
	MaxPipeline = 1000
)

// maxRounds bounds a worker's loop whatever the clock says.
const maxRounds = 1 << 40

// verifyBatch is the number of GETs Verify sends per pipeline.
const verifyBatch = 1000

// Client is what a load sends its commands through: one command, name
// first, and its reply. A nil reply is returned as rueidis.Nil (or any
// error rueidis.IsRedisNil accepts). *router.Client fits as it is.
// The client must not keep args after Do returns.
type Client interface {
	Do(ctx context.Context, args ...string) (rueidis.RedisMessage, error)
}

// Cmd is one command with its idempotence mark.
type Cmd struct {
	// Args are the command's arguments, name first.
	Args []string
	// Idempotent marks a write that may be sent again when its fate is
	// unknown (the SETs of a workload).
	Idempotent bool
}

// Reply is the reply to one command of a pipeline.
type Reply struct {
	Msg rueidis.RedisMessage
	Err error
}

// CmdClient is implemented by clients that can be told a command is
// idempotent. When the Client given to Start implements it, every
// single command is sent with DoCmd.
type CmdClient interface {
	DoCmd(ctx context.Context, cmd Cmd) (rueidis.RedisMessage, error)
}

// Pipeliner is implemented by clients that send several commands at
// once. DoMulti stores the reply to cmds[i] in replies[i]
// (len(replies) == len(cmds)). When the Client given to Start implements
// it and Options.Pipeline > 1, every second round of a worker is a
// pipeline; Verify uses it too.
type Pipeliner interface {
	DoMulti(ctx context.Context, cmds []Cmd, replies []Reply)
}

// Class is what Options.Classify makes of an error.
type Class struct {
	// Name groups errors in Stats.ByClass.
	Name string
	// Unknown reports that the command may or may not have been executed
	// (sent, then the connection broke): counted in Stats.Unknown.
	Unknown bool
}

// DefaultClassify names an error by what it is: a timeout of the
// per-operation deadline, a server error (by its first word), a
// connection error, or other. It never reports an unknown outcome, which
// only the client can know.
func DefaultClassify(err error) Class {
	var rerr *rueidis.RedisError
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Class{Name: "timeout (per-operation deadline)"}
	case errors.As(err, &rerr):
		word, _, _ := strings.Cut(rerr.Error(), " ")
		return Class{Name: "server error " + word}
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return Class{Name: "connection error"}
	default:
		return Class{Name: "other error"}
	}
}

// Result is one operation's outcome, given to Options.OnResult.
type Result struct {
	// Worker is the index of the worker goroutine.
	Worker int
	// Kind is the operation; Key the key or counter it used.
	Kind Kind
	Key  string
	// Err is the error (nil for success; a nil reply is a success).
	Err error
	// Class is Err's class (zero for success).
	Class Class
}

// Options configures a load. The zero value of every field means its
// default; negative values are refused.
type Options struct {
	// Workload is the mix of operations (default mixed-80-20).
	Workload Workload
	// Workers is the number of goroutines (default DefaultWorkers, at
	// most MaxWorkers).
	Workers int
	// Keys is the size of the key space (default DefaultKeys, at least
	// Workers); worker w owns keys w, w+Workers, w+2*Workers, ...
	Keys int
	// KeyPrefix is put before the key's number (default DefaultKeyPrefix).
	KeyPrefix string
	// Counters is the number of INCR counters, shared by the workers
	// (default DefaultCounters).
	Counters int
	// CounterPrefix is put before a counter's number (default
	// DefaultCounterPrefix).
	CounterPrefix string
	// Pipeline, when above 1, makes every second round of a worker a
	// pipeline of that many commands on distinct keys, when the client
	// is a Pipeliner (default 1: single commands only; at most
	// MaxPipeline). Latency is recorded per single command (Latency) and
	// per pipeline (PipelineLatency).
	Pipeline int
	// OpTimeout is the deadline of each command or pipeline (default
	// DefaultOpTimeout).
	OpTimeout time.Duration
	// ErrorPause is how long a worker pauses after a round that failed,
	// as a polite caller would (default DefaultErrorPause).
	ErrorPause time.Duration
	// Duration is how long the load runs at most; Stop ends it earlier
	// (default DefaultDuration).
	Duration time.Duration
	// Seed seeds the workers' random choices (default: the clock).
	Seed uint64
	// Classify names errors (default DefaultClassify). It must be safe
	// for concurrent use.
	Classify func(error) Class
	// OnResult, when not nil, is called with every counted result, from
	// the worker goroutines: it must be fast and safe for concurrent use.
	OnResult func(Result)
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s %v %s", ErrInvalidOptions, field, v, why)
	}
	if o.Workload == (Workload{}) {
		o.Workload = Workload{Name: "mixed-80-20", Get: 80, Set: 20}
	}
	if err := o.Workload.Validate(); err != nil {
		return o, err
	}
	switch {
	case o.Workers < 0 || o.Workers > MaxWorkers:
		return o, bad("Workers", o.Workers, fmt.Sprintf("is not within 0..%d", MaxWorkers))
	case o.Keys < 0:
		return o, bad("Keys", o.Keys, "is negative")
	case o.Counters < 0:
		return o, bad("Counters", o.Counters, "is negative")
	case o.Pipeline < 0 || o.Pipeline > MaxPipeline:
		return o, bad("Pipeline", o.Pipeline, fmt.Sprintf("is not within 0..%d", MaxPipeline))
	case o.OpTimeout < 0:
		return o, bad("OpTimeout", o.OpTimeout, "is negative")
	case o.ErrorPause < 0:
		return o, bad("ErrorPause", o.ErrorPause, "is negative")
	case o.Duration < 0:
		return o, bad("Duration", o.Duration, "is negative")
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Keys == 0 {
		o.Keys = max(DefaultKeys, o.Workers)
	}
	if o.Keys < o.Workers {
		return o, bad("Keys", o.Keys, fmt.Sprintf("is fewer than the %d workers", o.Workers))
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Counters == 0 {
		o.Counters = DefaultCounters
	}
	if o.CounterPrefix == "" {
		o.CounterPrefix = DefaultCounterPrefix
	}
	if o.Pipeline == 0 {
		o.Pipeline = 1
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.ErrorPause == 0 {
		o.ErrorPause = DefaultErrorPause
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Classify == nil {
		o.Classify = DefaultClassify
	}
	return o, nil
}

// Key states for Verify.
const (
	keyUnwritten uint8 = iota
	keyKnown
	keyUnknown // a SET failed: the value may or may not have been written
)

// Load is a running load. Its methods are safe for concurrent use.
type Load struct {
	opts  Options
	do    func(context.Context, Cmd) (rueidis.RedisMessage, error)
	pl    Pipeliner
	ctx   context.Context
	began time.Time

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	workers   []*worker
	counters  []string
	lastErrAt atomic.Int64 // unix nanoseconds of the latest error, 0: none

	mu       sync.Mutex
	panicErr error
	ended    time.Time
}

// worker is one goroutine's state. The counters are atomics so that
// Snapshot can read them while the worker runs; keys, state and vals are
// written by the worker only and read after it has returned.
type worker struct {
	id      int
	rng     *rand.Rand
	keys    []string
	state   []uint8
	vals    []string
	seq     int
	pause   bool
	ops     atomic.Int64
	errs    atomic.Int64
	unknown atomic.Int64
	ok      [NumKinds]atomic.Int64
	failed  [NumKinds]atomic.Int64
	lat     Histogram
	plat    Histogram

	mu      sync.Mutex
	byClass map[string]int64
	first   error

	// per-round scratch, reused
	cmds    []Cmd
	replies []Reply
	kinds   []Kind
	idx     []int
	args    [][3]string
	setVals []string
}

// Start starts a load of c with opts and returns at once; the load runs
// until Options.Duration has passed, Stop is called or ctx ends. Errors
// of commands sent while ctx ends are not counted: they are the caller's
// doing, not the cluster's.
func Start(ctx context.Context, c Client, opts Options) (*Load, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidOptions)
	}
	if c == nil {
		return nil, fmt.Errorf("%w: nil Client", ErrInvalidOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Load{opts: o, ctx: ctx, stop: make(chan struct{}), done: make(chan struct{})}
	if cc, ok := c.(CmdClient); ok {
		l.do = cc.DoCmd
	} else {
		l.do = func(ctx context.Context, cmd Cmd) (rueidis.RedisMessage, error) { return c.Do(ctx, cmd.Args...) }
	}
	if pl, ok := c.(Pipeliner); ok && o.Pipeline > 1 {
		l.pl = pl
	}
	for i := range o.Counters {
		l.counters = append(l.counters, o.CounterPrefix+strconv.Itoa(i))
	}
	per := o.Keys / o.Workers
	pipe := min(o.Pipeline, per)
	for w := range o.Workers {
		wk := &worker{
			id:      w,
			rng:     rand.New(rand.NewPCG(o.Seed, uint64(w)+1)),
			keys:    make([]string, per),
			state:   make([]uint8, per),
			vals:    make([]string, per),
			byClass: map[string]int64{},
			cmds:    make([]Cmd, 0, pipe),
			replies: make([]Reply, pipe),
			kinds:   make([]Kind, 0, pipe),
			idx:     make([]int, 0, pipe),
			args:    make([][3]string, pipe),
			setVals: make([]string, 0, pipe),
		}
		for j := range per {
			wk.keys[j] = o.KeyPrefix + strconv.Itoa(w+j*o.Workers)
		}
		l.workers = append(l.workers, wk)
	}
	l.began = time.Now()
	deadline := l.began.Add(o.Duration)
	var wg sync.WaitGroup
	for _, wk := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					l.mu.Lock()
					if l.panicErr == nil {
						l.panicErr = fmt.Errorf("%w: worker %d: %v", ErrPanic, wk.id, r)
					}
					l.mu.Unlock()
				}
			}()
			l.run(wk, deadline, pipe)
		}()
	}
	go func() {
		wg.Wait()
		l.mu.Lock()
		l.ended = time.Now()
		l.mu.Unlock()
		close(l.done)
	}()
	return l, nil
}

// Run runs a load for Options.Duration (or until ctx ends) and returns
// its statistics.
func Run(ctx context.Context, c Client, opts Options) (Stats, error) {
	l, err := Start(ctx, c, opts)
	if err != nil {
		return Stats{}, err
	}
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	return l.Stop()
}

// Options returns the options the load runs with, defaults filled in.
func (l *Load) Options() Options { return l.opts }

// Done is closed once every worker has returned (after Stop, at the end
// of Options.Duration, or when the context ended).
func (l *Load) Done() <-chan struct{} { return l.done }

// Stop ends the load: each worker finishes its current command or
// pipeline and returns. Stop waits for them and returns the final
// statistics; the error wraps ErrPanic when a worker panicked. It can
// be called more than once.
func (l *Load) Stop() (Stats, error) {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done // workers return within OpTimeout (plus ErrorPause) of stop
	s := l.Snapshot()
	l.mu.Lock()
	err := l.panicErr
	l.mu.Unlock()
	return s, err
}

// stopped reports whether the load should end.
func (l *Load) stopped() bool {
	select {
	case <-l.stop:
		return true
	case <-l.ctx.Done():
		return true
	default:
		return false
	}
}

// run is worker w's loop.
func (l *Load) run(w *worker, deadline time.Time, pipe int) {
	for round := 0; round < maxRounds; round++ {
		if l.stopped() || !time.Now().Before(deadline) {
			return
		}
		if w.pause {
			w.pause = false
			if !l.sleep(l.opts.ErrorPause) {
				return
			}
		}
		w.cmds, w.kinds, w.idx, w.setVals = w.cmds[:0], w.kinds[:0], w.idx[:0], w.setVals[:0]
		per := len(w.keys)
		j0 := w.rng.IntN(per)
		if l.pl != nil && round%2 == 0 {
			for k := range pipe {
				l.next(w, (j0+k)%per, k)
			}
			ctx, cancel := context.WithTimeout(l.ctx, l.opts.OpTimeout)
			replies := w.replies[:len(w.cmds)]
			clear(replies)
			t := time.Now()
			l.pl.DoMulti(ctx, w.cmds, replies)
			w.plat.Record(time.Since(t))
			cancel()
			for k := range w.cmds {
				l.record(w, k, replies[k].Err)
			}
			continue
		}
		l.next(w, j0, 0)
		ctx, cancel := context.WithTimeout(l.ctx, l.opts.OpTimeout)
		t := time.Now()
		_, err := l.do(ctx, w.cmds[0])
		w.lat.Record(time.Since(t))
		cancel()
		l.record(w, 0, err)
	}
}

// sleep waits d, or until the load stops; it reports whether to go on.
func (l *Load) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	case <-l.ctx.Done():
		return false
	}
}

// next appends to w's round the k-th command, on key j.
func (l *Load) next(w *worker, j, k int) {
	wl := l.opts.Workload
	kind := Get
	switch r := w.rng.IntN(100); {
	case r < wl.Set:
		kind = Set
	case r < wl.Set+wl.Incr:
		kind = Incr
	}
	a := &w.args[k]
	var cmd Cmd
	val := ""
	switch kind {
	case Get:
		a[0], a[1] = "GET", w.keys[j]
		cmd = Cmd{Args: a[:2]}
	case Set:
		w.seq++
		val = strconv.Itoa(w.id) + ":" + strconv.Itoa(w.seq)
		a[0], a[1], a[2] = "SET", w.keys[j], val
		cmd = Cmd{Args: a[:3], Idempotent: true}
	case Incr:
		a[0], a[1] = "INCR", l.counters[j%len(l.counters)]
		cmd = Cmd{Args: a[:2]}
	}
	w.cmds, w.kinds, w.idx, w.setVals = append(w.cmds, cmd), append(w.kinds, kind), append(w.idx, j), append(w.setVals, val)
}

// record counts the result of the k-th command of w's round.
func (l *Load) record(w *worker, k int, err error) {
	if err != nil && rueidis.IsRedisNil(err) {
		err = nil
	}
	if err != nil && l.ctx.Err() != nil {
		return // the caller is cancelling: not the cluster's doing
	}
	kind, j := w.kinds[k], w.idx[k]
	w.ops.Add(1)
	var cl Class
	if err != nil {
		cl = l.opts.Classify(err)
		w.pause = true
		w.failed[kind].Add(1)
		w.errs.Add(1)
		if cl.Unknown {
			w.unknown.Add(1)
		}
		w.mu.Lock()
		w.byClass[cl.Name]++
		if w.first == nil {
			w.first = err
		}
		w.mu.Unlock()
		now := time.Now().UnixNano()
		for i := 0; i < 100; i++ { // bounded CAS: keep the latest
			old := l.lastErrAt.Load()
			if old >= now || l.lastErrAt.CompareAndSwap(old, now) {
				break
			}
		}
		if kind == Set {
			w.state[j] = keyUnknown
		}
	} else {
		w.ok[kind].Add(1)
		if kind == Set {
			w.state[j], w.vals[j] = keyKnown, w.setVals[k]
		}
	}
	if l.opts.OnResult != nil {
		l.opts.OnResult(Result{Worker: w.id, Kind: kind, Key: w.cmds[k].Args[1], Err: err, Class: cl})
	}
}

// Stats are a load's counts. Latency and PipelineLatency are never nil
// in Stats returned by this package.
type Stats struct {
	// Elapsed is how long the load ran (so far).
	Elapsed time.Duration
	// Ops counts every result, Errors the failed ones, Unknown the
	// errors classified as unknown outcomes.
	Ops, Errors, Unknown int64
	// OK and Failed count per kind.
	OK, Failed [NumKinds]int64
	// ByClass counts errors per Class.Name.
	ByClass map[string]int64
	// Latency is the latency of single commands, PipelineLatency of
	// whole pipelines.
	Latency, PipelineLatency *Histogram
	// FirstError is the first error a worker counted (nil: none).
	FirstError error
	// LastErrorAt is when the latest error was counted (zero: none).
	LastErrorAt time.Time
}

// OpsPerSecond returns Ops over Elapsed (0 before any time passed).
func (s *Stats) OpsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// Snapshot returns the counts so far; the load goes on.
func (l *Load) Snapshot() Stats {
	s := Stats{ByClass: map[string]int64{}, Latency: new(Histogram), PipelineLatency: new(Histogram)}
	l.mu.Lock()
	end := l.ended
	l.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	s.Elapsed = end.Sub(l.began)
	for _, w := range l.workers {
		s.Ops += w.ops.Load()
		s.Errors += w.errs.Load()
		s.Unknown += w.unknown.Load()
		for k := range NumKinds {
			s.OK[k] += w.ok[k].Load()
			s.Failed[k] += w.failed[k].Load()
		}
		s.Latency.Merge(&w.lat)
		s.PipelineLatency.Merge(&w.plat)
		w.mu.Lock()
		for c, n := range w.byClass {
			s.ByClass[c] += n
		}
		if s.FirstError == nil {
			s.FirstError = w.first
		}
		w.mu.Unlock()
	}
	if ns := l.lastErrAt.Load(); ns != 0 {
		s.LastErrorAt = time.Unix(0, ns)
	}
	return s
}

// Verified is the outcome of Verify.
type Verified struct {
	// Checked counts the keys whose last write was acknowledged, read
	// back; Wrong those that did not hold that value (or were missing).
	Checked, Wrong int
	// Unknown counts keys skipped because their last SET failed (it may
	// or may not have been written).
	Unknown int
	// FirstWrong names the first wrong key ("" none).
	FirstWrong string
}

// Verify reads back, through c, every key whose last SET was
// acknowledged and counts those that do not hold that value. It refuses
// to run (ErrRunning) before the load has stopped. c is used as a
// Pipeliner, in pipelines of 1000 GETs, when it is one.
func (l *Load) Verify(ctx context.Context, c Client) (Verified, error) {
	var v Verified
	if c == nil {
		return v, fmt.Errorf("%w: nil Client", ErrInvalidOptions)
	}
	select {
	case <-l.done:
	default:
		return v, ErrRunning
	}
	var cmds []Cmd
	var want []string
	for _, w := range l.workers {
		for j, st := range w.state {
			switch st {
			case keyKnown:
				cmds = append(cmds, Cmd{Args: []string{"GET", w.keys[j]}})
				want = append(want, w.vals[j])
			case keyUnknown:
				v.Unknown++
			}
		}
	}
	pl, _ := c.(Pipeliner)
	replies := make([]Reply, min(verifyBatch, len(cmds)))
	for start := 0; start < len(cmds); start += verifyBatch {
		end := min(start+verifyBatch, len(cmds))
		batch := replies[:end-start]
		if pl != nil {
			pl.DoMulti(ctx, cmds[start:end], batch)
		} else {
			for i, cmd := range cmds[start:end] {
				batch[i].Msg, batch[i].Err = c.Do(ctx, cmd.Args...)
			}
		}
		for i, r := range batch {
			if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
				return v, fmt.Errorf("loadgen: verify GET %s: %w", cmds[start+i].Args[1], r.Err)
			}
			v.Checked++
			if got, _ := r.Msg.ToString(); r.Err != nil || got != want[start+i] {
				v.Wrong++
				if v.FirstWrong == "" {
					v.FirstWrong = cmds[start+i].Args[1]
				}
			}
		}
	}
	return v, nil
}

// DoFunc is a function used as a Client.
type DoFunc func(ctx context.Context, args ...string) (rueidis.RedisMessage, error)

// Do calls f.
func (f DoFunc) Do(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
	return f(ctx, args...)
}
