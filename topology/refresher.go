package topology

import (
	"context"
	"errors"
	"fmt"
	"github.com/slotrouter/slotrouter/internal/safe"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/slots"
)

// Defaults of Options for the refresher.
const (
	// DefaultMinInterval is the minimum gap between two topology fetches.
	DefaultMinInterval = 100 * time.Millisecond
	// DefaultPeriod is the interval of the periodic refresh.
	DefaultPeriod = 30 * time.Second
	// DefaultMaxBackoff caps the wait between attempts while no node
	// answers.
	DefaultMaxBackoff = 5 * time.Second
	// NoPeriodicRefresh, as Options.Period, turns the periodic refresh off.
	// (A zero Period means DefaultPeriod.)
	NoPeriodicRefresh time.Duration = -1
)

// Options configures New (and NewLoader, which uses the connection
// fields). The zero value of every field means its default.
type Options struct {
	// Seeds are "host:port" addresses to ask when no known node answers,
	// and at start. Hosts may be IP literals or DNS names; names are
	// resolved again (with LookupHost) on every fall-back to the seeds.
	// Seeds are dialed as given: MapAddr is not applied to them.
	// At least one seed is required.
	Seeds []string

	// ClientOption is the template for the connections to the nodes:
	// Username, Password, AuthCredentialsFn, TLSConfig, Dialer (its Timeout
	// is the dial and handshake timeout, default DefaultDialTimeout),
	// DialCtxFn, ClientName and so on pass through. InitAddress is set per
	// node; ForceSingleClient, DisableCache and DisableRetry are forced on;
	// ReadBufferEachConn, WriteBufferEachConn and RingScaleEachConn are
	// capped at 64 KiB, 4 KiB and 4 (a refresh sends a few small commands).
	ClientOption rueidis.ClientOption

	// MapAddr maps every announced address to a dialable one (see
	// AddrMapper). Nil dials addresses as announced.
	MapAddr AddrMapper

	// LookupHost resolves seed host names. Nil means
	// net.DefaultResolver.LookupHost.
	LookupHost LookupHostFunc

	// NodesPerRefresh is how many random known nodes a refresh asks
	// (default DefaultNodesPerRefresh; fewer when fewer are known), and the
	// group size when asking the seeds (a group is asked SeedGroupDelay
	// after the previous one while no seed has answered). A fetch returns
	// AnswerGrace after the first usable answer, without waiting for slower
	// nodes.
	NodesPerRefresh int

	// NodeTimeout bounds one node's answer, dial included (default
	// DefaultNodeTimeout).
	NodeTimeout time.Duration

	// MinInterval is the minimum gap between the starts of two fetches
	// (default DefaultMinInterval). However many goroutines call Trigger,
	// fetches start at most once per MinInterval plus jitter.
	MinInterval time.Duration

	// Jitter is the upper bound of a random delay added to every gap
	// (default MinInterval/4; negative: none).
	Jitter time.Duration

	// Period is the interval of the periodic refresh (default
	// DefaultPeriod; NoPeriodicRefresh or any negative value turns it
	// off). A periodic refresh first compares cheap digests of the nodes'
	// CLUSTER NODES replies with those of the last rebuild and skips the
	// rebuild when none changed.
	Period time.Duration

	// MaxBackoff caps the exponential backoff between attempts while no
	// node answers (default DefaultMaxBackoff). The first retry waits
	// about 2*MinInterval, then the wait doubles.
	MaxBackoff time.Duration

	// Observer receives an event for every refresh attempt (nil: none).
	// See Observer: callbacks must not block. A panic in it is recovered
	// (see PanicObserver).
	Observer Observer

	// ReplyLimits bounds the lengths, element counts and nesting a node may
	// announce in a reply; a node that exceeds them has its connection
	// failed with an error wrapping ErrProtocol, instead of rueidis
	// allocating what it announced (see ReplyLimits). Zero fields mean the
	// defaults; negative ones are refused by New.
	ReplyLimits ReplyLimits

	// StartUnavailable makes New return a working Refresher even when the
	// first refresh fails (its snapshot is empty; refreshes are retried
	// with backoff in the background). By default New returns the error.
	StartUnavailable bool
}

