package router_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// The availability scenarios of issue 9. Each runs on a private cluster of
// three primaries with one replica each and "cluster-require-full-coverage
// no", under a load of availWorkers goroutines that read and write every
// shard with a 5 s deadline per operation. They assert what callers see
// (errors, their kinds, that service comes back); the delays and
// throughputs they measure are only logged, with generous bounds:
// performance figures come from the benchmarks in bench/.

const (
	availWorkers  = 24
	availOpTimout = 5 * time.Second
	// availMaxOps and availMaxRun bound every worker of a load.
	availMaxOps = 50_000
	availMaxRun = 60 * time.Second
	// availPace is each worker's think time between operations, so that
	// 24 workers under -race leave the servers' cluster bus some CPU on a
	// 2-core machine (a starved bus flags healthy nodes).
	availPace = time.Millisecond
)

// startAvailCluster starts a private 3×1 cluster with
// "cluster-require-full-coverage no" (and extra lines), stopped at the end
// of the test. A zero nodeTimeout is clustertest's default (1500 ms).
func startAvailCluster(t *testing.T, nodeTimeout time.Duration, extra ...string) *clustertest.Cluster {
	t.Helper()
	clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.StartTimeout)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{
		Primaries:   3,
		Replicas:    1,
		NodeTimeout: nodeTimeout,
		ExtraConfig: append([]string{"cluster-require-full-coverage no"}, extra...),
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })
	return cl
}

// availShard is one shard of a load: its primary and hash tags of slots it
// owns.
type availShard struct {
	primary *clustertest.Node
	tags    []string
}

// shardTags returns, for every primary in ps, n hash tags ("{av17}") whose
// slots it owns, all slots distinct.
func shardTags(ctx context.Context, t *testing.T, cl *clustertest.Cluster, ps []*clustertest.Node, n int) []availShard {
	t.Helper()
	owner := map[uint16]int{}
	for i, p := range ps {
		ss, err := cl.SlotsOf(ctx, p)
		require.NoError(t, err)
		for _, s := range ss {
			owner[s] = i
		}
	}
	out := make([]availShard, len(ps))
	for i, p := range ps {
		out[i].primary = p
	}
	seen := map[uint16]bool{}
	for i := 0; i < 1_000_000; i++ {
		tag := fmt.Sprintf("{av%d}", i)
		s := uint16(slots.Of(tag))
		j, ok := owner[s]
		if !ok || seen[s] || len(out[j].tags) >= n {
			continue
		}
		seen[s] = true
		out[j].tags = append(out[j].tags, tag)
		done := true
		for _, sh := range out {
			done = done && len(sh.tags) >= n
		}
		if done {
			return out
		}
	}
	t.Fatal("not enough hash tags")
	return nil
}

// slot returns the slot of the shard's first tag.
func (s availShard) slot() slots.Slot { return slots.Of(s.tags[0]) }

type opKind uint8

const (
	opGet  opKind = iota
	opSet         // SET marked idempotent
	opIncr        // plain INCR: its outcome may be unknown
)

func (k opKind) String() string { return [...]string{"GET", "SET", "INCR"}[k] }

// opRec is one operation of a load.
type opRec struct {
	shard      int
	kind       opKind
	start, end time.Time
	err        error
}

// availLoad runs availWorkers goroutines; worker w works on shard
// w%len(shards), on keys of its own tag: GET, idempotent SET, GET, INCR,
// each with a 5 s deadline. It stops by itself after availMaxOps
// operations per worker or availMaxRun.
type availLoad struct {
	c      *router.Client
	shards []availShard
	stopCh chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	recs   [][]opRec

	ok          []atomic.Int64 // successes per shard
	writesOK    []atomic.Int64 // successful writes per shard
	incrFlight  []atomic.Int64 // INCRs in flight per shard
	incrStarted []atomic.Int64 // INCRs started per shard
	hold        []atomic.Bool  // workers of the shard park before their next op
	parked      []atomic.Int64 // workers parked per shard
	workersOf   []int
}

func startAvailLoad(t *testing.T, c *router.Client, shards []availShard) *availLoad {
	t.Helper()
	n := len(shards)
	l := &availLoad{
		c: c, shards: shards, stopCh: make(chan struct{}),
		recs: make([][]opRec, availWorkers),
		ok:   make([]atomic.Int64, n), writesOK: make([]atomic.Int64, n),
		incrFlight: make([]atomic.Int64, n), incrStarted: make([]atomic.Int64, n),
		hold: make([]atomic.Bool, n), parked: make([]atomic.Int64, n),
		workersOf: make([]int, n),
	}
	for w := range availWorkers {
		sh := w % n
		l.workersOf[sh]++
		tag := shards[sh].tags[(w/n)%len(shards[sh].tags)]
		goSafe(t, &l.wg, fmt.Sprintf("load worker %d", w), func() { l.work(w, sh, tag) })
	}
	t.Cleanup(l.stop)
	return l
}

