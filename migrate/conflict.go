package migrate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// errNoAnswer is a transient failure of a state read: a node whose state
// is needed did not answer (its connection may have been dropped).
var errNoAnswer = errors.New("migrate: no answer")

// outbids reports whether dst, importing a slot, will own it with a
// config epoch greater than srcEpoch, the source's own, once it gets
// SETSLOT NODE: Redis then bumps the importing node's epoch past the
// greatest it knows, unless its own is that greatest already (and not
// 0). So dst outbids the source when its epoch is greater already, or
// when it will be bumped (its epoch is 0 or not the greatest it knows)
// and it knows an epoch at least as great as the source's. A
// target that has not heard of the source's epoch (the source took slots
// a moment ago, and gossip has not told the target yet) would keep its
// own, and the source's next message, still claiming the slot, would
// take the slot back from it and make it delete the slot's keys. An
// epoch equal to the source's that would not be bumped (a collision,
// which the cluster resolves) waits too.
func outbids(dst *nodeState, srcEpoch uint64) bool {
	bumped := dst.epoch == 0 || dst.epoch < dst.maxKnown
	return dst.epoch > srcEpoch || (bumped && dst.maxKnown >= srcEpoch)
}

// maxGiveBackPasses bounds the give-back passes of one slot: keys that a
// client wrote to our target (ASKING) just before SETSLOT STABLE closed
// it are moved in one more pass.
const maxGiveBackPasses = 3

// maxAwaitPasses bounds the wait-then-drain passes before SETSLOT NODE.
const maxAwaitPasses = 100

// maxAwaitPolls bounds the polls of one wait (ConflictWait bounds it in
// time).
const maxAwaitPolls = 1 << 20

// selfView reads addr's CLUSTER NODES (one step, retried) and returns the
// view and its "myself" line.
func (e *executor) selfView(ctx context.Context, ev Event, addr string) (topology.View, *topology.NodeFacts, error) {
	var v topology.View
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		var err error
		v, err = e.pool.clusterNodes(ctx, addr)
		if err != nil && (retry.Classify(err).Kind == retry.KindConn) {
			e.pool.drop(addr, nil)
		}
		return err
	}, e.opts.CommandTimeout)
	if err != nil {
		return v, nil, err
	}
	if sf := myself(&v); sf != nil {
		return v, sf, nil
	}
	return v, nil, fmt.Errorf("migrate: %s: CLUSTER NODES has no myself line", addr)
}

// migratingOf maps the slots f migrates to their target.
func migratingOf(f *topology.NodeFacts) map[slots.Slot]string {
	m := map[slots.Slot]string{}
	for _, x := range f.Migrating {
		m[x.Slot] = x.NodeID
	}
	return m
}

// ownerIn returns the node that v says serves s ("" if none).
func ownerIn(v topology.View, s slots.Slot) string {
	for i := range v.Facts {
		f := &v.Facts[i]
		for _, r := range f.Ranges {
			if r.Start <= s && s <= r.End {
				return f.ID
			}
		}
	}
	return ""
}

// precheck reads the source's and the target's own state before a round
// is opened (or takes it from the read of the previous round's check
// before SETSLOT NODE, made after that round was drained): a source
// migrating a slot to another node, or a target importing it from another
// node, means another operation moves it (ErrConflict). An earlier run of
// the same move (same source and target) is not a conflict: it resumes.
func (e *executor) precheck(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) error {
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots = EventStep, StepCheck, ss[0], len(ss)
	var src, dst *nodeState
	if last := w.last; last != nil {
		// The state read by the previous round's check before SETSLOT
		// NODE, a moment ago: the source and the target as they were
		// after that round was drained.
		w.last = nil
		src, dst = last.nodes[w.src.id], last.nodes[w.dst.id]
		if src != nil && src.reached && dst != nil && dst.reached {
			return e.conflictIn(w, ss, src, dst)
		}
	}
	// Both nodes at once (one round trip).
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		cs, err := e.readStateFrom(ctx, nil, func(id string) bool { return id != w.src.id && id != w.dst.id })
		if err != nil {
			return err
		}
		src, dst = cs.nodes[w.src.id], cs.nodes[w.dst.id]
		if src == nil || !src.reached || dst == nil || !dst.reached {
			return fmt.Errorf("%w: the source or the target did not answer CLUSTER NODES", errNoAnswer)
		}
		return nil
	}, e.opts.CommandTimeout*2)
	if err != nil {
		return e.stepErr(w, ss[0], StepCheck, "", err, "owned by the source, not opened")
	}
	return e.conflictIn(w, ss, src, dst)
}

