package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// maxSubscribeHops bounds the MOVED replies a subscription follows in a
// row without being confirmed anywhere.
const maxSubscribeHops = 16

// probeTimeout bounds asking the node that ended a sharded subscription
// whether it still serves the slot.
const probeTimeout = 2 * time.Second

// receiver is the state of one Receive: where it is subscribed, and why
// the next subscription is a resubscription.
type receiver struct {
	a   *rueidisClient
	sub subscription
	fn  func(rueidis.PubSubMessage)
	ctx *pubsubCtx

	forced string // the node a MOVED named: subscribe there next
	avoid  string // a node that just failed (SUBSCRIBE, PSUBSCRIBE)
	cause  error  // why the next subscription follows (nil: the first)
	last   error  // the last failure
	hops   int    // MOVED followed since the last confirmation
	quick  bool   // the next failure is retried at once
	once   bool   // it was subscribed somewhere: following is reported

	waitStart time.Time // when the current wait for a node began
	waitAddr  string

	// Shared with the hook, which rueidis runs on its pipeline goroutine.
	confirms atomic.Int64
	pending  atomic.Pointer[resub]  // to report once confirmed
	at       atomic.Pointer[string] // the node subscribed on now

	// The caller unsubscribed (through the face's Do): closed once.
	unsubOnce sync.Once
	unsub     chan struct{}
}

// markUnsubscribed records the caller's unsubscribe of the Receive.
func (r *receiver) markUnsubscribed() { r.unsubOnce.Do(func() { close(r.unsub) }) }

// unsubscribed reports whether the caller unsubscribed the Receive.
func (r *receiver) unsubscribed() bool {
	select {
	case <-r.unsub:
		return true
	default:
		return false
	}
}

// resub is a resubscription to report once the server confirms it.
type resub struct {
	addr  string
	cause error
}

func newReceiver(a *rueidisClient, ctx context.Context, sub subscription, fn func(rueidis.PubSubMessage)) *receiver {
	r := &receiver{a: a, sub: sub, fn: fn, quick: true, unsub: make(chan struct{})}
	r.ctx = newPubsubCtx(ctx, r.confirmed, func(err error) {
		addr := ""
		if at := r.at.Load(); at != nil {
			addr = *at
		}
		a.c.panicked(addr, err)
	})
	return r
}

// run subscribes, and subscribes again where the subscription must
// follow, until it ends for good.
func (r *receiver) run(ctx context.Context) error {
	c := r.a.c
	c.recvs.add(r)
	defer c.recvs.remove(r)
	defer r.ctx.release()
	var nc *nodeConn
	for {
		if err := ctx.Err(); err != nil {
			return r.end(err, nc)
		}
		if c.closed.Load() {
			return r.end(errReceiveClosed, nc)
		}
		if r.unsubscribed() {
			return r.end(nil, nc) // by the caller, while between nodes
		}
		addr, conn, err := r.conn(ctx)
		if err == nil {
			nc = conn
			r.confirms.Store(0)
			if r.cause != nil && r.once {
				r.pending.Store(&resub{addr: addr, cause: r.cause})
			}
			r.at.Store(&addr)
			err = nc.client.Receive(r.ctx, r.sub.build(r.a.b), r.fn)
			r.pending.Store(nil)
			if perr := r.ctx.panicErr(); perr != nil {
				return r.end(perr, nc) // a subscription hook panicked
			}
			if r.confirms.Load() >= int64(len(r.sub.chans)) {
				// It was subscribed there: a new episode begins.
				c.pool.success(addr)
				r.once = true
				r.cause, r.hops, r.quick, r.avoid = nil, 0, true, ""
				r.waitStart = time.Time{}
			}
		}
		final, done := r.handle(ctx, addr, nc, err)
		if done {
			return r.end(final, nc)
		}
		if r.forced != "" {
			continue // a MOVED target: go at once
		}
		if err := r.wait(ctx, addr); err != nil {
			return r.end(err, nc)
		}
	}
}

// end is Receive's return: the caller's WithOnReceiveReturnHook hook, if
// any, runs now, once, with the last node's client.
func (r *receiver) end(err error, nc *nodeConn) error {
	if hook := r.ctx.userReturnHook(); hook != nil && nc != nil {
		return hook(err, nc.client)
	}
	return err
}