func (l *availLoad) work(w, sh int, tag string) {
	end := time.Now().Add(availMaxRun)
	skey, ikey := fmt.Sprintf("%s:s:%d", tag, w), fmt.Sprintf("%s:i:%d", tag, w)
	recs := make([]opRec, 0, 4096)
	defer func() { l.recs[w] = recs }()
	for i := range availMaxOps {
		for l.hold[sh].Load() {
			l.parked[sh].Add(1)
			for l.hold[sh].Load() {
				select {
				case <-l.stopCh:
					l.parked[sh].Add(-1)
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			l.parked[sh].Add(-1)
		}
		select {
		case <-l.stopCh:
			return
		default:
		}
		if time.Now().After(end) {
			return
		}
		kind := [...]opKind{opGet, opSet, opGet, opIncr}[i%4]
		ctx, cancel := context.WithTimeout(context.Background(), availOpTimout)
		r := opRec{shard: sh, kind: kind, start: time.Now()}
		var err error
		switch kind {
		case opGet:
			_, err = l.c.Do(ctx, "GET", skey)
			if isNil(err) {
				err = nil
			}
		case opSet:
			_, err = l.c.DoCmd(ctx, router.Idempotent("SET", skey, fmt.Sprint(i)))
		case opIncr:
			l.incrStarted[sh].Add(1)
			l.incrFlight[sh].Add(1)
			_, err = l.c.Do(ctx, "INCR", ikey)
			l.incrFlight[sh].Add(-1)
		}
		cancel()
		r.end, r.err = time.Now(), err
		recs = append(recs, r)
		if err == nil {
			l.ok[sh].Add(1)
			if kind != opGet {
				l.writesOK[sh].Add(1)
			}
		}
		select {
		case <-l.stopCh:
			return
		case <-time.After(availPace):
		}
	}
}

// stop stops the workers and waits for them; it returns every record.
func (l *availLoad) stop() {
	l.once.Do(func() { close(l.stopCh) })
	l.wg.Wait()
}

func (l *availLoad) records() []opRec {
	l.stop()
	var all []opRec
	for _, rs := range l.recs {
		all = append(all, rs...)
	}
	return all
}

// okCounts returns the successes per shard.
func (l *availLoad) okCounts() []int64 {
	out := make([]int64, len(l.ok))
	for i := range l.ok {
		out[i] = l.ok[i].Load()
	}
	return out
}

// measureBefore lets the load run for a measurement window of at least
// 1 s and 300 operations per shard, and returns when the window began.
func (l *availLoad) measureBefore(t *testing.T) time.Time {
	t.Helper()
	start := time.Now()
	l.waitOps(t, 300, 30*time.Second)
	waitUntil(t, 5*time.Second, "the measurement window", func() bool { return time.Since(start) >= time.Second })
	return start
}

// waitOps waits until every shard has n more successes than now.
func (l *availLoad) waitOps(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	base := l.okCounts()
	waitUntil(t, within, fmt.Sprintf("%d operations per shard", n), func() bool {
		for i := range l.ok {
			if l.ok[i].Load() < base[i]+n {
				return false
			}
		}
		return true
	})
}

// goSafe runs f on a goroutine of wg, turning a panic into a test error.
func goSafe(t *testing.T, wg *sync.WaitGroup, what string, f func()) {
	wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", what, r)
			}
		}()
		f()
	})
}

// waitUntil polls cond every 10 ms until it holds, failing the test after
// within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// timedEvent is an event of the client with the time it was seen.
type timedEvent struct {
	at time.Time
	router.Event
}

// eventRecorder is an Observer and EventObserver that records the
// availability events (fallback reads only counted) and the first sign
// of trouble per node.
type eventRecorder struct {
	mu      sync.Mutex
	events  []timedEvent
	first   map[string]time.Time
	retries map[retry.Kind]int64

	fallback atomic.Int64
}

func (r *eventRecorder) OnRedirect(router.RedirectEvent) {}

func (r *eventRecorder) OnRetry(e router.RetryEvent) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retries == nil {
		r.retries = map[retry.Kind]int64{}
	}
	r.retries[e.Cause]++
	r.sign(e.Addr, now)
}

func (r *eventRecorder) OnEvent(e router.Event) {
	now := time.Now()
	if e.Kind == router.EventFallbackRead {
		r.fallback.Add(1)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) < 100_000 {
		r.events = append(r.events, timedEvent{at: now, Event: e})
	}
	r.sign(e.Addr, now)
}

