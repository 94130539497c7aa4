package router

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// ErrNoPrimary is wrapped by a *FailoverWaitError: a command's slot had no
// reachable primary for as long as the command could wait.
var ErrNoPrimary = errors.New("slotrouter: no reachable primary")

// FailoverWaitError is the error of a command that waited for its slot to
// have a reachable primary (Options.FailoverWait) and gave up: the wait
// ran out, or the caller's context ended. It wraps ErrNoPrimary, the
// context's error (when that ended it) and the last cause.
type FailoverWaitError struct {
	// Slot is the command's slot.
	Slot slots.Slot
	// Addr is the node that could not be reached.
	Addr string
	// Waited is how long the command waited.
	Waited time.Duration
	// Ctx is the context's error when the caller's context ended the
	// wait, else nil.
	Ctx error
	// Err is the last cause (an open breaker, a refused dial, CLUSTERDOWN).
	Err error
}

// Error says what was waited for, how long, and why it failed.
func (e *FailoverWaitError) Error() string {
	s := "slotrouter: no reachable primary for slot " + strconv.Itoa(int(e.Slot)) +
		": waited " + e.Waited.Round(time.Millisecond).String() + " for " + e.Addr +
		" to come back or be replaced by a promotion"
	if e.Ctx != nil {
		s += " (" + e.Ctx.Error() + ")"
	}
	if e.Err != nil {
		s += "; last error: " + e.Err.Error()
	}
	return s
}

// Unwrap returns the context's error (when it ended the wait) and the
// last cause.
func (e *FailoverWaitError) Unwrap() []error {
	if e.Ctx == nil {
		return []error{e.Err}
	}
	return []error{e.Ctx, e.Err}
}

// Is makes errors.Is(err, ErrNoPrimary) hold.
func (e *FailoverWaitError) Is(target error) bool { return target == ErrNoPrimary }

// watch coordinates the commands that wait for a failover: they block
// on changed, which is closed whenever a refresh publishes a snapshot;
// the client's watch goroutine refreshes the topology every PollInterval
// while any command waits.
type watch struct {
	mu       sync.Mutex
	waiters  int
	changed  chan struct{}
	breakers chan Event // breaker transitions, reported by the watch goroutine
	stop     chan struct{}
	done     chan struct{}
}

func newWatch() *watch {
	return &watch{
		changed:  make(chan struct{}),
		breakers: make(chan Event, 256),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// published wakes the waiting commands.
func (w *watch) published() {
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// begin registers a waiting command and returns the channel that is
// closed at the next publication.
func (w *watch) begin() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiters++
	return w.changed
}

func (w *watch) end() {
	w.mu.Lock()
	w.waiters--
	w.mu.Unlock()
}

func (w *watch) waiting() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiters > 0
}

// watchLoop is the client's availability goroutine: every PollInterval it
// refreshes the topology while commands wait for a failover, and looks
// for nodes whose calls stopped completing.
func (c *Client) watchLoop() {
	defer close(c.watch.done)
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.watch.stop:
			return
		case e := <-c.watch.breakers:
			if err := safe.Call("breaker event", func() { c.breakerChanged(e) }); err != nil {
				c.panicked(e.Addr, err)
			}
			continue
		case <-t.C:
		}
		if err := safe.Call("availability watch", c.watchTick); err != nil {
			c.panicked("", err)
		}
	}
}

// breakerChanged reports a breaker's transition to the EventObserver and
// the Logger (an opening at Warn, the rest at Info).
func (c *Client) breakerChanged(e Event) {
	c.event(e)
	if c.log == nil {
		return
	}
	level := slog.LevelInfo
	if e.To == retry.Open {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "slotrouter: circuit breaker "+strings.ToLower(e.To.String()),
		"node", e.Addr, "from", e.From.String(), "to", e.To.String())
}

// waitBegan reports the start of a failover wait.
func (c *Client) waitBegan(st *state, addr string, err error) {
	c.event(Event{Kind: EventFailoverWaitBegin, Addr: addr, Slot: st.d.slot, Err: err})
	if c.log != nil {
		c.logged(addr, func() {
			c.log.Warn("slotrouter: waiting for a reachable primary", "slot", int(st.d.slot), "node", addr, "cause", err.Error())
		})
	}
}