// conflictIn is precheck's decision on the source's and the target's
// state.
func (e *executor) conflictIn(w *moveWork, ss []slots.Slot, src, dst *nodeState) error {
	mig, imp := src.migrating, dst.importing
	for _, s := range ss {
		if o := mig[s]; o != "" && o != w.dst.id {
			return fmt.Errorf("%w: slot %d (%s -> %s): the source migrates it to %s; nothing was changed by this run for it",
				ErrConflict, s, short(w.src.id), short(w.dst.id), short(o))
		}
		if o := imp[s]; o != "" && o != w.src.id {
			return fmt.Errorf("%w: slot %d (%s -> %s): the target imports it from %s; nothing was changed by this run for it",
				ErrConflict, s, short(w.src.id), short(w.dst.id), short(o))
		}
	}
	return nil
}

// checkOurs reads the source's own state after the slots ss were opened:
// each must still be migrating to our target. When one is not, another
// operation took it over: its keys are given back and ErrConflict is
// returned.
func (e *executor) checkOurs(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) error {
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots = EventStep, StepCheck, ss[0], len(ss)
	v, sf, err := e.selfView(ctx, ev, w.src.addr)
	if err != nil {
		return e.stepErr(w, ss[0], StepCheck, "", err, "importing on the target, migrating on the source")
	}
	return e.checkView(ctx, w, base, ss, v, sf)
}

// checkOursIn is checkOurs on the source's CLUSTER NODES reply m, read
// in the pipeline of SETSLOT MIGRATING.
func (e *executor) checkOursIn(ctx context.Context, w *moveWork, base Event, ss []slots.Slot, m rueidis.RedisMessage) error {
	text, err := m.ToString()
	var v topology.View
	if err == nil {
		v, err = topology.ParseNodes(text, w.src.addr)
	}
	if err != nil || myself(&v) == nil {
		// Unreadable: ask again, as a step of its own.
		return e.checkOurs(ctx, w, base, ss)
	}
	return e.checkView(ctx, w, base, ss, v, myself(&v))
}

// checkView is the decision of checkOurs on the source's view v (sf its
// myself line).
func (e *executor) checkView(ctx context.Context, w *moveWork, base Event, ss []slots.Slot, v topology.View, sf *topology.NodeFacts) error {
	mig := migratingOf(sf)
	for _, s := range ss {
		if mig[s] != w.dst.id && !doneByOther(w, mig[s], ownerIn(v, s)) {
			return e.lostRace(ctx, w, base, s, mig[s], ownerIn(v, s))
		}
	}
	return nil
}

// doneByOther reports whether a slot that the source no longer migrates
// (other "") is owned by our target by the source's account (owner): the
// same move, finished by another run of it (the same plan run twice at
// once). That is not a conflict: this run goes on (the source holds no
// keys of the slot any more, or holds keys our target, the owner, must
// get), and its SETSLOT NODE repeats the other's.
func doneByOther(w *moveWork, other, owner string) bool {
	return other == "" && owner == w.dst.id
}