// conn returns the node to subscribe on now and its connection: the
// target of a MOVED, else the slot's primary (SSUBSCRIBE) or a reachable
// primary (SUBSCRIBE, PSUBSCRIBE).
func (r *receiver) conn(ctx context.Context) (string, *nodeConn, error) {
	c := r.a.c
	addr := r.forced
	r.forced = ""
	if addr == "" {
		s := c.topo.Current()
		if r.sub.kind == subShard {
			sh, ok := s.Lookup(r.sub.slot)
			if !ok || sh.Primary == nil || sh.Primary.Addr == "" {
				return "", nil, ErrNoNode
			}
			addr = sh.Primary.Addr
		} else {
			p, err := anyPrimary(s, func(n *topology.Node) bool {
				return n.Addr != r.avoid && n.Health != topology.HealthFailed && !c.pool.breakerOpen(n.Addr)
			})
			if err != nil {
				return "", nil, err
			}
			addr = p.Addr
		}
	}
	if err := c.pool.breaker(addr).Allow(); err != nil {
		return addr, nil, &NodeError{Addr: addr, Err: err}
	}
	nc, err := c.pool.get(ctx, addr, false)
	if err == nil && nc.closing.Load() {
		nc, err = c.pool.get(ctx, addr, false) // being replaced: the new one
	}
	return addr, nc, err
}

// handle decides what follows the end of a subscription on addr (err
// nil: an unsubscribe): end Receive with final (done), or follow.
func (r *receiver) handle(ctx context.Context, addr string, nc *nodeConn, err error) (final error, done bool) {
	c := r.a.c
	if err == nil && r.sub.kind != subShard {
		return nil, true // only the caller unsubscribes classic channels
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if err == nil {
			return nil, true
		}
		return ctxErr, true
	}
	if c.closed.Load() {
		return errReceiveClosed, true
	}
	if r.unsubscribed() {
		return nil, true // the caller's own unsubscribe (through the face)
	}
	if err == nil {
		moved, to := r.slotMoved(ctx, addr, nc)
		if !moved {
			return nil, true // the caller's own unsubscribe
		}
		r.forced = to
		r.setCause(fmt.Errorf("%w (slot %d, unsubscribed by %s)", ErrSlotMoved, r.sub.slot, addr))
		c.topo.Trigger("sharded subscription ended by " + addr)
		return nil, false
	}
	class, err := classify(ctx, addr, err)
	switch class.Kind {
	case retry.KindMoved:
		red, rerr := class.Redirect()
		if rerr != nil {
			return fmt.Errorf("%w (reply from %s: %w)", rerr, addr, err), true
		}
		if r.hops++; r.hops > maxSubscribeHops {
			return err, true
		}
		to := c.redirectTarget(red, addr)
		if c.obs != nil {
			c.obs.OnRedirect(RedirectEvent{Kind: red.Kind, Slot: slots.Slot(red.Slot), From: addr, To: to})
		}
		c.topo.Trigger("MOVED")
		r.forced = to
		r.setCause(err)
		return nil, false
	case retry.KindAsk, retry.KindTryAgain, retry.KindClusterDown, retry.KindLoading, retry.KindMasterDown, retry.KindReadOnly:
		// Not served there now: look again.
		c.topo.Trigger(class.Kind.String() + " to a subscription from " + addr)
		r.setCause(err)
		return nil, false
	case retry.KindConn:
		if addr != "" {
			c.connFailed(addr, err, false)
		}
		r.avoid = addr
		r.setCause(err)
		return nil, false
	}
	if errors.Is(err, retry.ErrOpen) || errors.Is(err, ErrNoNode) {
		// The node is known down, or nobody serves the slot yet: wait
		// for the topology to name another.
		c.topo.Trigger("no reachable node for a subscription")
		r.avoid = addr
		r.setCause(err)
		return nil, false
	}
	return err, true // refused (NOPERM, a malformed command...)
}

// setCause records why the subscription follows: the first cause of an
// episode is the one reported.
func (r *receiver) setCause(err error) {
	if r.cause == nil {
		r.cause = err
	}
	r.last = err
}

