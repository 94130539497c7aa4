package migrate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// maxDrainRounds bounds the GETKEYSINSLOT/MIGRATE rounds of one slot: keys
// written meanwhile go to the target (ASK), so a slot drains; the bound
// only stops a loop that would not.
const maxDrainRounds = 1 << 22

// maxCountPasses bounds the drain-then-count passes of one round.
const maxCountPasses = 1000

// stateReadTimeout bounds the state read that reports open slots after a
// failure or a stop (the caller's context may be cancelled by then).
const stateReadTimeout = 10 * time.Second

type executor struct {
	opts  Options
	pool  *pool
	plan  *plan.Plan
	obsMu sync.Mutex

	keys        atomic.Int64
	slotsMoved  atomic.Int64
	atomicSlots atomic.Int64
	reclaimed   atomic.Int64

	capMu sync.Mutex
	caps  map[string]Capability

	// untold holds the other primaries a SETSLOT NODE failed on
	// (EventOthersFailed); they are skipped for the rest of the run.
	untold idSet
	// importers holds the targets SETSLOT NODE was sent to (restarts).
	importers idSet

	// nodes are the nodes of the first state read (read-only after it).
	nodes map[string]*nodeState
}

// moveWork is what is left of one move of the plan.
type moveWork struct {
	batch   int
	move    plan.Move
	src     *nodeState
	dst     *nodeState
	others  []*nodeState
	pending []slots.Slot // owned by the source: the whole path
	finish  []slots.Slot // owned by the target (or nobody, importing on the target): SETSLOT NODE only
	// last is the state read by the previous round's check before
	// SETSLOT NODE, for the next round's check before opening.
	last *clusterState
}

// Apply executes p against the cluster reachable through opts.Seeds and
// returns what it did. See the package documentation for the steps, the
// order of SETSLOT NODE, and how a second run resumes an interrupted one.
//
// The Result is never nil. On error it still tells what was done, and lists in Open the
// plan's slots left importing or migrating; running Apply again with the
// same plan finishes them. An error after part of the plan is done says so
// and how to go on (a *StepError, the open slots, or a last line of its
// own). When ctx is cancelled Apply stops between steps and returns an
// error matching ErrStopped and ctx's error.
func Apply(ctx context.Context, p *plan.Plan, opts Options) (*Result, error) {
	start := time.Now()
	res := &Result{}
	if ctx == nil {
		return res, fmt.Errorf("%w: nil context", ErrInvalidOptions)
	}
	if p == nil {
		return res, fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	if err := p.Validate(); err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return res, err
	}
	e := &executor{opts: o, pool: newPool(o), plan: p, caps: map[string]Capability{}}
	defer e.pool.close()
	err = e.run(ctx, res)
	res.Slots = int(e.slotsMoved.Load())
	res.AtomicSlots = int(e.atomicSlots.Load())
	res.Reclaimed = int(e.reclaimed.Load())
	res.Keys = e.keys.Load()
	res.Untold = e.untold.sorted()
	res.Restart = e.restarts(ctx)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrStopped) {
			err = fmt.Errorf("%w (%w): %w", ErrStopped, ctx.Err(), err)
		}
		res.Open = e.openSlots(ctx)
		if len(res.Open) > 0 {
			var b strings.Builder
			for i, o := range res.Open {
				if i == 8 {
					fmt.Fprintf(&b, "; … %d more", len(res.Open)-i)
					break
				}
				if i > 0 {
					b.WriteString("; ")
				}
				b.WriteString(o.String())
			}
			err = fmt.Errorf("%w\nopen slots left by the plan's moves: %s\nrun the same plan again to finish them", err, b.String())
		} else if (res.Slots > 0 || res.AlreadyDone > 0) && !errors.As(err, new(*StepError)) && !errors.Is(err, ErrStopped) {
			// Part of the plan is done and the error (not a step's, which
			// says it) does not tell how to go on.
			err = fmt.Errorf("%w\npart of the plan is done (%d slots moved by this run, %d before it); once the cause is fixed, run the same plan again to finish", err, res.Slots, res.AlreadyDone)
		}
	}
	res.Elapsed = time.Since(start)
	return res, err
}

func (e *executor) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if e.opts.Observer == nil && e.opts.beforeStep == nil {
		return
	}
	e.obsMu.Lock()
	defer e.obsMu.Unlock()
	if ev.Kind == EventStep && e.opts.beforeStep != nil {
		e.opts.beforeStep(ev)
	}
	if e.opts.Observer != nil {
		e.opts.Observer(ev)
	}
}

// planSlots reports whether s is moved by the plan.
func (e *executor) planSlots() func(slots.Slot) bool {
	var set slots.Set
	for _, m := range e.plan.Moves {
		for _, r := range m.Ranges {
			set.AddRange(r)
		}
	}
	return set.Has
}