func (r *eventRecorder) sign(addr string, now time.Time) {
	if r.first == nil {
		r.first = map[string]time.Time{}
	}
	if _, ok := r.first[addr]; !ok {
		r.first[addr] = now
	}
}

// firstSign returns when the client first reported anything about addr.
func (r *eventRecorder) firstSign(addr string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.first[addr]
	return at, ok
}

// find returns the events for which match holds.
func (r *eventRecorder) find(match func(timedEvent) bool) []timedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []timedEvent
	for _, e := range r.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitStats returns the number of failover waits that ended, and the
// longest.
func (r *eventRecorder) waitStats() (n int, longest time.Duration) {
	for _, e := range r.find(func(e timedEvent) bool { return e.Kind == router.EventFailoverWaitEnd }) {
		n++
		longest = max(longest, e.Duration)
	}
	return n, longest
}

func (r *eventRecorder) kinds() map[string]int {
	out := map[string]int{}
	for _, e := range r.find(func(timedEvent) bool { return true }) {
		out[e.Kind.String()]++
	}
	return out
}

// waitPromotion polls CLUSTER NODES on replica every 10 ms until it
// reports itself a primary, and returns that moment.
func waitPromotion(ctx context.Context, t *testing.T, cl *clustertest.Cluster, replica *clustertest.Node, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, err := cl.Do(ctx, replica, "CLUSTER", "NODES")
		if err == nil {
			s, _ := m.ToString()
			for _, line := range splitLines(s) {
				if strings.Contains(line, "myself,master") {
					return time.Now()
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not promoted within %v (last error %v)", replica, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// availRun is a scenario's client, its events, the shards of the load,
// the victim (shard 0's primary), its replica and the load.
type availRun struct {
	cl      *clustertest.Cluster
	c       *router.Client
	rec     *eventRecorder
	shards  []availShard
	victim  *clustertest.Node
	replica *clustertest.Node
	load    *availLoad
}

// startAvailRun starts the client with opts and the load. With
// replicaOnline it first waits until the client sees the victim's replica
// online (which fallback reads need).
func startAvailRun(ctx context.Context, t *testing.T, cl *clustertest.Cluster, opts router.Options, replicaOnline bool) *availRun {
	t.Helper()
	rec := &eventRecorder{}
	opts.Observer = rec
	c := newLiveClient(t, cl, opts)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	shards := shardTags(ctx, t, cl, ps, availWorkers/len(ps))
	victim := shards[0].primary
	reps, err := cl.ReplicasOf(ctx, victim)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	if replicaOnline {
		waitReplicaOnline(ctx, t, c, shards[0].slot())
	}
	return &availRun{cl: cl, c: c, rec: rec, shards: shards, victim: victim, replica: reps[0], load: startAvailLoad(t, c, shards)}
}

// outcome sums up the records of a failover scenario and asserts what
// the issue asks: no read errors, no errors for idempotent SETs, INCRs
// failing only with ErrUnknownOutcome on the victim's shard and only
// when started before limit; it returns the unknown INCRs. A write of the
// victim's shard whose whole deadline passed before the promotion (a
// loaded machine can take longer than the 5 s deadline to promote) can
// only end with ErrNoPrimary: that is counted and logged, not an error.
func checkFailoverOutcome(t *testing.T, recs []opRec, limit, promoted time.Time) (unknown []opRec) {
	t.Helper()
	counts := map[string]int{}
	late := 0
	defer func() {
		if late > 0 {
			t.Logf("%d writes waited for a primary past their deadline, all before the promotion", late)
		}
	}()
	for _, r := range recs {
		counts[fmt.Sprintf("%s ok=%v", r.kind, r.err == nil)]++
		if r.err == nil {
			continue
		}
		if r.kind != opGet && r.shard == 0 && errors.Is(r.err, router.ErrNoPrimary) && !r.end.After(promoted) {
			late++
			continue
		}
		switch r.kind {
		case opGet:
			t.Errorf("read error (shard %d, %v after start): %v", r.shard, r.end.Sub(r.start), r.err)
		case opSet:
			t.Errorf("idempotent SET error (shard %d, %v after start): %v", r.shard, r.end.Sub(r.start), r.err)
		case opIncr:
			if !errors.Is(r.err, router.ErrUnknownOutcome) {
				t.Errorf("INCR error other than ErrUnknownOutcome (shard %d): %v", r.shard, r.err)
				continue
			}
			assert.Equal(t, 0, r.shard, "unknown outcome only on the victim's shard: %v", r.err)
			assert.True(t, r.start.Before(limit), "an INCR started %v after the limit had an unknown outcome: %v", r.start.Sub(limit), r.err)
			unknown = append(unknown, r)
		}
	}
	t.Logf("operations: %v", counts)
	return unknown
}

// rate returns the successes per second of the healthy shards (not 0)
// that ended within [from, to).
func healthyRate(recs []opRec, from, to time.Time) (int, float64) {
	n := 0
	for _, r := range recs {
		if r.shard != 0 && r.err == nil && !r.end.Before(from) && r.end.Before(to) {
			n++
		}
	}
	return n, float64(n) / to.Sub(from).Seconds()
}

// firstWriteOK returns the end of the first successful write on shard 0
// among those started after t0.
func firstWriteOK(recs []opRec, t0 time.Time) (time.Time, bool) {
	var first time.Time
	for _, r := range recs {
		if r.shard == 0 && r.kind != opGet && r.err == nil && r.start.After(t0) && (first.IsZero() || r.end.Before(first)) {
			first = r.end
		}
	}
	return first, !first.IsZero()
}

// TestAvailabilityKillPrimaryLive kills -9 the primary of shard 0 under
// PrimaryPreferred, with the cluster's default node timeout of clustertest
// (1500 ms).
func TestAvailabilityKillPrimaryLive(t *testing.T) {
	cl := startAvailCluster(t, 0)
	ctx := liveCtx(t, 90*time.Second)
	run := startAvailRun(ctx, t, cl, router.Options{ReadPolicy: router.PrimaryPreferred}, true)
	l := run.load

	l.waitOps(t, 200, 30*time.Second)
	tWarm := l.measureBefore(t)

	flightAtKill := l.incrFlight[0].Load()
	startedAtKill := l.incrStarted[0].Load()
	tKill0 := time.Now()
	require.NoError(t, cl.Kill(run.victim))
	tKill1 := time.Now()
	startedDuringKill := l.incrStarted[0].Load() - startedAtKill
	// A read of the dead shard issued now is served at once by the
	// replica (the "fail open" read of PrimaryPreferred).
	pctx, pcancel := context.WithTimeout(ctx, availOpTimout)
	_, probeErr := run.c.Do(pctx, "GET", run.shards[0].tags[0]+":probe")
	pcancel()
	tProbe := time.Now()
	if isNil(probeErr) {
		probeErr = nil
	}
	tPromo := waitPromotion(ctx, t, cl, run.replica, 30*time.Second)
	writes := l.writesOK[0].Load()
	waitUntil(t, 15*time.Second, "writes on the dead shard after the promotion", func() bool {
		return l.writesOK[0].Load() >= writes+20
	})
	recs := l.records()

	// The kill ends, for the client, when it first notices it (a
	// connection of the pool reads EOF asynchronously): an INCR started
	// before then may have been written to the dying connection.
	limit := tKill1
	if at, ok := run.rec.firstSign(run.victim.Addr); ok && at.After(limit) {
		limit = at
	}
	unknown := checkFailoverOutcome(t, recs, limit, tPromo)
	var startedInWindow int64
	for _, r := range recs {
		if r.shard == 0 && r.kind == opIncr && !r.start.Before(tKill0) && r.start.Before(limit) {
			startedInWindow++
		}
	}
	assert.LessOrEqual(t, int64(len(unknown)), flightAtKill+startedInWindow,
		"INCRs with an unknown outcome were in flight at the kill")

	require.NoError(t, probeErr, "a read of the dead shard")
	if tProbe.Before(tPromo) {
		assert.Positive(t, run.rec.fallback.Load(), "the read before the promotion was served by the replica")
	}

	first, ok := firstWriteOK(recs, tKill1)
	require.True(t, ok, "a write on the dead shard succeeded after the promotion")
	recovery := first.Sub(tPromo)
	assert.Less(t, recovery, 5*time.Second, "writes on the dead shard work again soon after the promotion")

	nBefore, before := healthyRate(recs, tWarm, tKill0)
	nDuring, during := healthyRate(recs, tKill0, tPromo)
	assert.Positive(t, nDuring, "healthy shards served traffic between the kill and the promotion")
	waits, longest := run.rec.waitStats()
	t.Logf("kill -9 %s: promotion of %s %v after the kill; first write on the dead shard %v after the promotion; a read issued after the kill took %v",
		run.victim, run.replica, tPromo.Sub(tKill0).Round(time.Millisecond), recovery.Round(time.Millisecond), tProbe.Sub(tKill1).Round(time.Millisecond))
	t.Logf("INCRs in flight at the kill: %d (+%d started during Kill, which took %v; %d before the client noticed, %v after the kill); unknown outcomes: %d",
		flightAtKill, startedDuringKill, tKill1.Sub(tKill0).Round(time.Millisecond), startedInWindow, limit.Sub(tKill0).Round(time.Millisecond), len(unknown))
	t.Logf("healthy-shard throughput: before %.0f/s (%d ops), kill→promotion %.0f/s (%d ops), ratio %.2f",
		before, nBefore, during, nDuring, during/before)
	t.Logf("failover waits: %d (longest %v); fallback reads: %d; events: %v",
		waits, longest.Round(time.Millisecond), run.rec.fallback.Load(), run.rec.kinds())
}

// TestAvailabilityFreezePrimaryLive freezes the primary of shard 0 with
// SIGSTOP for 8 s under PrimaryPreferred (node timeout 1500 ms): the
// cluster promotes its replica meanwhile. Besides the kill's assertions,
// the frozen node's breaker opens, and closes again once it is resumed
// (as a replica).
//
// The commands sent to the node before anything is known of the freeze
// can only complete once the promotion is seen (their connections are
// then cut): the promotion (about 3 s after the freeze with a 1500 ms node
// timeout) plus the client's detection must fit in their 5 s deadline.
// With the 2000 ms node timeout the promotion takes about 4 s
// and, on a loaded machine, some of them run out of time.
func TestAvailabilityFreezePrimaryLive(t *testing.T) {
	cl := startAvailCluster(t, 0)
	ctx := liveCtx(t, 90*time.Second)
	// A periodic refresh every second lets the client see the woken node
	// healthy again (nothing else asks the cluster once the load has
	// moved to the new primary). A refresh that asks the frozen node does
	// not wait for it (the loader's AnswerGrace), so the default
	// NodeTimeout is kept.
	run := startAvailRun(ctx, t, cl, router.Options{
		ReadPolicy: router.PrimaryPreferred,
		Topology:   topology.Options{Period: time.Second},
	}, true)
	l := run.load
	frozen := run.victim.Addr

	l.waitOps(t, 200, 30*time.Second)
	tWarm := l.measureBefore(t)

	flightAtPause := l.incrFlight[0].Load()
	tPause := time.Now()
	require.NoError(t, cl.Pause(run.victim))
	tPaused := time.Now()
	var resumed atomic.Bool
	t.Cleanup(func() {
		if !resumed.Load() {
			assert.NoError(t, cl.Resume(run.victim))
		}
	})
	// Two probes surely sent to the frozen node: a read, retried at the
	// new owner once the connections are cut, and an INCR, whose outcome
	// is then unknown.
	probe := run.shards[0].tags[0] + ":probe"
	var pw sync.WaitGroup
	var probeGet, probeIncr error
	goSafe(t, &pw, "probe GET", func() {
		pctx, cancel := context.WithTimeout(ctx, availOpTimout)
		defer cancel()
		_, probeGet = run.c.Do(pctx, "GET", probe)
		if isNil(probeGet) {
			probeGet = nil
		}
	})
	goSafe(t, &pw, "probe INCR", func() {
		pctx, cancel := context.WithTimeout(ctx, availOpTimout)
		defer cancel()
		_, probeIncr = run.c.Do(pctx, "INCR", probe)
	})
	tPromo := waitPromotion(ctx, t, cl, run.replica, 30*time.Second)
	writes := l.writesOK[0].Load()
	waitUntil(t, 15*time.Second, "writes on the frozen shard after the promotion", func() bool {
		return l.writesOK[0].Load() >= writes+20
	})
	if rest := 8*time.Second - time.Since(tPause); rest > 0 {
		time.Sleep(rest) // the scenario's fixed 8 s freeze
	}
	resumed.Store(true)
	require.NoError(t, cl.Resume(run.victim))
	tResume := time.Now()
	waitUntil(t, 20*time.Second, "the woken node's breaker to close", func() bool {
		return len(run.rec.find(func(e timedEvent) bool {
			return e.Kind == router.EventBreaker && e.Addr == frozen && e.To == retry.Closed && e.at.After(tResume)
		})) > 0
	})
	tClosed := run.rec.find(func(e timedEvent) bool {
		return e.Kind == router.EventBreaker && e.Addr == frozen && e.To == retry.Closed && e.at.After(tResume)
	})[0].at
	l.waitOps(t, 20, 15*time.Second)
	recs := l.records()
	pw.Wait()
	assert.NoError(t, probeGet, "a read in flight on the frozen node is served by the new owner")
	assert.ErrorIs(t, probeIncr, router.ErrUnknownOutcome, "an INCR in flight on the frozen node has an unknown outcome")
	stuck := map[string]int{}
	for _, r := range recs {
		if r.shard == 0 && r.end.Sub(r.start) > time.Second {
			stuck[fmt.Sprintf("%s ok=%v", r.kind, r.err == nil)]++
		}
	}

	opened := run.rec.find(func(e timedEvent) bool {
		return e.Kind == router.EventBreaker && e.Addr == frozen && e.To == retry.Open && e.at.After(tPause)
	})
	require.NotEmpty(t, opened, "the frozen node's breaker opened")
	cuts := run.rec.find(func(e timedEvent) bool { return e.Kind == router.EventConnsCut && e.Addr == frozen })
	stalls := run.rec.find(func(e timedEvent) bool { return e.Kind == router.EventStall && e.Addr == frozen })

	// Every worker of the frozen shard has at most one operation stuck
	// on the frozen node until its connections are cut; after that its
	// commands go to the new primary.
	limit := tResume
	if len(cuts) > 0 {
		limit = cuts[0].at
	}
	unknown := checkFailoverOutcome(t, recs, limit, tPromo)
	assert.LessOrEqual(t, len(unknown), l.workersOf[0], "at most one unknown INCR per worker of the frozen shard")

	first, ok := firstWriteOK(recs, tPaused)
	require.True(t, ok, "a write on the frozen shard succeeded after the promotion")
	recovery := first.Sub(tPromo)
	assert.Less(t, recovery, 5*time.Second, "writes on the frozen shard work again soon after the promotion")
	nBefore, before := healthyRate(recs, tWarm, tPause)
	nDuring, during := healthyRate(recs, tPause, tPromo)
	assert.Positive(t, nDuring, "healthy shards served traffic between the freeze and the promotion")

	waits, longest := run.rec.waitStats()
	t.Logf("SIGSTOP %s for 8 s: promotion of %s %v after the freeze; first write on the frozen shard %v after the promotion",
		run.victim, run.replica, tPromo.Sub(tPause).Round(time.Millisecond), recovery.Round(time.Millisecond))
	if len(stalls) > 0 {
		t.Logf("stall reported %v after the freeze", stalls[0].at.Sub(tPause).Round(time.Millisecond))
	}
	if len(cuts) > 0 {
		t.Logf("connections cut %v after the freeze (%v after the promotion)",
			cuts[0].at.Sub(tPause).Round(time.Millisecond), cuts[0].at.Sub(tPromo).Round(time.Millisecond))
	}
	t.Logf("breaker opened %v after the freeze; closed %v after the resume",
		opened[0].at.Sub(tPause).Round(time.Millisecond), tClosed.Sub(tResume).Round(time.Millisecond))
	t.Logf("INCRs in flight at the freeze: %d; unknown outcomes: %d; operations of the frozen shard that took over 1 s: %v; probe INCR: %v",
		flightAtPause, len(unknown), stuck, probeIncr)
	t.Logf("healthy-shard throughput: before %.0f/s (%d ops), freeze→promotion %.0f/s (%d ops), ratio %.2f",
		before, nBefore, during, nDuring, during/before)
	t.Logf("failover waits: %d (longest %v); fallback reads: %d; events: %v",
		waits, longest.Round(time.Millisecond), run.rec.fallback.Load(), run.rec.kinds())
}

// TestAvailabilityShortFreezeLive freezes the primary of shard 0 for
// 1.5 s, well below the node timeout (5 s here, so that no failover can
// happen): callers with a 5 s deadline see no error at all, and the node
// keeps its slots.
func TestAvailabilityShortFreezeLive(t *testing.T) {
	cl := startAvailCluster(t, 5*time.Second)
	ctx := liveCtx(t, 60*time.Second)
	run := startAvailRun(ctx, t, cl, router.Options{ReadPolicy: router.PrimaryPreferred}, false)
	l := run.load

	l.waitOps(t, 200, 30*time.Second)
	require.NoError(t, cl.Pause(run.victim))
	var resumed atomic.Bool
	t.Cleanup(func() {
		if !resumed.Load() {
			assert.NoError(t, cl.Resume(run.victim))
		}
	})
	tPause := time.Now()
	time.Sleep(1500 * time.Millisecond) // the scenario's fixed freeze
	resumed.Store(true)
	require.NoError(t, cl.Resume(run.victim))
	l.waitOps(t, 200, 20*time.Second)
	recs := l.records()

	var errs int
	var longest time.Duration
	for _, r := range recs {
		if r.err != nil {
			errs++
			t.Errorf("%s on shard %d failed after %v: %v", r.kind, r.shard, r.end.Sub(r.start), r.err)
		}
		if r.shard == 0 && r.end.After(tPause) {
			longest = max(longest, r.end.Sub(r.start))
		}
	}
	owner, err := cl.OwnerOf(ctx, uint16(run.shards[0].slot()))
	require.NoError(t, err)
	assert.Equal(t, run.victim, owner, "no failover")
	t.Logf("SIGSTOP %s for 1.5 s: %d operations, %d errors, longest on the frozen shard %v; events: %v",
		run.victim, len(recs), errs, longest.Round(time.Millisecond), run.rec.kinds())
}

// TestAvailabilityDepartedNodeLive: a primary gives its slots away and
// leaves the cluster (CLUSTER FORGET by the others, CLUSTER RESET on it)
// while no command of the client touches its slots, so the client never
// hears a MOVED; its periodic refresh is off. The next commands for those
// slots reach the departed node, which answers "CLUSTERDOWN Hash slot not
// served": they wait, the client refreshes, and they are served by the
// new owner, with no error.
func TestAvailabilityDepartedNodeLive(t *testing.T) {
	cl := startAvailCluster(t, 0, "cluster-allow-replica-migration no")
	ctx := liveCtx(t, 90*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	// The departing node: a new primary given the slots of 6 tags of
	// the first primary.
	dep, err := cl.AddNode(ctx, nil)
	require.NoError(t, err)
	shards := shardTags(ctx, t, cl, ps, availWorkers/(len(ps)+1))
	home := shards[0].primary
	var moved []uint16
	for _, tag := range shards[0].tags {
		moved = append(moved, uint16(slots.Of(tag)))
	}
	slices.Sort(moved)
	require.NoError(t, cl.MoveSlotList(ctx, home, dep, moved))
	shards = append([]availShard{{primary: dep, tags: shards[0].tags}}, shards...)
	shards[1].tags = shardTags(ctx, t, cl, []*clustertest.Node{home}, len(shards[0].tags))[0].tags

	rec := &eventRecorder{}
	c := newLiveClient(t, cl, router.Options{
		Observer: rec,
		Topology: topology.Options{Period: topology.NoPeriodicRefresh},
	})
	_, n, err := c.Route("GET", shards[0].tags[0])
	require.NoError(t, err)
	require.Equal(t, dep.Addr, n.Addr(), "the client knows the departing node's slots")
	l := startAvailLoad(t, c, shards)
	l.waitOps(t, 200, 30*time.Second)

	// The clients of those slots pause while the node leaves.
	l.hold[0].Store(true)
	waitUntil(t, 10*time.Second, "the departing shard's workers to park", func() bool {
		return l.parked[0].Load() == int64(l.workersOf[0])
	})
	require.NoError(t, cl.MoveSlotList(ctx, dep, home, moved))
	tSetSlot := time.Now()
	for _, o := range cl.Nodes() {
		if o != dep {
			_, err := cl.Do(ctx, o, "CLUSTER", "FORGET", dep.ID)
			require.NoError(t, err, "FORGET on %s", o)
		}
	}
	_, err = cl.Do(ctx, dep, "CLUSTER", "RESET", "HARD")
	require.NoError(t, err)
	_, err = cl.Do(ctx, dep, "GET", shards[0].tags[0])
	require.ErrorContains(t, err, "CLUSTERDOWN", "the departed node serves no slot")
	_, n, err = c.Route("GET", shards[0].tags[0])
	require.NoError(t, err)
	require.Equal(t, dep.Addr, n.Addr(), "the client has not heard of the move")

	tRelease := time.Now()
	okBefore := l.ok[0].Load()
	l.hold[0].Store(false)
	waitUntil(t, 15*time.Second, "the former slots to be served", func() bool {
		return l.ok[0].Load() >= okBefore+50
	})
	recs := l.records()

	var first time.Time
	var errs int
	for _, r := range recs {
		if r.err != nil {
			errs++
			t.Errorf("%s on shard %d failed after %v: %v", r.kind, r.shard, r.end.Sub(r.start), r.err)
		}
		if r.shard == 0 && r.err == nil && r.start.After(tRelease) && (first.IsZero() || r.end.Before(first)) {
			first = r.end
		}
	}
	require.False(t, first.IsZero())
	assert.Less(t, first.Sub(tSetSlot), 5*time.Second, "served again soon after the last SETSLOT")
	clusterDown := rec.find(func(e timedEvent) bool {
		return e.Kind == router.EventFailoverWaitBegin && e.Addr == dep.Addr && e.Err != nil && strings.Contains(e.Err.Error(), "CLUSTERDOWN")
	})
	assert.NotEmpty(t, clusterDown, "the departed node answered CLUSTERDOWN, and the commands waited")
	_, n, err = c.Route("GET", shards[0].tags[0])
	require.NoError(t, err)
	assert.Equal(t, home.Addr, n.Addr())
	_, longest := rec.waitStats()
	t.Logf("departed node %s: first success %v after the last SETSLOT, %v after the commands resumed; %d errors; %d waits on CLUSTERDOWN (longest wait %v); events: %v",
		dep, first.Sub(tSetSlot).Round(time.Millisecond), first.Sub(tRelease).Round(time.Millisecond), errs, len(clusterDown), longest.Round(time.Millisecond), rec.kinds())
}

// TestAvailabilityReadPoliciesLive checks the read policies on one
// shard of a private cluster.
//
// Nearest: the shard's replica is put behind a proxy that adds 2 ms to
// every request; 2,000 reads of the shard go mostly to the primary, and
// some still to the slow replica (power of two choices).
//
// ReadsDoNotWaitForDeadPrimary: then the primary is killed; lone reads
// under PrimaryPreferred and Nearest go to the replica at once (a refused
// dial is "a connection that just failed"), without waiting for the
// failover.
func TestAvailabilityReadPoliciesLive(t *testing.T) {
	cl := startAvailCluster(t, 0)
	ctx := liveCtx(t, 60*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	sh := shardTags(ctx, t, cl, ps[:1], 8)[0]
	primary := sh.primary
	reps, err := cl.ReplicasOf(ctx, primary)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	replica := reps[0]
	for _, tag := range sh.tags {
		setReplicated(ctx, t, cl, primary, tag+":k", "v")
	}

	t.Run("Nearest", func(t *testing.T) {
		p := newLatencyProxy(t, replica.Addr, 2*time.Millisecond)
		c := newLiveClient(t, cl, router.Options{
			ReadPolicy: router.Nearest,
			MapAddr: func(announced string) string {
				if announced == replica.Addr {
					return p.addr
				}
				return ""
			},
		})
		waitReplicaOnline(ctx, t, c, sh.slot())

		const reads, readers = 2000, 8
		fastBefore := commandCallsOn(ctx, t, cl, primary, "get")
		slowBefore := commandCallsOn(ctx, t, cl, replica, "get")
		var wg sync.WaitGroup
		var errs atomic.Int64
		for r := range readers {
			goSafe(t, &wg, "reader", func() {
				for i := range reads / readers {
					rctx, cancel := context.WithTimeout(ctx, availOpTimout)
					_, err := c.Do(rctx, "GET", sh.tags[(r+i)%len(sh.tags)]+":k")
					cancel()
					if err != nil {
						errs.Add(1)
					}
				}
			})
		}
		wg.Wait()
		fast := commandCallsOn(ctx, t, cl, primary, "get") - fastBefore
		slow := commandCallsOn(ctx, t, cl, replica, "get") - slowBefore
		assert.Zero(t, errs.Load())
		assert.GreaterOrEqual(t, fast+slow, int64(reads), "every read reached the shard")
		assert.Less(t, slow, fast, "the slow node serves fewer reads")
		assert.Positive(t, slow, "the slow node still serves some")
		t.Logf("Nearest over %d reads: fast primary %s %d, slow replica %s (+2 ms) %d (%.0f%%)",
			reads, primary, fast, replica, slow, 100*float64(slow)/float64(fast+slow))
	})

	t.Run("ReadsDoNotWaitForDeadPrimary", func(t *testing.T) {
		policies := []router.ReadPolicy{router.PrimaryPreferred, router.Nearest}
		clients := make([]*router.Client, len(policies))
		recs := make([]*eventRecorder, len(policies))
		for i, pol := range policies {
			recs[i] = &eventRecorder{}
			clients[i] = newLiveClient(t, cl, router.Options{ReadPolicy: pol, Observer: recs[i]})
			waitReplicaOnline(ctx, t, clients[i], sh.slot())
			for _, tag := range sh.tags { // connections up
				_, err := clients[i].Do(ctx, "GET", tag+":k")
				require.NoError(t, err)
			}
		}
		require.NoError(t, cl.Kill(primary))
		for i, pol := range policies {
			for j := range 10 {
				rctx, cancel := context.WithTimeout(ctx, availOpTimout)
				start := time.Now()
				m, err := clients[i].Do(rctx, "GET", sh.tags[j%len(sh.tags)]+":k")
				cancel()
				require.NoError(t, err, "%v: read %d after the kill", pol, j)
				v, _ := m.ToString()
				assert.Equal(t, "v", v)
				if j == 0 {
					t.Logf("%v: first read after the kill took %v", pol, time.Since(start).Round(time.Microsecond))
				}
			}
			waits := recs[i].find(func(e timedEvent) bool { return e.Kind == router.EventFailoverWaitBegin })
			assert.Empty(t, waits, "%v: reads did not wait for the dead primary", pol)
			t.Logf("%v: fallback reads %d, events %v", pol, recs[i].fallback.Load(), recs[i].kinds())
		}
		assert.Positive(t, recs[0].fallback.Load(), "PrimaryPreferred reported its replica reads")
	})
}