// lostRace handles a slot s that the source no longer migrates to our
// target (it migrates it to other, or to nobody): the keys our target got
// go back (giveBack) to other, or when other is "" to owner (the slot's
// owner by the source's account), and the run stops with ErrConflict.
func (e *executor) lostRace(ctx context.Context, w *moveWork, base Event, s slots.Slot, other, owner string) error {
	dest := other
	if dest == "" {
		dest = owner
	}
	what := "no longer migrates it"
	if other != "" {
		what = "now migrates it to " + short(other)
	}
	if err := e.giveBack(ctx, w, base, s, dest); err != nil {
		return fmt.Errorf("%w: slot %d (%s -> %s): the source %s; giving back the keys our target received failed: %w",
			ErrConflict, s, short(w.src.id), short(w.dst.id), what, err)
	}
	return fmt.Errorf("%w: slot %d (%s -> %s): the source %s (another run took the slot over); the keys our target had received were given back to %s and the slot closed on our target",
		ErrConflict, s, short(w.src.id), short(w.dst.id), what, short(dest))
}

// giveBack moves every key of slot s from our target to dest (the node
// the source now migrates s to, which imports it; or the slot's owner),
// then closes s on our target (SETSLOT STABLE). Keys written to our
// target in between (ASKING) are moved in one more pass, with the slot
// opened again (a closed slot cannot MIGRATE).
func (e *executor) giveBack(ctx context.Context, w *moveWork, base Event, s slots.Slot, dest string) error {
	to := e.nodes[dest]
	if dest == "" || to == nil || to.addr == "" || dest == w.dst.id {
		return fmt.Errorf("no node to give the keys to (the source names %q)", short(dest))
	}
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots = EventStep, StepGiveBack, s, 1
	from := w.dst.addr
	for pass := 0; pass < maxGiveBackPasses; pass++ {
		for round := 0; round < maxDrainRounds; round++ {
			keys, err := e.keysIn(ctx, ev, from, s)
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				break
			}
			args := e.migrateArgs(to, e.opts.MaxMigrateTimeout, false, keys)
			if err := e.attempt(ctx, ev, func(ctx context.Context) error {
				_, err := e.pool.do(ctx, from, args...)
				return err
			}, e.opts.MaxMigrateTimeout+e.opts.CommandTimeout); err != nil {
				if isBusyKey(err) {
					return fmt.Errorf("%w: %s already holds a key of the slot that our target holds too (written on both while the slot changed hands; nothing overwritten): %w", ErrBusyKey, short(dest), err)
				}
				return err
			}
		}
		if _, err := e.pipe(ctx, ev, from, []slots.Slot{s}, func(s slots.Slot) []string {
			return []string{"CLUSTER", "SETSLOT", itoa(s), "STABLE"}
		}, nil, nil); err != nil {
			return err
		}
		counts := make([]rueidis.RedisMessage, 1)
		if _, err := e.pipe(ctx, ev, from, []slots.Slot{s}, countKeys, nil, counts); err != nil {
			return err
		}
		n, err := counts[0].AsInt64()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := e.pipe(ctx, ev, from, []slots.Slot{s}, func(s slots.Slot) []string {
			return []string{"CLUSTER", "SETSLOT", itoa(s), "IMPORTING", w.src.id}
		}, nil, nil); err != nil {
			return err
		}
	}
	return fmt.Errorf("keys kept arriving on our target after %d passes", maxGiveBackPasses)
}