// openSlots reads the cluster again and lists the plan's open slots.
func (e *executor) openSlots(ctx context.Context) []OpenSlot {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateReadTimeout)
	defer cancel()
	cs, err := e.readState(rctx)
	if err != nil {
		return nil
	}
	// Only the plan's own markers: a slot of the plan opened by another
	// operation (ErrConflict) is not this plan's to finish.
	type pair struct{ src, dst string }
	own := map[slots.Slot]pair{}
	for _, m := range e.plan.Moves {
		for _, r := range m.Ranges {
			for s := r.Start; s <= r.End; s++ {
				own[s] = pair{m.Source, m.Target}
			}
		}
	}
	var out []OpenSlot
	for _, o := range cs.open(e.planSlots()) {
		m := own[o.Slot]
		if (o.State == "migrating" && o.Node == m.src && o.Peer == m.dst) || (o.State == "importing" && o.Node == m.dst && o.Peer == m.src) {
			out = append(out, o)
		}
	}
	return out
}

// readStateRetry is readState with retries of transient failures.
func (e *executor) readStateRetry(ctx context.Context) (*clusterState, error) {
	var cs *clusterState
	err := e.attempt(ctx, Event{Kind: EventStep, Batch: -1}, func(ctx context.Context) error {
		var err error
		cs, err = e.readState(ctx)
		return err
	}, e.opts.CommandTimeout*2)
	return cs, err
}

func (e *executor) run(ctx context.Context, res *Result) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	cs, err := e.readStateRetry(ctx)
	if err != nil {
		return err
	}
	e.nodes = cs.nodes
	works, done, err := e.classify(cs)
	if err != nil {
		return err
	}
	res.AlreadyDone = done
	todo := 0
	for _, w := range works {
		if w != nil {
			todo += len(w.pending) + len(w.finish)
		}
	}
	e.emit(Event{Kind: EventStart, Batch: -1, Slots: todo, Done: done})
	for _, b := range e.plan.Batches {
		var ws []*moveWork
		for _, mi := range b {
			if w := works[mi]; w != nil && len(w.pending)+len(w.finish) > 0 {
				ws = append(ws, w)
			}
		}
		if err := e.runBatch(ctx, ws); err != nil {
			return err
		}
	}
	if err := e.settle(ctx, works); err != nil {
		return err
	}
	e.emit(Event{Kind: EventDone, Batch: -1, Slots: int(e.slotsMoved.Load()), Keys: int(e.keys.Load())})
	return nil
}