// logged runs fn, a call of the Logger, with its panic recovered and
// reported to the PanicObserver (a command's state must not be left
// half-updated by the caller's Logger).
func (c *Client) logged(addr string, fn func()) {
	if err := safe.Call("Logger", fn); err != nil {
		c.panicked(addr, err)
	}
}

// waitEnded reports the end of a failover wait, with the command's
// outcome.
func (c *Client) waitEnded(st *state, err error) {
	d := time.Since(st.waitStart)
	c.event(Event{Kind: EventFailoverWaitEnd, Addr: st.waitAddr, Slot: st.d.slot, Duration: d, Err: err})
	if c.log == nil {
		return
	}
	c.logged(st.waitAddr, func() {
		if err != nil {
			c.log.Warn("slotrouter: failover wait ended without a primary", "slot", int(st.d.slot), "node", st.waitAddr, "waited", d, "error", err.Error())
		} else {
			c.log.Warn("slotrouter: failover wait over", "slot", int(st.d.slot), "node", st.waitAddr, "waited", d)
		}
	})
}

// logChanges logs what a refresh changed, at Info (the first topology in
// one line).
func (c *Client) logChanges(e topology.RefreshEvent) {
	ch := e.Changes
	if c.log == nil || ch.Empty() {
		return
	}
	if e.Old == nil || len(shardsOf(e.Old)) == 0 {
		c.log.Info("slotrouter: topology loaded", "shards", len(shardsOf(e.New)), "nodes", len(e.New.Nodes()))
		return
	}
	for _, m := range ch.Moved {
		from, to := "", ""
		if m.From != nil {
			from = m.From.Addr
		}
		if m.To != nil {
			to = m.To.Addr
		}
		c.log.Info("slotrouter: slots moved", "slots", m.Range.String(), "from", from, "to", to)
	}
	for _, f := range ch.Failovers {
		c.log.Info("slotrouter: failover", "old", f.Old.Addr, "new", f.New.Addr)
	}
	for _, n := range ch.Added {
		c.log.Info("slotrouter: node added", "node", n.Addr, "role", n.Role.String())
	}
	for _, n := range ch.Removed {
		c.log.Info("slotrouter: node removed", "node", n.Addr)
	}
}

func (c *Client) watchTick() {
	if c.watch.waiting() {
		c.topo.Trigger("waiting for a failover")
	}
	for _, n := range *c.pool.nodes.Load() {
		if n.busy.Load() {
			n.busy.Store(false) // set again by the next concurrent call
		}
	}
	if c.stallTimeout <= 0 {
		return
	}
	for addr, n := range *c.pool.nodes.Load() {
		in, done := n.callCounts()
		if in == 0 || done != n.lastDone {
			n.lastDone = done
			n.stalled.Store(0)
			continue
		}
		st := time.Duration(n.stalled.Add(int64(PollInterval)))
		if st >= c.stallTimeout {
			if st < c.stallTimeout+PollInterval {
				c.event(Event{Kind: EventStall, Addr: addr, Duration: st})
			}
			c.topo.Trigger("calls to " + addr + " stopped completing")
		}
	}
}

// refreshed is the router's topology Observer: the client's state work
// (topologyChanged) first, then the user's code — the Logger
// (logChanges) and Options.Topology.Observer (user, when not nil) —
// each in its own safe.Call, so that a panic in one of them skips
// neither the state work nor the other; their panics are reported to
// the PanicObserver (and a user's Observer's to its own OnPanic when it
// is a topology.PanicObserver).
func (c *Client) refreshed(e topology.RefreshEvent, user topology.Observer) {
	if err := safe.Call("topology change", func() { c.topologyChanged(e) }); err != nil {
		c.panicked("", err)
	}
	if e.New != nil && c.log != nil {
		c.logged("", func() { c.logChanges(e) })
	}
	if user != nil {
		if err := safe.Call("topology Observer", func() { user.OnRefresh(e) }); err != nil {
			c.panicked("", err)
			if po, ok := user.(topology.PanicObserver); ok {
				// As the Refresher would tell it (topology.PanicObserver).
				_ = safe.Call("topology Observer OnPanic", func() { po.OnPanic(err) })
			}
		}
	}
}