// wait waits before the next attempt to subscribe: not at all the first
// time after a confirmed subscription (the topology may name the new node
// already), then until the next topology snapshot or PollInterval, for
// at most Options.FailoverWait in all (a *FailoverWaitError then), within
// ctx (ctx.Err()).
func (r *receiver) wait(ctx context.Context, addr string) error {
	c := r.a.c
	if r.quick {
		r.quick = false
		return nil
	}
	bound := max(c.failoverWait, 0)
	now := time.Now()
	if r.waitStart.IsZero() {
		r.waitStart, r.waitAddr = now, addr
	}
	waited := now.Sub(r.waitStart)
	if waited >= bound {
		return &FailoverWaitError{Slot: r.sub.slotOrNone(), Addr: r.waitAddr, Waited: waited, Err: r.last}
	}
	c.topo.Trigger("a subscription waits for a node")
	err := c.awaitPublish(ctx, min(PollInterval, bound-waited), r.unsub)
	if err == ErrClosed {
		return errReceiveClosed
	}
	return err
}

// slotMoved asks addr, which ended a sharded subscription (an
// SUNSUBSCRIBE for its channels), whether it still serves the slot: the
// caller unsubscribed if it does; else (or when the reply cannot tell)
// the server did because the slot moved, and to is the new owner when
// the node named it.
func (r *receiver) slotMoved(ctx context.Context, addr string, nc *nodeConn) (moved bool, to string) {
	c := r.a.c
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cl := nc.client
	err := cl.Do(sharedConnContext(pctx), cl.B().Exists().Key(r.sub.chans[0]).Build()).Error()
	if err == nil {
		return false, ""
	}
	class, _ := classify(ctx, addr, err)
	switch class.Kind {
	case retry.KindMoved:
		if red, rerr := class.Redirect(); rerr == nil {
			return true, c.redirectTarget(red, addr)
		}
		return true, ""
	case retry.KindAsk, retry.KindTryAgain:
		return false, "" // still its slot (migrating): not the server's doing
	case retry.KindConn, retry.KindClusterDown, retry.KindReadOnly, retry.KindLoading, retry.KindMasterDown:
		return true, ""
	}
	// Another error reply (NOPERM: a user without the channel as a key
	// pattern; Redis checks ACLs before the slot) cannot tell; the
	// caller's unsubscribes through the face are marked (handle), so
	// follow: subscribing again where the topology says is harmless if
	// the node still serves the slot.
	return true, ""
}

// confirmed is the subscription hook (rueidis's pipeline goroutine): once
// every channel is confirmed, a resubscription is reported.
func (r *receiver) confirmed(s rueidis.PubSubSubscription) {
	if s.Kind != r.sub.confirmKind() {
		return
	}
	if r.confirms.Add(1) != int64(len(r.sub.chans)) {
		return
	}
	c := r.a.c
	if at := r.at.Load(); at != nil {
		// The node answered: to its breaker now, whose half-open pass
		// this subscription may hold for as long as it lasts. (The
		// breaker calls Options.Breaker.OnStateChange: this is rueidis's
		// pipeline goroutine.)
		if err := safe.Call("breaker success", func() { c.pool.success(*at) }); err != nil {
			c.panicked(*at, err)
		}
	}
	p := r.pending.Swap(nil)
	if p == nil {
		return
	}
	c.reportResubscribed(p.addr, r.sub.slotOrNone(), p.cause, "slotrouter: subscription followed to a new node")
}

// reportResubscribed reports a subscription confirmed again on addr
// after cause: EventResubscribed, and msg logged at Info.
func (c *Client) reportResubscribed(addr string, slot slots.Slot, cause error, msg string) {
	c.event(Event{Kind: EventResubscribed, Addr: addr, Slot: slot, Err: cause})
	if c.log != nil {
		c.logged(addr, func() {
			c.log.Info(msg, "node", addr, "slot", strconv.Itoa(int(slot)), "cause", cause.Error())
		})
	}
}

// pubsubCtx is the context Receive gives rueidis for each subscription:
// the caller's, without its deadline (rueidis would put it on the socket
// the node's callers share; Done still ends the wait), with the
// receiver's subscription hook chained before the caller's, and without
// the caller's return hook, which end runs once when Receive returns.
// rueidis's context keys are unexported: a key is recognised by asking a
// context that holds only that hook.
//
// The chained hook runs on rueidis's reader goroutine: a panic in it (the
// caller's hook, or the receiver's) is recovered,
// reported (onPanic), and ends the subscription: the context is
// cancelled, the hooks are not called again, and Receive returns the
// panic (panicErr), an error wrapping ErrPanic.
type pubsubCtx struct {
	*hookCtx // the cancellable context, the guarded subscription hooks
	retProbe context.Context

	userRet atomic.Pointer[func(error, rueidis.CommandClient) error]
}