// runBatch runs the moves of one batch, at most Parallel at a time. The
// first error stops the others between steps.
func (e *executor) runBatch(ctx context.Context, ws []*moveWork) error {
	if len(ws) == 0 {
		return nil
	}
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, e.opts.Parallel)
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		select {
		case sem <- struct{}{}:
		case <-bctx.Done():
		}
		if bctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("migrate: panic moving %s -> %s: %v", short(w.move.Source), short(w.move.Target), r)
					cancel(siblingFailed{errs[i]})
				}
			}()
			if err := e.runMove(bctx, w); err != nil {
				errs[i] = err
				cancel(siblingFailed{err})
			}
		}()
	}
	wg.Wait()
	// The first real failure, not the stops it caused in the others.
	for _, err := range errs {
		if err != nil && !errors.Is(err, errSiblingFailed) {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return nil
}

// errSiblingFailed marks a move stopped because another move of its batch
// failed.
var errSiblingFailed = errors.New("migrate: stopped because another move failed")

// siblingFailed is the cause runBatch cancels a batch's context with when
// one of its moves failed (err).
type siblingFailed struct{ err error }

func (s siblingFailed) Error() string { return "another move failed: " + s.err.Error() }

// stopErr turns a done context into the error a move returns:
// errSiblingFailed only when runBatch cancelled the batch because another
// move failed; a cause the caller's own context carries (a signal's, for
// example) is a stop like any other.
func stopErr(ctx context.Context) error {
	var sf siblingFailed
	if errors.As(context.Cause(ctx), &sf) {
		return errSiblingFailed
	}
	return fmt.Errorf("%w: %w", ErrStopped, ctx.Err())
}

// classify compares the cluster with the plan: it refuses a cluster that
// does not match Before (outside the plan's own moves), and finds for each
// move the slots still to move or to finish.
func (e *executor) classify(cs *clusterState) ([]*moveWork, int, error) {
	p := e.plan
	var before [slots.Count]string
	for id, rs := range p.Before {
		for _, r := range rs {
			for s := int(r.Start); s <= int(r.End); s++ {
				before[s] = id
			}
		}
	}
	moveOf := make([]int16, slots.Count)
	for i := range moveOf {
		moveOf[i] = -1
	}
	for mi, m := range p.Moves {
		for _, r := range m.Ranges {
			for s := int(r.Start); s <= int(r.End); s++ {
				moveOf[s] = int16(mi)
			}
		}
	}
	batchOf := make([]int, len(p.Moves))
	for bi, b := range p.Batches {
		for _, mi := range b {
			batchOf[mi] = bi
		}
	}
	var problems []string
	nprob := 0
	problem := func(format string, a ...any) {
		nprob++
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	name := func(id string) string {
		if id == "" {
			return "no node"
		}
		return short(id)
	}
	// Open slots that are not the plan's own.
	conflict := 0
	for _, o := range cs.open(nil) {
		mi := moveOf[o.Slot]
		if mi < 0 {
			problem("slot %d is %s on %s (peer %s) and the plan does not move it", o.Slot, o.State, name(o.Node), name(o.Peer))
			continue
		}
		m := p.Moves[mi]
		ok := (o.State == "migrating" && o.Node == m.Source && o.Peer == m.Target) ||
			(o.State == "importing" && o.Node == m.Target && o.Peer == m.Source)
		if !ok {
			conflict++
			problem("slot %d is %s on %s (peer %s), not by the plan's move %s -> %s", o.Slot, o.State, name(o.Node), name(o.Peer), name(m.Source), name(m.Target))
		}
	}
	works := make([]*moveWork, len(p.Moves))
	done := 0
	prims := cs.primaries()
	for s := range slots.Count {
		slot := slots.Slot(s)
		owner := cs.owner[s]
		mi := moveOf[s]
		if mi < 0 {
			if owner != before[s] {
				problem("slot %d: the plan expects %s, the cluster says %s", s, name(before[s]), name(owner))
			}
			continue
		}
		m := p.Moves[mi]
		src, dst := cs.nodes[m.Source], cs.nodes[m.Target]
		if dst == nil || dst.addr == "" {
			problem("move %s -> %s: the target is not in the cluster", name(m.Source), name(m.Target))
			continue
		}
		w := works[mi]
		if w == nil {
			w = &moveWork{batch: batchOf[mi], move: m, src: src, dst: dst}
			for _, n := range prims {
				if n.id != m.Source && n.id != m.Target {
					w.others = append(w.others, n)
				}
			}
			works[mi] = w
		}
		tImp := dst.importing[slot]
		var sMig string
		srcClaims := false
		if src != nil {
			sMig = src.migrating[slot]
			srcClaims = src.reached && src.primary && src.own.Has(slot)
		}
		switch owner {
		case m.Target:
			stale := false
			for _, n := range w.others {
				if b := n.believes[m.Target]; b == nil || !b.Has(slot) {
					stale = true
				}
			}
			// The target may have lost its own word for the slot (stale
			// gossip, see the package doc): telling it again is step 4.
			if sMig != "" || tImp != "" || srcClaims || stale || dst.disowns(slot) {
				w.finish = append(w.finish, slot)
			} else {
				done++
			}
		case m.Source:
			if src == nil || src.addr == "" {
				problem("move %s -> %s: the source is not in the cluster", name(m.Source), name(m.Target))
				continue
			}
			w.pending = append(w.pending, slot)
		case "":
			if tImp == m.Source {
				// The source was told before the target (or the target
				// lost its word): the target imports it and nobody owns
				// it. Giving it to the target is the only way forward.
				w.finish = append(w.finish, slot)
			} else {
				problem("slot %d has no owner (the plan moves it %s -> %s)", s, name(m.Source), name(m.Target))
			}
		default:
			problem("slot %d: the plan moves it %s -> %s, the cluster says it belongs to %s", s, name(m.Source), name(m.Target), name(owner))
		}
	}
	if nprob > 0 {
		more := ""
		if nprob > len(problems) {
			more = fmt.Sprintf("; and %d more", nprob-len(problems))
		}
		if conflict > 0 {
			// A slot the plan moves is open by another operation.
			return nil, 0, fmt.Errorf("%w (%w: %d slots of the plan are open by another operation) (%d problems; make a new plan, or close the open slots first): %s%s",
				ErrPlanMismatch, ErrConflict, conflict, nprob, strings.Join(problems, "; "), more)
		}
		return nil, 0, fmt.Errorf("%w (%d problems; make a new plan, or close the open slots first): %s%s",
			ErrPlanMismatch, nprob, strings.Join(problems, "; "), more)
	}
	return works, done, nil
}

// transient reports whether err is worth another attempt: our own
// per-step timeout (ctx itself still alive), or a kind that needs a
// backoff (TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, connection).
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, errNoAnswer) {
		return true
	}
	if errors.Is(err, rueidis.ErrClosing) {
		// Another move of the batch dropped the shared client of this
		// node after an error of its own: dial again.
		return true
	}
	// MIGRATE passes the target's error on inside its own ("ERR Target
	// instance replied with error: CLUSTERDOWN …"), which retry.Classify,
	// reading only the start of a reply, takes for a plain ERR.
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		if _, rest, ok := strings.Cut(re.Error(), "Target instance replied with error: "); ok {
			return retry.Classify(errors.New(rest)).Kind.NeedsBackoff()
		}
	}
	return retry.Classify(err).Kind.NeedsBackoff()
}

