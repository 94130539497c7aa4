package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/internal/loadgen"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// actKeys shows where keys live, a cross-slot command refused before it
// is sent, and the hash-tagged version working.
func (d *demo) actKeys(ctx context.Context) error {
	d.heading(headKeys)
	for _, k := range []string{"user:1000:name", "user:1000:email", "cart:42", "session:7f3a"} {
		slot, node, err := d.c.Route("GET", k)
		if err != nil {
			return fmt.Errorf("route %q: %w", k, err)
		}
		fmt.Fprintf(d.out, "GET %-16s -> slot %5d on %s\n", k, slot, node.Addr())
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
	fmt.Fprintf(d.out, "with the suggested hash tag: MGET %s -> %q, one slot (%d) on %s\n", strings.Join(sk, " "), vals, slot, node.Addr())
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
	l, err := d.startLoad(ctx, workload("mixed-60-40"), nil)
	if err != nil {
		return err
	}
	sleepCtx(ctx, d.cfg.Duration)
	s, err := l.stop()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := loadResultOf(&s)
	r.PerNode = map[string]int64{}
	var total int64
	for _, p := range ps {
		n := d.commandCalls(ctx, p) - before[p.Addr]
		r.PerNode[p.Addr] = n
		total += n
	}
	d.res.Traffic = r
	fmt.Fprintf(d.out, "%d goroutines, %d keys, GET/SET half through DoMulti pipelines of %d, half through Do, for %s\n",
		d.cfg.Workers, d.cfg.Keys, demoPipeline, secs(r.Elapsed))
	fmt.Fprintf(d.out, "%d operations, %.0f ops/s, %d errors; Do latency p50 %s, p99 %s, p999 %s\n",
		r.Ops, r.OpsPerS, r.Errors, loadgen.Dur(r.P50), loadgen.Dur(r.P99), loadgen.Dur(r.P999))
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
	l, err := d.startLoad(ctx, workload("mixed-60-40"), nil)
	if err != nil {
		return err
	}
	began := time.Now()
	sleepCtx(ctx, min(d.cfg.Duration/5, 500*time.Millisecond))
	d.printf("moving %d slots %s -> %s with CLUSTER SETSLOT/MIGRATE from another connection, while %d goroutines run GET/SET\n",
		n, from.Addr, to.Addr, d.cfg.Workers)
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	t := time.Now()
	moved, err := d.cl.MoveSlots(actx, from, to, n)
	cancel()
	moveTime := time.Since(t)
	if err == nil {
		sleepCtx(ctx, max(300*time.Millisecond, d.cfg.Duration-time.Since(began)))
	}
	s, lerr := l.stop()
	if err != nil {
		return fmt.Errorf("moving slots: %w", err)
	}
	if lerr != nil {
		return lerr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m1, a1, r1 := d.ctr.Total()
	rr := reshardResult{
		loadResult: loadResultOf(&s), SlotsMoved: len(moved), MoveTime: moveTime,
		Moved: m1 - m0, Asked: a1 - a0, Retries: r1 - r0, Refreshes: d.refr.published.Load() - f0,
	}
	snap := d.c.Topology().Current()
	rr.ClientAgrees = d.clientAgrees(moved, to.ID)
	vctx, cancel := context.WithTimeout(ctx, demoLiveTimeout)
	v, err := l.Verify(vctx, loadgen.FromRouter(d.c))
	cancel()
	if err != nil {
		return fmt.Errorf("verifying keys: %w", err)
	}
	rr.KeysVerified, rr.KeysWrong = v.Checked, v.Wrong
	d.res.Reshard = rr
	fmt.Fprintf(d.out, "%d slots moved in %s; the load ran %s\n", rr.SlotsMoved, secs(moveTime), secs(rr.Elapsed))
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
	// firstWrite is the first successful write (SET or INCR) to the
	// affected slots after the kill, in nanoseconds since it (0: none).
	var killAt, firstWrite atomic.Int64
	onResult := func(r loadgen.Result) {
		k := killAt.Load()
		if r.Err != nil || r.Kind == loadgen.Get || k == 0 || !affected.Has(slots.Of(r.Key)) {
			return
		}
		since := max(time.Now().UnixNano()-k, 1)
		for range 100 { // bounded CAS: keep the earliest
			old := firstWrite.Load()
			if (old != 0 && old <= since) || firstWrite.CompareAndSwap(old, since) {
				return
			}
		}
	}
	l, err := d.startLoad(ctx, workload("mixed-40-40-20"), onResult)
	if err != nil {
		return err
	}
	sleepCtx(ctx, min(d.cfg.Duration/5, 500*time.Millisecond))
	d.printf("kill -9 %s (pid %d), primary of %d slots, replica %s; load: GET, SET marked idempotent, plain INCR (a goroutine pauses %s after an error)\n",
		victim.Addr, victim.PID(), nAffected, replica.Addr, demoErrorPause)
	if err := d.cl.Kill(victim); err != nil {
		_, _ = l.stop()
		return err
	}
	kill := time.Now() // the process is dead and reaped
	killAt.Store(kill.UnixNano())
	type waited struct {
		n   *clustertest.Node
		err error
		at  time.Duration
	}
	done := make(chan waited, 1)
	actx, cancel := context.WithTimeout(ctx, demoActTimeout)
	defer cancel()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- waited{err: fmt.Errorf("waiting for the failover: panic: %v", r)}
			}
		}()
		n, err := d.cl.WaitFailover(actx, victim)
		done <- waited{n, err, time.Since(kill)}
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
				clientSaw = time.Since(kill)
			}
		}
	}
	if !got {
		w = <-done // actx has ended by now: WaitFailover returns
	}
	if w.err == nil {
		sleepCtx(ctx, max(time.Second, d.cfg.Duration-time.Since(kill)))
	}
	s, lerr := l.stop()
	if w.err != nil {
		return fmt.Errorf("waiting for the failover: %w", w.err)
	}
	if lerr != nil {
		return lerr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var lastErr time.Duration
	if s.LastErrorAt.After(kill) {
		lastErr = s.LastErrorAt.Sub(kill)
	}
	fr := &failoverResult{
		loadResult: loadResultOf(&s), Killed: victim.Addr, Promoted: w.n.Addr,
		ClientSaw: clientSaw, ClusterHealthy: w.at, FirstWrite: time.Duration(firstWrite.Load()), LastError: lastErr,
		ReadsOK: s.OK[loadgen.Get], ReadsFailed: s.Failed[loadgen.Get], IdemOK: s.OK[loadgen.Set], IdemFailed: s.Failed[loadgen.Set],
		IncrOK: s.OK[loadgen.Incr], IncrUnknown: s.Unknown, IncrFailed: s.Failed[loadgen.Incr] - s.Unknown,
	}
	d.res.Failover = fr
	fmt.Fprintf(d.out, "the replica %s was promoted: the client's topology named it after %s; clustertest saw the cluster healthy after %s\n",
		w.n.Addr, secs(clientSaw), secs(w.at))
	if fr.FirstWrite > 0 {
		fmt.Fprintf(d.out, "first write to the failed shard's slots succeeded %s after the kill\n", secs(fr.FirstWrite))
	}
	if fr.LastError > 0 {
		fmt.Fprintf(d.out, "the last error surfaced %s after the kill; every operation succeeded after that\n", secs(fr.LastError))
	} else {
		fmt.Fprintln(d.out, "no error surfaced at all")
	}
	fmt.Fprintf(d.out, "%d operations (%.0f ops/s): GET %d ok / %d failed, idempotent SET %d ok / %d failed, INCR %d ok / %d failed\n",
		fr.Ops, fr.OpsPerS, fr.ReadsOK, fr.ReadsFailed, fr.IdemOK, fr.IdemFailed, fr.IncrOK, s.Failed[loadgen.Incr])
	for _, k := range sortedKeys(s.ByClass) {
		fmt.Fprintf(d.out, "  %6d × %s\n", s.ByClass[k], k)
	}
	fmt.Fprintf(d.out, "unknown outcome: %d INCR(s) were sent, then the connection died before a reply; they may or may not have counted, so the router never resends them and tells the caller (router.ErrUnknownOutcome)\n", s.Unknown)
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

// classify names an error the router surfaced, for the load's counts;
// router.ErrUnknownOutcome is an unknown outcome.
func classify(err error) loadgen.Class {
	return loadgen.Class{Name: errKind(err), Unknown: errors.Is(err, router.ErrUnknownOutcome)}
}