// Check refuses options that make no sense, naming the field after
// prefix: negative NodesPerRefresh, NodeTimeout, MinInterval, MaxBackoff
// or ReplyLimits. (A negative Jitter or Period has a meaning.)
func (o Options) Check(prefix string) error {
	switch {
	case o.NodesPerRefresh < 0:
		return fmt.Errorf("%s.NodesPerRefresh: %d is negative", prefix, o.NodesPerRefresh)
	case o.NodeTimeout < 0:
		return fmt.Errorf("%s.NodeTimeout: %v is negative", prefix, o.NodeTimeout)
	case o.MinInterval < 0:
		return fmt.Errorf("%s.MinInterval: %v is negative", prefix, o.MinInterval)
	case o.MaxBackoff < 0:
		return fmt.Errorf("%s.MaxBackoff: %v is negative", prefix, o.MaxBackoff)
	}
	return o.ReplyLimits.Check(prefix + ".ReplyLimits")
}

func (o Options) withDefaults() Options {
	if o.NodesPerRefresh <= 0 {
		o.NodesPerRefresh = DefaultNodesPerRefresh
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = DefaultNodeTimeout
	}
	if o.MinInterval <= 0 {
		o.MinInterval = DefaultMinInterval
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = o.MinInterval / 4
	case o.Jitter < 0:
		o.Jitter = 0
	}
	switch {
	case o.Period == 0:
		o.Period = DefaultPeriod
	case o.Period < 0:
		o.Period = 0
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.LookupHost == nil {
		o.LookupHost = net.DefaultResolver.LookupHost
	}
	return o
}

// source is what the Refresher drives: a *Loader in production, a fake in
// unit tests.
type source interface {
	LoadViews(ctx context.Context, prev *Snapshot, ask []string) ([]View, LoadReport, error)
	Probe(ctx context.Context, addrs []string) []NodeReply
	PickNodes(s *Snapshot, n int) []string
	Prune(keep func(addr string) bool)
	Close()
}

// Refresher keeps the current Snapshot of a cluster up to date: it
// refreshes on demand (Trigger, Refresh), periodically, and after failures,
// one fetch at a time and never more often than Options.MinInterval. It
// publishes snapshots with an atomic pointer swap: Current never locks.
// A Refresher is safe for concurrent use. Close it when done.
type Refresher struct {
	src    source
	mapper AddrMapper
	obs    Observer
	gap    time.Duration
	jitter time.Duration
	period time.Duration
	maxBO  time.Duration
	ask    int

	cur atomic.Pointer[Snapshot]

	kick     chan struct{} // capacity 1: pending work
	triggers atomic.Int64
	reason   atomic.Pointer[string]

	mu      sync.Mutex
	waiters []waiter

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has returned
	once   sync.Once

	// Owned by the loop goroutine.
	rnd     *rand.Rand
	digests map[string]uint64
}

type waiter struct {
	cause Cause
	ch    chan error // capacity 1
}

// New starts a Refresher for the cluster reachable through opts.Seeds and
// performs the first refresh synchronously (bounded by ctx). On failure it
// closes everything and returns the error (wrapping ErrNoNodeAnswered when
// no seed answered, also when ctx ended first: the error then wraps ctx's
// error too), unless opts.StartUnavailable is set. A silent seed does not
// hold New up when another seed answers (see Loader.Load).
func New(ctx context.Context, opts Options) (*Refresher, error) {
	if len(opts.Seeds) == 0 {
		return nil, ErrNoSeeds
	}
	if ctx == nil {
		return nil, errNilContext
	}
	if err := opts.Check("topology.Options"); err != nil {
		return nil, err
	}
	r := newRefresher(opts, NewLoader(opts))
	err := r.refresh(ctx, CauseInitial)
	if err != nil && !opts.StartUnavailable {
		r.Close()
		if ctx.Err() != nil && !errors.Is(err, ErrNoNodeAnswered) {
			// ctx ended before any seed answered.
			err = fmt.Errorf("%w: %w", ErrNoNodeAnswered, err)
		}
		return nil, err
	}
	return r, nil
}

// newRefresher starts the loop over src.
func newRefresher(opts Options, src source) *Refresher {
	o := opts.withDefaults()
	empty, _ := NewSnapshot(nil, SnapshotOptions{MapAddr: o.MapAddr.hook()})
	ctx, cancel := context.WithCancel(context.Background())
	r := &Refresher{
		src:     src,
		mapper:  o.MapAddr,
		obs:     o.Observer,
		gap:     o.MinInterval,
		jitter:  o.Jitter,
		period:  o.Period,
		maxBO:   o.MaxBackoff,
		ask:     o.NodesPerRefresh,
		kick:    make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		digests: make(map[string]uint64),
	}
	r.cur.Store(empty)
	go r.loop()
	return r
}

// Current returns the current snapshot: one atomic load, never nil (empty
// before the first successful refresh).
func (r *Refresher) Current() *Snapshot { return r.cur.Load() }

// MapAddr maps an announced address (a MOVED or ASK target, a node address
// from a reply) to the address to dial, with Options.MapAddr.
func (r *Refresher) MapAddr(announced string) string { return r.mapper.mapAddr(announced) }

// Trigger asks for a refresh and returns at once: it never blocks and
// never does I/O. Concurrent and repeated triggers coalesce: a fetch
// answers every trigger made before it started, and fetches start at most
// once per Options.MinInterval. reason is reported to the Observer.
func (r *Refresher) Trigger(reason string) {
	if r.triggers.Add(1) == 1 {
		p := new(string) // only the first trigger of a batch allocates
		*p = reason
		r.reason.Store(p)
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Refresh refreshes synchronously: it waits for a fetch that starts after
// the call (sharing it with concurrent callers and triggers, and honouring
// MinInterval and any backoff) and returns its error. ctx bounds the wait
// only; the fetch itself goes on if ctx ends first.
func (r *Refresher) Refresh(ctx context.Context) error {
	return r.refresh(ctx, CauseRefresh)
}

func (r *Refresher) refresh(ctx context.Context, cause Cause) error {
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	w := waiter{cause: cause, ch: make(chan error, 1)}
	r.mu.Lock()
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-w.ch:
		return err
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ApplyMoved records a MOVED redirect: slot is now served by target (the
// address the redirect named, announced form). It publishes the patched
// snapshot atomically (never overwriting a concurrent publication: the
// patch is re-applied to it) and triggers a refresh when the redirect
// reveals something the snapshot cannot know (an unknown target). The
// result's To.Addr is the dialable address of the new owner.
func (r *Refresher) ApplyMoved(slot slots.Slot, target string) MovedResult {
	var res MovedResult
	for range 100 { // bounded: each lost race means another publication won
		old := r.cur.Load()
		var s *Snapshot
		s, res = old.ApplyMoved(slot, target)
		if s == old || r.cur.CompareAndSwap(old, s) {
			break
		}
	}
	if res.NeedRefresh {
		r.Trigger("MOVED " + target)
	}
	return res
}

// Close stops the refresher's goroutine, waits for it, and closes every
// connection. Pending Refresh calls return ErrClosed. Close can be called
// more than once.
func (r *Refresher) Close() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		r.src.Close()
	})
}

// loop is the refresher's only goroutine: it waits for work, spaces
// fetches, runs them one at a time, and schedules retries and the periodic
// refresh.
func (r *Refresher) loop() {
	defer close(r.done)
	var (
		lastStart    time.Time // zero until the first fetch
		failures     int
		retryAt      time.Time
		nextPeriodic = time.Now().Add(r.period)
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var timerC <-chan time.Time
		due, dueCause := time.Time{}, CausePeriodic
		switch {
		case failures > 0:
			due, dueCause = retryAt, CauseRetry
		case r.period > 0:
			due = nextPeriodic
		}
		if !due.IsZero() {
			timer.Reset(max(0, time.Until(due)))
			timerC = timer.C
		}
		cause := CauseTrigger
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		case <-timerC:
			cause = dueCause
		}
		timer.Stop()

		// Space fetches: MinInterval plus jitter since the last start, and
		// never before the backoff expires. Work arriving meanwhile joins.
		earliest := time.Time{}
		if !lastStart.IsZero() {
			earliest = lastStart.Add(r.gap + r.jitterDelay())
		}
		if failures > 0 && retryAt.After(earliest) {
			earliest = retryAt
		}
		if wait := time.Until(earliest); wait > 0 {
			timer.Reset(wait)
			select {
			case <-r.ctx.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case <-r.kick:
		default:
		}
		ntrig := r.triggers.Swap(0)
		reason := ""
		if p := r.reason.Swap(nil); p != nil && ntrig > 0 {
			reason = *p
		}
		r.mu.Lock()
		waiters := r.waiters
		r.waiters = nil
		r.mu.Unlock()
		switch {
		case len(waiters) > 0:
			cause = waiters[0].cause
			for _, w := range waiters {
				if w.cause == CauseInitial {
					cause = CauseInitial
				}
			}
		case ntrig > 0:
			cause = CauseTrigger
		case cause == CauseTrigger:
			continue // a stale kick: nothing is pending
		}

		lastStart = time.Now()
		ev := r.safeAttempt(cause)
		if r.ctx.Err() != nil { // closed during the attempt
			for _, w := range waiters {
				w.ch <- ErrClosed
			}
			return
		}
		ev.Reason = reason
		ev.Triggers = int(ntrig)
		if ev.Err != nil {
			failures++
			ev.Failures = failures
			ev.Backoff = r.backoff(failures)
			retryAt = time.Now().Add(ev.Backoff)
		} else {
			failures = 0
		}
		nextPeriodic = time.Now().Add(r.period)
		// The observer first, so that a Refresh that returned has been
		// reported.
		if r.obs != nil {
			r.observe(ev)
		}
		for _, w := range waiters {
			w.ch <- ev.Err
		}
	}
}

// observe gives ev to the Observer. A panic in OnRefresh is recovered
// and given to its OnPanic when it is a PanicObserver; otherwise it is
// dropped: the package has no logger, and the Observer that would carry
// the news is the code that panicked.
func (r *Refresher) observe(ev RefreshEvent) {
	err := safe.Call("topology observer", func() { r.obs.OnRefresh(ev) })
	if err == nil {
		return
	}
	if po, ok := r.obs.(PanicObserver); ok {
		_ = safe.Call("topology observer OnPanic", func() { po.OnPanic(err) })
	}
}

// jitterDelay returns a random delay in [0, Jitter).
func (r *Refresher) jitterDelay() time.Duration {
	if r.jitter <= 0 {
		return 0
	}
	return time.Duration(r.rnd.Int64N(int64(r.jitter)))
}

// backoff returns the wait after n consecutive failures: 2^n * MinInterval
// capped at MaxBackoff, with "equal jitter" (half fixed, half random).
func (r *Refresher) backoff(n int) time.Duration {
	d := r.maxBO
	if n < 30 {
		if e := r.gap << n; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(r.rnd.Int64N(int64(half)+1))
}

// safeAttempt is attempt with a panic below it (a parser, a reconcile
// bug, a callback) turned into the attempt's error.
func (r *Refresher) safeAttempt(cause Cause) (ev RefreshEvent) {
	start := time.Now()
	var perr error
	func() {
		defer safe.Recover("topology refresh", &perr, nil)
		ev = r.attempt(cause)
	}()
	if perr != nil {
		ev = RefreshEvent{Cause: cause, Start: start, Duration: time.Since(start), Old: r.cur.Load(), Err: perr}
	}
	return ev
}

// attempt runs one refresh: for a periodic one, the digest probe first;
// then the fetch, the reconciliation and the publication.
func (r *Refresher) attempt(cause Cause) (ev RefreshEvent) {
	ev.Cause = cause
	ev.Start = time.Now()
	defer func() { ev.Duration = time.Since(ev.Start) }()
	old := r.cur.Load()
	ev.Old = old
	var ask []string
	if cause == CausePeriodic && len(r.digests) > 0 {
		ev.Probed = true
		targets := r.probeTargets(old)
		replies := r.src.Probe(r.ctx, targets)
		changed := false
		for _, rep := range replies {
			ev.Asked = append(ev.Asked, rep.Addr)
			if rep.Err != nil {
				continue
			}
			ask = append(ask, rep.Addr)
			if d, ok := r.digests[rep.Addr]; !ok || d != rep.Digest {
				changed = true
			}
		}
		if len(ask) > 0 && !changed {
			ev.Skipped = true
			ev.Answered = ask
			return ev
		}
	}
	views, rep, err := r.src.LoadViews(r.ctx, old, ask)
	ev.Asked = append(ev.Asked, rep.Asked...)
	ev.Answered = rep.Answered
	ev.FromSeeds = rep.FromSeeds
	if err != nil {
		ev.Err = err
		return ev
	}
	prev, s, err := r.publish(views)
	if err != nil {
		ev.Err = fmt.Errorf("topology: reconcile: %w", err)
		return ev
	}
	ev.Old, ev.New = prev, s
	for _, nr := range rep.Replies {
		if nr.Err == nil {
			r.digests[nr.Addr] = nr.Digest
		}
	}
	keep := make(map[string]bool, len(s.nodes))
	for _, n := range s.nodes {
		keep[n.Addr] = true
	}
	for a := range r.digests {
		if !keep[a] {
			delete(r.digests, a)
		}
	}
	r.src.Prune(func(a string) bool { return keep[a] })
	if r.obs != nil {
		ev.Changes = Diff(prev, s)
	}
	return ev
}

// publish reconciles views with the current snapshot and swaps the result
// in. When ApplyMoved published meanwhile, it reconciles again against the
// newer snapshot, so a MOVED fix is never overwritten by a stale fetch.
func (r *Refresher) publish(views []View) (old, s *Snapshot, err error) {
	for range 100 { // bounded: each lost race means another publication won
		old = r.cur.Load()
		s, err = Reconcile(old, views, ReconcileOptions{MapAddr: r.mapper.hook()})
		if err != nil {
			return old, nil, err
		}
		if r.cur.CompareAndSwap(old, s) {
			return old, s, nil
		}
	}
	return old, nil, errors.New("topology: snapshot kept changing during publication")
}

// probeTargets picks the nodes the periodic digest check asks: nodes with
// a recorded digest first (their digests can prove nothing changed), then
// other known nodes.
func (r *Refresher) probeTargets(s *Snapshot) []string {
	var known, other []string
	for _, n := range s.nodes {
		if _, ok := r.digests[n.Addr]; ok {
			known = append(known, n.Addr)
		} else if n.Addr != "" {
			other = append(other, n.Addr)
		}
	}
	r.rnd.Shuffle(len(known), func(i, j int) { known[i], known[j] = known[j], known[i] })
	r.rnd.Shuffle(len(other), func(i, j int) { other[i], other[j] = other[j], other[i] })
	out := append(known, other...)
	return out[:min(r.ask, len(out))]
}