// attempt runs fn until it succeeds, fails for good, or Attempts run out.
// Each try gets its own deadline (timeout) and is not cancelled by ctx once
// sent, so a step is never torn; ctx is checked before every try and
// during the backoff. ev describes the step for the hook and for retry
// events (ev.Kind EventStep is emitted once, before the first try).
func (e *executor) attempt(ctx context.Context, ev Event, fn func(context.Context) error, timeout time.Duration) error {
	if ev.Step != StepNone {
		e.emit(ev)
	}
	var err error
	for a := 0; a < e.opts.Attempts; a++ {
		if ctx.Err() != nil {
			return stopErr(ctx)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		err = fn(sctx)
		cancel()
		if err == nil {
			return nil
		}
		if !transient(ctx, err) || a == e.opts.Attempts-1 {
			break
		}
		r := ev
		r.Kind, r.Attempt, r.Err, r.Time = EventRetry, a+1, err, time.Time{}
		e.emit(r)
		if werr := retry.Wait(ctx, e.opts.Backoff.Delay(a, rand.Uint64)); werr != nil {
			return stopErr(ctx)
		}
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return stopErr(ctx)
	}
	if ctx.Err() == nil && unreachable(err) && !errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// unreachable reports whether err, the last of a step's tries, says that
// the node could not be reached: a connection refused or broken, a client
// closed under the step, or no answer within the step's own deadline.
func unreachable(err error) bool {
	return retry.Classify(err).Kind == retry.KindConn || errors.Is(err, rueidis.ErrClosing) || errors.Is(err, errNoAnswer) ||
		errors.Is(err, context.DeadlineExceeded)
}

// pipe sends one command per slot to addr, pipelined, as one step. A
// transient failure of any command retries the whole pipeline (every step
// sent this way is idempotent). tolerate, when not nil, accepts some error
// replies. The error of the first failing slot is returned with the slot.
func (e *executor) pipe(ctx context.Context, ev Event, addr string, ss []slots.Slot, cmd func(slots.Slot) []string, tolerate func(error) bool, out []rueidis.RedisMessage) (slots.Slot, error) {
	bad, _, err := e.pipeTail(ctx, ev, addr, ss, cmd, tolerate, out, nil)
	return bad, err
}

// pipeTail is pipe with one more command, tail (when not nil), sent after
// the slots' commands in the same pipeline; its reply is returned. A
// failure of tail fails (or retries) the step like any other.
func (e *executor) pipeTail(ctx context.Context, ev Event, addr string, ss []slots.Slot, cmd func(slots.Slot) []string, tolerate func(error) bool, out []rueidis.RedisMessage, tail []string) (slots.Slot, rueidis.RedisMessage, error) {
	var bad slots.Slot
	var tailMsg rueidis.RedisMessage
	ev.Slot, ev.Slots = ss[0], len(ss)
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		c, err := e.pool.get(addr)
		if err != nil {
			return err
		}
		cmds := make(rueidis.Commands, len(ss), len(ss)+1)
		for i, s := range ss {
			cmds[i] = c.B().Arbitrary(cmd(s)...).Build()
		}
		if tail != nil {
			cmds = append(cmds, c.B().Arbitrary(tail...).Build())
		}
		var first error
		for i, r := range c.DoMulti(ctx, cmds...) {
			isTail, at := i == len(ss), ss[0] // the tail's failure is the step's
			if !isTail {
				at = ss[i]
			}
			m, err := r.ToMessage()
			if err != nil && !isTail && tolerate != nil && tolerate(err) {
				err = nil
			}
			if err != nil {
				if retry.Classify(err).Kind == retry.KindConn || errors.Is(err, rueidis.ErrClosing) {
					e.pool.drop(addr, c)
				}
				if first == nil || (!transient(ctx, err) && transient(ctx, first)) {
					// A lasting error wins: retrying will not help.
					first, bad = err, at
				}
				continue
			}
			switch {
			case isTail:
				tailMsg = m
			case out != nil:
				out[i] = m
			}
		}
		return first
	}, e.opts.CommandTimeout)
	return bad, tailMsg, err
}

// notPrimary accepts the refusal of a node that is no longer a primary (a
// drained source that became a replica): it has no slot to give away.
func notPrimary(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	s := re.Error()
	return strings.Contains(s, "only with masters") || strings.Contains(s, "only with primaries") || strings.Contains(s, "not a master")
}

func (e *executor) stepErr(w *moveWork, s slots.Slot, st Step, key string, err error, state string) error {
	if errors.Is(err, ErrStopped) || errors.Is(err, errSiblingFailed) {
		return err
	}
	return &StepError{Slot: s, Source: w.move.Source, Target: w.move.Target, Step: st, Key: key, State: state, Err: err}
}