// topologyChanged is the client's part of every refresh: breakers learn
// the nodes' health, waiting commands wake up, and a primary replaced by
// a promotion has its breaker reset — or, when it was frozen (its calls
// stalled) or flagged failed, tripped and its connections cut, so that
// its reads in flight go to the new owner and its writes in flight end
// with ErrUnknownOutcome instead of hanging until the caller's deadline.
// It calls no user code but the EventObserver, guarded (the Logger and
// the user's topology Observer run after it: refreshed).
func (c *Client) topologyChanged(e topology.RefreshEvent) {
	if e.New == nil {
		c.pool.topologyChanged(e)
		return
	}
	defer c.watch.published() // waiters wake up whatever happens below
	c.pool.topologyChanged(e)
	c.cacheTopologyChanged(e)
	for _, f := range e.Changes.Failovers {
		if f.Old == nil || f.Old.Addr == "" {
			continue
		}
		ns := c.pool.lookup(f.Old.Addr)
		if ns == nil {
			continue
		}
		failed := false
		if n, ok := e.New.NodeByAddr(f.Old.Addr); ok && n.Health == topology.HealthFailed {
			failed = true
		}
		stalled := c.stallTimeout > 0 && time.Duration(ns.stalled.Load()) >= c.stallTimeout
		switch {
		case failed:
			// Tripped by the pool already.
		case stalled:
			ns.br.Trip()
		default:
			ns.br.Reset() // replaced, reachable: nothing holds it open
		}
		if (failed || stalled) && ns.cut() > 0 {
			c.event(Event{Kind: EventConnsCut, Addr: f.Old.Addr})
		}
	}
}

// primaryUnreachable reports whether err, the error of an attempt of a
// keyed command on addr, says that the slot's primary cannot be reached
// now: its breaker is open, a dial was refused (nothing was sent), or
// the cluster answered CLUSTERDOWN.
func primaryUnreachable(kind retry.Kind, err error, unsent bool) bool {
	switch {
	case errors.Is(err, retry.ErrOpen):
		return true
	case kind == retry.KindConn:
		return unsent || retry.Unsent(err)
	case kind == retry.KindClusterDown:
		return true
	}
	return false
}

// endErr is the error of a command whose wait for a retry was cut short
// by err (the context's error, or ErrClosed): a *FailoverWaitError when
// it was waiting for a failover.
func (c *Client) endErr(err error, st *state) error {
	if err == ErrClosed {
		return ErrClosed
	}
	if !st.waitStart.IsZero() {
		return &FailoverWaitError{Slot: st.d.slot, Addr: st.waitAddr, Waited: time.Since(st.waitStart), Ctx: err, Err: st.last}
	}
	return waitErr(err, st.last)
}

// replicaReadable reports whether st, whose attempt on the primary addr
// just failed as unreachable, is a read the ReadPolicy may send to a
// replica of its shard, and the shard has one that is not failed and
// whose breaker is not open.
func (c *Client) replicaReadable(st *state, addr string) bool {
	if !st.d.readOnly || st.block || c.policy == ReadPrimary {
		return false
	}
	sh, ok := lookupShard(c.topo.Current(), st.d.slot)
	if !ok {
		return false
	}
	for _, r := range sh.Replicas {
		if r != nil && r.Addr != "" && r.Addr != addr && r.Health != topology.HealthFailed && !c.pool.breakerOpen(r.Addr) {
			return true
		}
	}
	return false
}

// awaitChange blocks a command that waits for a failover until the next
// snapshot is published or PollInterval passes, within ctx.
func (c *Client) awaitChange(ctx context.Context, st *state) error {
	err := c.awaitPublish(ctx, PollInterval, nil)
	if err != nil && err != ErrClosed {
		return &FailoverWaitError{Slot: st.d.slot, Addr: st.waitAddr, Waited: time.Since(st.waitStart), Ctx: err, Err: st.last}
	}
	return err
}

// awaitPublish waits for the next topology snapshot, at most d, within
// ctx (its error) and until Close (ErrClosed); a receive from stop (nil:
// none) also ends it, with nil.
func (c *Client) awaitPublish(ctx context.Context, d time.Duration, stop <-chan struct{}) error {
	ch := c.watch.begin()
	defer c.watch.end()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-stop:
	case <-c.watch.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