func newPubsubCtx(ctx context.Context, ours func(rueidis.PubSubSubscription), onPanic func(error)) *pubsubCtx {
	return &pubsubCtx{
		hookCtx:  newHookCtx(ctx, ours, onPanic),
		retProbe: rueidis.WithOnReceiveReturnHook(context.Background(), func(err error, _ rueidis.CommandClient) error { return err }),
	}
}

// Deadline reports no deadline (see pubsubCtx).
func (p *pubsubCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Value is hookCtx's, except for rueidis's return hook: the caller's is
// kept for end and none is given to rueidis.
func (p *pubsubCtx) Value(key any) any {
	if _, ok := p.retProbe.Value(key).(func(error, rueidis.CommandClient) error); ok {
		if user, _ := p.Context.Value(key).(func(error, rueidis.CommandClient) error); user != nil {
			p.userRet.Store(&user)
		}
		return (func(error, rueidis.CommandClient) error)(nil) // typed nil: no hook
	}
	return p.hookCtx.Value(key)
}

// hookCtx is ctx, for a Receive given straight to rueidis (a dedicated
// connection's, a node's; and the base of pubsubCtx), with the caller's
// rueidis.WithOnSubscriptionHook hook, if any, guarded, after ours (the
// receiver's own hook, when not nil): rueidis calls it on its reader
// goroutine. A panic in it is recovered and reported
// (onPanic, when not nil), the context is cancelled (the Receive ends),
// the hook is not called again, and panicErr gives the panic (an error
// wrapping ErrPanic) for the Receive to return. release frees the
// context.
type hookCtx struct {
	context.Context
	cancel  context.CancelFunc
	probe   context.Context
	ours    func(rueidis.PubSubSubscription)
	onPanic func(error)
	perr    atomic.Pointer[error] // the first panic of the hook
}

func newHookCtx(ctx context.Context, ours func(rueidis.PubSubSubscription), onPanic func(error)) *hookCtx {
	cctx, cancel := context.WithCancel(ctx)
	return &hookCtx{
		Context: cctx,
		cancel:  cancel,
		probe:   rueidis.WithOnSubscriptionHook(context.Background(), func(rueidis.PubSubSubscription) {}),
		ours:    ours,
		onPanic: onPanic,
	}
}

// Value is the caller's context's, with the subscription hook guarded.
func (h *hookCtx) Value(key any) any {
	v := h.Context.Value(key)
	if _, ok := h.probe.Value(key).(func(rueidis.PubSubSubscription)); ok {
		if user, _ := v.(func(rueidis.PubSubSubscription)); user != nil || h.ours != nil {
			return func(s rueidis.PubSubSubscription) { h.call(user, s) }
		}
	}
	return v
}

// call runs ours, then user (each when not nil), unless one of them
// panicked before; a panic ends the subscription.
func (h *hookCtx) call(user func(rueidis.PubSubSubscription), s rueidis.PubSubSubscription) {
	if h.perr.Load() != nil {
		return
	}
	err := safe.Call("subscription hook", func() {
		if h.ours != nil {
			h.ours(s)
		}
		if user != nil {
			user(s)
		}
	})
	if err == nil || !h.perr.CompareAndSwap(nil, &err) {
		return
	}
	if h.onPanic != nil {
		h.onPanic(err)
	}
	h.cancel()
}

// panicErr returns the panic recovered in the hook, or nil.
func (h *hookCtx) panicErr() error {
	if e := h.perr.Load(); e != nil {
		return *e
	}
	return nil
}

// release frees the context once the Receive returned.
func (h *hookCtx) release() { h.cancel() }

// userReturnHook returns the caller's WithOnReceiveReturnHook hook, once
// rueidis has asked for it (nil: none).
func (p *pubsubCtx) userReturnHook() func(error, rueidis.CommandClient) error {
	if h := p.userRet.Load(); h != nil {
		return *h
	}
	return nil
}