// runMove moves what is left of one move.
func (e *executor) runMove(ctx context.Context, w *moveWork) error {
	base := Event{Batch: w.batch, Source: w.move.Source, Target: w.move.Target}
	ev := base
	ev.Kind, ev.Slots = EventPairStart, len(w.pending)+len(w.finish)
	if len(w.finish) > 0 {
		ev.Slot = w.finish[0]
	} else {
		ev.Slot = w.pending[0]
	}
	e.emit(ev)
	// Finish what an earlier run left: SETSLOT NODE, target first.
	for i := 0; i < len(w.finish); i += e.opts.SlotsPerRound {
		ss := w.finish[i:min(i+e.opts.SlotsPerRound, len(w.finish))]
		if err := e.assign(ctx, w, base, ss); err != nil {
			return err
		}
		e.slotsMoved.Add(int64(len(ss)))
		e.done(base, ss, false)
	}
	pending := w.pending
	if len(pending) > 0 && e.opts.Mode != ModeKeys {
		kind, err := e.atomicKind(ctx, w)
		if err != nil {
			return err
		}
		if kind != atomicNone {
			var fresh []slots.Slot
			fresh, pending = e.splitFresh(w)
			if err := e.runAtomic(ctx, w, base, kind, fresh); err != nil {
				return err
			}
		}
	}
	for i := 0; i < len(pending); i += e.opts.SlotsPerRound {
		ss := pending[i:min(i+e.opts.SlotsPerRound, len(pending))]
		if err := e.moveRound(ctx, w, base, ss); err != nil {
			return err
		}
	}
	ev = base
	ev.Kind = EventPairDone
	e.emit(ev)
	return nil
}

func (e *executor) done(base Event, ss []slots.Slot, atomicPath bool) {
	ev := base
	ev.Kind, ev.Slot, ev.Slots, ev.Atomic = EventSlotsDone, ss[0], len(ss), atomicPath
	e.emit(ev)
}

// moveRound moves the slots ss (all owned by the source): IMPORTING on the
// target, MIGRATING on the source, the keys, then SETSLOT NODE.
func (e *executor) moveRound(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) error {
	src, dst := w.src, w.dst
	if err := e.precheck(ctx, w, base, ss); err != nil {
		return err
	}
	ev := base
	ev.Kind = EventStep
	ev.Step = StepImporting
	if s, err := e.pipe(ctx, ev, dst.addr, ss, func(s slots.Slot) []string {
		return []string{"CLUSTER", "SETSLOT", itoa(s), "IMPORTING", src.id}
	}, nil, nil); err != nil {
		return e.stepErr(w, s, StepImporting, "", err, "owned by the source; the target may be importing it")
	}
	// MIGRATING is single-valued: another run that set it after us has
	// taken the slot over. The source's CLUSTER NODES, read right after
	// (same pipeline), says whether it is still ours.
	ev.Step = StepMigrating
	s, nodes, err := e.pipeTail(ctx, ev, src.addr, ss, func(s slots.Slot) []string {
		return []string{"CLUSTER", "SETSLOT", itoa(s), "MIGRATING", dst.id}
	}, nil, nil, []string{"CLUSTER", "NODES"})
	if err != nil {
		return e.stepErr(w, s, StepMigrating, "", err, "importing on the target; the source may be migrating it")
	}
	if err := e.checkOursIn(ctx, w, base, ss, nodes); err != nil {
		return err
	}
	if err := e.drainRound(ctx, w, base, ss); err != nil {
		return err
	}
	// Before SETSLOT NODE: still ours, and no other primary importing the
	// slot from the source (a run that lost it, giving keys back); after
	// a wait, drain once more.
	for pass := 0; ; pass++ {
		waited, err := e.awaitExclusive(ctx, w, base, ss)
		if err != nil {
			return err
		}
		if !waited {
			break
		}
		if pass == maxAwaitPasses {
			return e.stepErr(w, ss[0], StepCheck, "", fmt.Errorf("%w: other nodes kept importing the slots from the source after %d waits", ErrConflict, maxAwaitPasses), "importing on the target, migrating on the source")
		}
		if err := e.drainRound(ctx, w, base, ss); err != nil {
			return err
		}
	}
	if err := e.assign(ctx, w, base, ss); err != nil {
		return err
	}
	e.slotsMoved.Add(int64(len(ss)))
	e.done(base, ss, false)
	return nil
}