// awaitExclusive is the check before SETSLOT NODE: it reads every node;
// each slot of ss must still be migrating to our target on the source
// (else lostRace), and no other primary may be importing it from the
// source (another run that lost the slot, still giving its keys back):
// it waits for that, bounded by ctx and Options.ConflictWait. waited
// tells the caller to drain the source once more.
func (e *executor) awaitExclusive(ctx context.Context, w *moveWork, base Event, ss []slots.Slot) (waited bool, err error) {
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots = EventStep, StepCheck, ss[0], len(ss)
	deadline := time.Now().Add(e.opts.ConflictWait)
	for poll := 0; ; poll++ {
		var cs *clusterState
		var src *nodeState
		err := e.attempt(ctx, ev, func(ctx context.Context) error {
			var err error
			// The primaries of the first read, all at once. Nodes that
			// already failed a SETSLOT NODE of this run (frozen) are left
			// out, so that they cost their timeout once per run, not once
			// per round; but never this move's source or target, whose
			// state is the point (a bystander of an earlier move may be
			// the source of this one).
			cs, err = e.readStateFrom(ctx, nil, func(id string) bool {
				return id != w.src.id && id != w.dst.id && (!e.nodes[id].primary || e.untold.has(id))
			})
			if err != nil {
				return err
			}
			if src = cs.nodes[w.src.id]; src == nil || !src.reached {
				return fmt.Errorf("%w: the source did not answer CLUSTER NODES", errNoAnswer)
			}
			return nil
		}, e.opts.CommandTimeout*2)
		ev.Step = StepNone // one step event per check, not per poll
		if err != nil {
			return waited, e.stepErr(w, ss[0], StepCheck, "", err, "importing on the target, migrating on the source")
		}
		var busy string
		var busySlot slots.Slot
		for _, s := range ss {
			if m := src.migrating[s]; m != w.dst.id {
				owner := ""
				for id, set := range src.believes {
					if set.Has(s) {
						owner = id
					}
				}
				if !doneByOther(w, m, owner) {
					return waited, e.lostRace(ctx, w, base, s, m, owner)
				}
			}
			for _, n := range cs.primaries() {
				if n.id != w.dst.id && n.id != w.src.id && n.importing[s] == w.src.id {
					busy, busySlot = n.id, s
				}
			}
		}
		// Why to wait: another run still imports a slot from the source,
		// or the target has not heard of the source's config epoch yet
		// (its SETSLOT NODE would not outbid the source's claim, which
		// it would take from the source's next message, dropping the
		// slot's keys; gossip brings the epoch, and the slots stay
		// importing meanwhile, which no claim overrides).
		r := base
		r.Kind, r.Step, r.Attempt = EventRetry, StepCheck, poll+1
		var stop error
		if busy != "" {
			r.Slot, r.Slots = busySlot, 1
			r.Err = fmt.Errorf("%w: slot %d is importing on %s from the source (another run giving its keys back?): waiting", ErrConflict, busySlot, short(busy))
			stop = fmt.Errorf("%w: slot %d (%s -> %s): %s still imports it from the source after %v (another run moving it that did not give its keys back?); the slot is left open to our target, run the same plan again once that is settled",
				ErrConflict, busySlot, short(w.src.id), short(w.dst.id), short(busy), e.opts.ConflictWait)
		} else {
			dst := cs.nodes[w.dst.id]
			if dst == nil || !dst.reached || outbids(dst, src.epoch) {
				w.last = cs // the next round's check before opening
				return waited, nil
			}
			lag := fmt.Sprintf("the target (config epoch %d, greatest it knows %d) has not heard of the source's config epoch %d", dst.epoch, dst.maxKnown, src.epoch)
			r.Slot, r.Slots = ss[0], len(ss)
			r.Err = fmt.Errorf("migrate: %s yet: waiting", lag)
			stop = e.stepErr(w, ss[0], StepCheck, "", fmt.Errorf("after %v %s; its SETSLOT NODE would not outbid the source's claim", e.opts.ConflictWait, lag), "importing on the target, migrating on the source")
		}
		if time.Now().After(deadline) || poll == maxAwaitPolls {
			return waited, stop
		}
		waited = waited || busy != "" // drain again after another run gave keys back
		e.emit(r)
		if werr := retry.Wait(ctx, e.opts.Backoff.Delay(min(poll, 8), rand.Uint64)); werr != nil {
			return waited, stopErr(ctx)
		}
	}
}