// drainRound counts the keys of the slots ss on the source (pipelined),
// drains the slots that hold keys, and counts them again until all are
// seen empty after MIGRATING was set. The bound only stops a loop that
// would not end.
func (e *executor) drainRound(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) error {
	src := w.src
	ev := base
	ev.Kind = EventStep
	counts := make([]rueidis.RedisMessage, len(ss))
	ev.Step = StepCount
	if s, err := e.pipe(ctx, ev, src.addr, ss, countKeys, nil, counts); err != nil {
		return e.stepErr(w, s, StepCount, "", err, "importing on the target, migrating on the source")
	}
	keyed := ss
	for pass := 0; ; pass++ {
		var next []slots.Slot
		for i, s := range keyed {
			n, err := counts[i].AsInt64()
			if err != nil {
				return e.stepErr(w, s, StepCount, "", err, "importing on the target, migrating on the source")
			}
			if n > 0 {
				if err := e.drain(ctx, w, base, s); err != nil {
					return err
				}
				next = append(next, s)
			}
		}
		if len(next) == 0 {
			return nil
		}
		if pass == maxCountPasses {
			return e.stepErr(w, next[0], StepCount, "", fmt.Errorf("keys still appear after %d passes", maxCountPasses), "importing on the target, migrating on the source")
		}
		keyed = next
		counts = counts[:len(keyed)]
		if s, err := e.pipe(ctx, ev, src.addr, keyed, countKeys, nil, counts); err != nil {
			return e.stepErr(w, s, StepCount, "", err, "importing on the target, migrating on the source")
		}
	}
}

// assign sends SETSLOT NODE target to the target, then to every other
// primary, then to the source. The target must be first: once it owns the
// slot (with a bumped config epoch) the slot always has an owner, whatever
// happens to the later steps; telling the source first would leave the
// slot with no owner if the run stopped in between (redis#7116). The
// source comes last so that no primary still names it as the owner when it
// stops claiming the slot (see the package doc, "Why the source is told
// last"). A failure on another primary does not fail the run
// (EventOthersFailed).
func (e *executor) assign(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) error {
	if err := e.tellTarget(ctx, w, base, ss, "keys moved; importing on the target, migrating on the source"); err != nil {
		return err
	}
	node := setslotNode(w.dst.id)
	ev := base
	ev.Kind = EventStep
	ev.Step = StepNodeOthers
	for _, o := range w.others {
		if e.untold.has(o.id) {
			e.othersFailed(base, o.id, ss[0], len(ss), ErrSkipped)
			continue
		}
		if _, err := e.pipe(ctx, ev, o.addr, ss, node, notPrimary, nil); err != nil {
			if errors.Is(err, ErrStopped) || errors.Is(err, errSiblingFailed) {
				return err
			}
			// The slots are the target's already (bumped epoch): o learns
			// it by gossip. Not a reason to fail the run.
			e.untold.add(o.id)
			e.othersFailed(base, o.id, ss[0], len(ss), fmt.Errorf("SETSLOT NODE on %s: %w", short(o.id), err))
		}
	}
	if w.src != nil && w.src.addr != "" && w.src.reached {
		ev.Step = StepNodeSource
		if s, err := e.pipe(ctx, ev, w.src.addr, ss, node, notPrimary, nil); err != nil {
			return e.stepErr(w, s, StepNodeSource, "", err, "owned by the target; the source may still show it migrating")
		}
	}
	return nil
}

// tellTarget sends SETSLOT NODE target to the target for the slots ss
// (step StepNodeTarget); state describes the slots for a StepError.
func (e *executor) tellTarget(ctx context.Context, w *moveWork, base Event, ss []slots.Slot, state string) error {
	ev := base
	ev.Kind, ev.Step = EventStep, StepNodeTarget
	e.importers.add(w.dst.id) // its replicas may keep the mark Restart describes
	if s, err := e.pipe(ctx, ev, w.dst.addr, ss, setslotNode(w.dst.id), nil, nil); err != nil {
		return e.stepErr(w, s, StepNodeTarget, "", err, state)
	}
	return nil
}

// setslotNode is the command that gives a slot to the node id, for pipe.
func setslotNode(id string) func(slots.Slot) []string {
	return func(s slots.Slot) []string { return []string{"CLUSTER", "SETSLOT", itoa(s), "NODE", id} }
}

// othersFailed reports that SETSLOT NODE for n slots from s could not be
// sent to the other primary id.
func (e *executor) othersFailed(base Event, id string, s slots.Slot, n int, err error) {
	ev := base
	ev.Kind, ev.Step, ev.Node, ev.Slot, ev.Slots, ev.Err = EventOthersFailed, StepNodeOthers, id, s, n, err
	e.emit(ev)
}

// idSet is a set of node ids, safe for concurrent use (the pairs of a
// batch run at once). The zero value is empty.
type idSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	s.ids[id] = true
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// sorted returns the ids in order (nil when there are none).
func (s *idSet) sorted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// isMigrateTimeout recognises MIGRATE's "IOERR error or timeout ..." reply.
func isMigrateTimeout(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "IOERR")
}

func isBusyKey(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.Contains(re.Error(), "BUSYKEY")
}

// drain moves the keys of slot s from the source to the target, until a
// GETKEYSINSLOT returns fewer than KeysPerBatch keys (the caller then
// checks with COUNTKEYSINSLOT that none is left).
func (e *executor) drain(ctx context.Context, w *moveWork, base Event, s slots.Slot) error {
	src := w.src
	timeout := e.opts.MigrateTimeout
	replace := e.opts.Replace
	const state = "importing on the target, migrating on the source, some keys moved"
	for round := 0; round < maxDrainRounds; round++ {
		ev := base
		ev.Kind, ev.Step, ev.Slot, ev.Slots = EventStep, StepGetKeys, s, 1
		keys, err := e.keysIn(ctx, ev, src.addr, s)
		if err != nil {
			return e.stepErr(w, s, StepGetKeys, "", err, state)
		}
		if len(keys) == 0 {
			return nil
		}
		if round > 0 {
			// A batch boundary: is the slot still ours? (The round's
			// check after MIGRATING covers the first batch, the check
			// before SETSLOT NODE the end.)
			if err := e.checkOurs(ctx, w, base, []slots.Slot{s}); err != nil {
				return err
			}
		}
		for {
			err := e.migrate(ctx, w, base, s, keys, timeout, replace)
			if err == nil {
				break
			}
			if isMigrateTimeout(err) && timeout < e.opts.MaxMigrateTimeout && ctx.Err() == nil {
				// The target may hold a copy written before the timeout:
				// the source's key is the live one, so REPLACE is right.
				timeout = min(4*timeout, e.opts.MaxMigrateTimeout)
				replace = true
				continue
			}
			if isMigrateTimeout(err) {
				return e.stepErr(w, s, StepMigrate, "", fmt.Errorf("MIGRATE of %d keys timed out with the largest timeout %v (raise MaxMigrateTimeout; the keys are still on the source, the target may hold a partial copy that a rerun with Replace overwrites): %w",
					len(keys), e.opts.MaxMigrateTimeout, err), state)
			}
			if isBusyKey(err) && !replace {
				// Name the key: try them one by one.
				for _, k := range keys {
					if kerr := e.migrate(ctx, w, base, s, []string{k}, timeout, false); kerr != nil {
						if isBusyKey(kerr) {
							return e.stepErr(w, s, StepMigrate, k, fmt.Errorf("%w (the target already has this key; if it is a leftover of an interrupted MIGRATE, run again with Replace): %w", ErrBusyKey, kerr), state)
						}
						return e.stepErr(w, s, StepMigrate, k, kerr, state)
					}
				}
				break
			}
			return e.stepErr(w, s, StepMigrate, "", err, state)
		}
		if len(keys) < e.opts.KeysPerBatch {
			// The slot looked empty after this batch: the caller counts
			// again (pipelined with the round's other slots) rather than
			// asking GETKEYSINSLOT once more here.
			return nil
		}
	}
	return e.stepErr(w, s, StepMigrate, "", fmt.Errorf("slot still has keys after %d MIGRATE rounds", maxDrainRounds), state)
}

// keysIn asks addr for up to KeysPerBatch keys of slot s (GETKEYSINSLOT,
// one step, retried).
func (e *executor) keysIn(ctx context.Context, ev Event, addr string, s slots.Slot) ([]string, error) {
	var keys []string
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		m, err := e.pool.do(ctx, addr, "CLUSTER", "GETKEYSINSLOT", itoa(s), strconv.Itoa(e.opts.KeysPerBatch))
		if err != nil {
			return err
		}
		keys, err = m.AsStrSlice()
		return err
	}, e.opts.CommandTimeout)
	return keys, err
}

// countKeys is the command that counts the keys of slot s on a node.
func countKeys(s slots.Slot) []string { return []string{"CLUSTER", "COUNTKEYSINSLOT", itoa(s)} }

// migrate sends one MIGRATE ... KEYS batch.
func (e *executor) migrate(ctx context.Context, w *moveWork, base Event, s slots.Slot, keys []string, timeout time.Duration, replace bool) error {
	args := e.migrateArgs(w.dst, timeout, replace, keys)
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots, ev.Keys = EventStep, StepMigrate, s, 1, len(keys)
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		_, err := e.pool.do(ctx, w.src.addr, args...)
		return err
	}, timeout+e.opts.CommandTimeout)
	if err != nil {
		return err
	}
	e.keys.Add(int64(len(keys)))
	ev.Kind, ev.Step = EventKeys, StepMigrate
	e.emit(ev)
	return nil
}

// migrateArgs builds MIGRATE to node to ... KEYS keys.
func (e *executor) migrateArgs(to *nodeState, timeout time.Duration, replace bool, keys []string) []string {
	args := []string{"MIGRATE", to.migrateHost, strconv.Itoa(to.migratePort), "", "0", strconv.FormatInt(timeout.Milliseconds(), 10)}
	if replace {
		args = append(args, "REPLACE")
	}
	switch e.opts.Username {
	case "":
		if e.opts.Password != "" {
			args = append(args, "AUTH", e.opts.Password)
		}
	default:
		args = append(args, "AUTH2", e.opts.Username, e.opts.Password)
	}
	args = append(args, "KEYS")
	return append(args, keys...)
}

// settle reads the cluster once more and checks it (verifyState). Slots
// of the plan that the other primaries say their target owns but that are
// missing from the target's own view (see the package doc, "Why the
// source is told last") are given back to it first: SETSLOT NODE to the
// target again, EventReclaimed, and the cluster is read again.
func (e *executor) settle(ctx context.Context, works []*moveWork) error {
	cs, err := e.readStateRetry(ctx)
	if err != nil {
		return err
	}
	told := false
	for _, w := range works {
		if w == nil {
			continue
		}
		lost := forgotten(cs, w.move)
		for i := 0; i < len(lost); i += e.opts.SlotsPerRound {
			ss := lost[i:min(i+e.opts.SlotsPerRound, len(lost))]
			base := Event{Batch: w.batch, Source: w.move.Source, Target: w.move.Target}
			ev := base
			ev.Kind, ev.Slot, ev.Slots = EventReclaimed, ss[0], len(ss)
			e.emit(ev)
			// The others name the target already, and the source was
			// told during the move: only the target needs telling.
			if err := e.tellTarget(ctx, w, base, ss, "owned by the target by the others' account, not in its own view"); err != nil {
				return err
			}
			e.reclaimed.Add(int64(len(ss)))
			told = true
		}
	}
	if told {
		if cs, err = e.readStateRetry(ctx); err != nil {
			return err
		}
	}
	return e.verifyState(cs)
}

// forgotten returns the slots of move m that its target, reached and a
// primary, does not list as its own while no reached primary claims them
// and another primary says the target owns them: the target lost its word
// on stale gossip, and only telling it again brings the slot back.
func forgotten(cs *clusterState, m plan.Move) []slots.Slot {
	dst := cs.nodes[m.Target]
	if dst == nil || dst.failed {
		return nil
	}
	prims := cs.primaries()
	var out []slots.Slot
	for _, r := range m.Ranges {
		for s := int(r.Start); s <= int(r.End); s++ {
			slot := slots.Slot(s)
			if !dst.disowns(slot) {
				continue
			}
			claimed, named := false, false
			for _, p := range prims {
				claimed = claimed || p.own.Has(slot)
				if b := p.believes[m.Target]; p != dst && b != nil && b.Has(slot) {
					named = true
				}
			}
			if named && !claimed {
				out = append(out, slot)
			}
		}
	}
	return out
}

// verifyState is settle's check of the state read: every slot of the plan
// owned by its target, claimed by no other primary reached (two primaries
// that both serve a slot have not settled: whichever the cluster keeps,
// the other's keys are lost), and none open.
func (e *executor) verifyState(cs *clusterState) error {
	var bad []string
	n := 0
	prims := cs.primaries()
	for _, m := range e.plan.Moves {
		for _, r := range m.Ranges {
			for s := int(r.Start); s <= int(r.End); s++ {
				if cs.owner[s] != m.Target {
					n++
					if len(bad) < 5 {
						bad = append(bad, fmt.Sprintf("slot %d owned by %s, not %s", s, short(cs.owner[s]), short(m.Target)))
					}
					continue
				}
				if cs.nodes[m.Target].disowns(slots.Slot(s)) {
					n++
					if len(bad) < 5 {
						bad = append(bad, fmt.Sprintf("slot %d is %s's by the others' account, but not in its own view", s, short(m.Target)))
					}
					continue
				}
				for _, p := range prims {
					if p.id != m.Target && p.own.Has(slots.Slot(s)) {
						n++
						if len(bad) < 5 {
							bad = append(bad, fmt.Sprintf("slot %d is claimed by %s as well as by its target %s", s, short(p.id), short(m.Target)))
						}
					}
				}
			}
		}
	}
	if open := cs.open(e.planSlots()); len(open) > 0 {
		n += len(open)
		for _, o := range open[:min(5, len(open))] {
			bad = append(bad, o.String())
		}
	}
	if n > 0 {
		return fmt.Errorf("%w: %d problems: %s", ErrNotFinished, n, strings.Join(bad, "; "))
	}
	return nil
}

// splitFresh splits the pending slots into those without any
// importing/migrating marker (fit for atomic migration) and the rest.
func (e *executor) splitFresh(w *moveWork) (fresh, open []slots.Slot) {
	for _, s := range w.pending {
		_, imp := w.dst.importing[s]
		_, mig := w.src.migrating[s]
		if imp || mig {
			open = append(open, s)
		} else {
			fresh = append(fresh, s)
		}
	}
	return fresh, open
}

// rangesOf turns ascending slots into ranges.
func rangesOf(ss []slots.Slot) []slots.Range {
	var out []slots.Range
	for _, s := range ss {
		if l := len(out); l > 0 && out[l-1].End+1 == s {
			out[l-1].End = s
			continue
		}
		out = append(out, slots.Range{Start: s, End: s})
	}
	return slices.Clip(out)
}
