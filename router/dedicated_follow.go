package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
)

// Sharded subscriptions on dedicated connections (Dedicate, Dedicated
// with SetPubSubHooks and SSUBSCRIBE), as go-redis's SSubscribe through
// rueidiscompat makes them, follow their slot with the caller's help:
// when the subscription cannot stay where it is, the connection's hooks
// end with an error, and a caller that subscribes again on a new
// dedicated connection (rueidiscompat does, on any error of the hooks)
// is pinned to the slot's new owner.
//
//   - The server ends the subscription (an SUNSUBSCRIBE push for a
//     channel the caller did not unsubscribe: the slot left the node, by
//     a reshard or a demotion): the push is not passed to the caller's
//     OnSubscription, the topology is refreshed, and the hooks end with
//     an error wrapping ErrSlotMoved.
//   - The connection drops (kill -9 of the node): rueidis ends the hooks
//     with the connection error; the topology is refreshed. The next
//     pin goes at once (a healthy node takes the subscription back); if
//     it fails, the one after waits as below.
//   - An SSUBSCRIBE is answered by a redirect or an unavailability reply
//     (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN,
//     READONLY): a MOVED is recorded in the topology, and the reply is
//     returned wrapped in an error that is not a *rueidis.RedisError
//     (errors.As still finds it), so that rueidiscompat, which retries
//     only other errors, subscribes again; the hooks, when set, end with
//     it too.
//
// The channels are remembered by the Client for a while (followTTL). The
// next dedicated connection that SSUBSCRIBEs one of them is pinned only
// once the topology names another primary for the slot than the node
// that lost it (the topology is refreshed every PollInterval meanwhile),
// for at most Options.FailoverWait since the loss; then it goes where
// the topology says. Each failed attempt starts that wait again, so a
// caller that retries at once is paced.
//
// EventResubscribed is reported once the new connection's SSUBSCRIBE is
// confirmed by the server (its reply) and the caller's hooks are set on
// it, whichever comes last: rueidiscompat sets its hooks after its
// SSUBSCRIBE, and messages the node delivers in between have no hook to
// go to. Every message published after the event is received.

// followTTL is how long a sharded subscription lost by a dedicated
// connection is remembered, on top of Options.FailoverWait.
const followTTL = time.Minute

// maxFollowed bounds the channels remembered by a Client.
const maxFollowed = 1 << 14

// dedicatedFollow is the Client's memory of the sharded subscriptions
// lost by dedicated connections, by channel.
type dedicatedFollow struct {
	mu   sync.Mutex
	lost map[string]*lostSub
}

// lostSub is one channel whose subscription was lost.
type lostSub struct {
	slot       slots.Slot
	old        string    // the node that lost it, or failed it last
	cause      error     // why it was first lost (the event's Err)
	since      time.Time // of the last failure
	wait       bool      // the next pin waits for the topology to move on
	subscribed bool      // it was confirmed somewhere: report the next one
}

// lose records that chans (of slot) were lost at old, by cause; subscribed
// says they were confirmed there (else: an attempt failed); wait says the
// next pin waits for the topology to name another node (else it goes at
// once, as after a dropped connection, which a healthy node takes back).
func (f *dedicatedFollow) lose(slot slots.Slot, chans []string, old string, cause error, subscribed, wait bool, ttl time.Duration) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost == nil {
		f.lost = make(map[string]*lostSub)
	}
	for _, ch := range chans {
		l := f.lost[ch]
		if l == nil {
			if len(f.lost) >= maxFollowed {
				f.expire(now, ttl)
				if len(f.lost) >= maxFollowed {
					return
				}
			}
			l = &lostSub{cause: cause}
			f.lost[ch] = l
		}
		if l.cause == nil || l.slot != slot {
			l.cause = cause
		}
		l.slot, l.old, l.since, l.wait = slot, old, now, wait
		l.subscribed = l.subscribed || subscribed
	}
}

// expire forgets the channels lost longer than ttl ago. f.mu is held.
func (f *dedicatedFollow) expire(now time.Time, ttl time.Duration) {
	for ch, l := range f.lost {
		if now.Sub(l.since) > ttl {
			delete(f.lost, ch)
		}
	}
}

// pending returns the wait the next pin of chans (of slot) must make:
// the node to move away from and since when; ok false when none.
func (f *dedicatedFollow) pending(slot slots.Slot, chans []string, ttl time.Duration) (old string, since time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range chans {
		l := f.lost[ch]
		if l == nil || l.slot != slot {
			continue
		}
		if time.Since(l.since) > ttl {
			delete(f.lost, ch)
			continue
		}
		if l.wait {
			return l.old, l.since, true
		}
	}
	return "", time.Time{}, false
}

// waited records that the wait for chans ended without the topology
// moving on: the next pin goes where the topology says.
func (f *dedicatedFollow) waited(chans []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range chans {
		if l := f.lost[ch]; l != nil {
			l.wait = false
		}
	}
}

// found forgets chans, subscribed again, and returns the cause to report
// (nil: nothing to report, they had not been subscribed before).
func (f *dedicatedFollow) found(chans []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cause error
	for _, ch := range chans {
		l := f.lost[ch]
		if l == nil {
			continue
		}
		delete(f.lost, ch)
		if l.subscribed && cause == nil {
			cause = l.cause
			if cause == nil {
				cause = errors.New("slotrouter: sharded subscription lost")
			}
		}
	}
	return cause
}

// followState is a dedicated connection's part of the following: the
// sharded channels it subscribed and the caller unsubscribed, its
// wrapped hooks, and a resubscription to report.
type followState struct {
	mu       sync.Mutex
	ssubs    map[string]bool // SSUBSCRIBEd through this connection
	unsub    map[string]bool // SUNSUBSCRIBEd by the caller
	unsubAll bool            // SUNSUBSCRIBE without channels by the caller
	ended    bool            // the server ended the subscription
	hooks    *followHooks    // the caller's hooks, set on the connection
	report   *resub          // confirmed; reported once hooks are set
	slot     slots.Slot      // of the channels SSUBSCRIBEd
}

// sendNote is what a command sent on a dedicated connection means for
// the following.
type sendNote struct {
	ssub  bool // an SSUBSCRIBE of chans
	slot  slots.Slot
	chans []string
}

// ttl is how long a lost subscription is remembered.
func (c *Client) followTTL() time.Duration { return max(c.failoverWait, 0) + followTTL }

// noteSend records an SSUBSCRIBE or SUNSUBSCRIBE (args) before it is
// sent, so that the confirmations it brings are told apart from the
// server's own.
func (x *dedicated) noteSend(args []string) sendNote {
	if len(args) == 0 {
		return sendNote{}
	}
	ssub := strings.EqualFold(args[0], "ssubscribe")
	if !ssub && !strings.EqualFold(args[0], "sunsubscribe") {
		return sendNote{}
	}
	f := &x.fw
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ssub {
		if len(args) == 1 {
			f.unsubAll = true
		}
		for _, ch := range args[1:] {
			if f.unsub == nil {
				f.unsub = make(map[string]bool)
			}
			f.unsub[ch] = true
		}
		return sendNote{}
	}
	if len(args) < 2 {
		return sendNote{}
	}
	n := sendNote{ssub: true, slot: slots.Of(args[1]), chans: append([]string(nil), args[1:]...)}
	if f.ssubs == nil {
		f.ssubs = make(map[string]bool)
	}
	for _, ch := range n.chans {
		f.ssubs[ch] = true
		delete(f.unsub, ch)
	}
	f.unsubAll = false
	f.slot = n.slot
	return n
}

// resubscribable reports whether err, an SSUBSCRIBE's reply, says the
// subscription belongs elsewhere or later.
func resubscribable(err error) (retry.Class, bool) {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return retry.Class{}, false
	}
	class := retry.Classify(err)
	switch class.Kind {
	case retry.KindMoved, retry.KindAsk, retry.KindTryAgain, retry.KindClusterDown, retry.KindLoading, retry.KindMasterDown, retry.KindReadOnly:
		return class, true
	}
	return class, false
}

// afterSend handles the reply of a command noted by noteSend, sent on
// addr: an SSUBSCRIBE confirmed may be a resubscription to report; one
// that failed is remembered (the next pin waits for the topology), and a
// redirect reply is returned wrapped (see the comment at the top).
func (x *dedicated) afterSend(ctx context.Context, addr string, n sendNote, res rueidis.RedisResult) rueidis.RedisResult {
	if !n.ssub {
		return res
	}
	c := x.a.c
	err := res.Error()
	if err == nil {
		if cause := c.follow.found(n.chans); cause != nil {
			x.fw.mu.Lock()
			x.fw.report = &resub{addr: addr, cause: cause}
			x.fw.mu.Unlock()
			x.tryReport()
		}
		return res
	}
	if ctx.Err() != nil || callerEnded(err) {
		return res
	}
	class, moved := resubscribable(err)
	if moved {
		if class.Kind == retry.KindMoved {
			if red, rerr := class.Redirect(); rerr == nil {
				c.redirectTarget(red, addr)
			}
		}
		err = fmt.Errorf("slotrouter: SSUBSCRIBE on a dedicated connection to %s: the slot is not served there now, subscribe again on a new dedicated connection: %w", addr, err)
		res = rueidis.NewResult(rueidis.RedisMessage{}, err)
	} else if !isConnError(err) {
		return res // refused (NOPERM...): not the topology's doing
	}
	c.follow.lose(n.slot, n.chans, addr, err, false, true, c.followTTL())
	if moved {
		x.fw.mu.Lock()
		h := x.fw.hooks
		x.fw.mu.Unlock()
		if h != nil {
			h.end(err)
		}
	}
	return res
}

// callerEnded reports whether err says the caller (or the Client's
// Close) ended the call, not the node: nothing to follow.
func callerEnded(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, rueidis.ErrClosing) || errors.Is(err, ErrClosed) || errors.Is(err, rueidis.ErrDedicatedClientRecycled)
}

// tryReport reports the resubscription once it is confirmed and the
// caller's hooks are set.
func (x *dedicated) tryReport() {
	f := &x.fw
	f.mu.Lock()
	r := f.report
	if r == nil || f.hooks == nil || f.ended {
		f.mu.Unlock()
		return
	}
	f.report = nil
	slot := f.slot
	f.mu.Unlock()
	x.a.c.reportResubscribed(r.addr, slot, r.cause, "slotrouter: sharded subscription of a dedicated connection followed to a new node")
}

// pinConn returns the connection w pins: for an SSUBSCRIBE of channels
// whose subscription was lost, once the topology names another primary
// for their slot (see the comment at the top). A failure is remembered.
func (x *dedicated) pinConn(ctx context.Context, w want) (*nodeConn, error) {
	c := x.a.c
	d := decision{slot: w.slot, hasKeys: w.hasKeys}
	if !w.hasKeys || len(w.args) < 2 || !strings.EqualFold(w.args[0], "ssubscribe") {
		return c.connFor(ctx, d, true)
	}
	chans := w.args[1:]
	if err := c.awaitOwner(ctx, w.slot, chans); err != nil {
		return nil, err
	}
	nc, err := c.connFor(ctx, d, true)
	if err != nil && ctx.Err() == nil && !callerEnded(err) {
		old := ""
		if sh, ok := c.topo.Current().Lookup(w.slot); ok && sh.Primary != nil {
			old = sh.Primary.Addr
		}
		c.follow.lose(w.slot, chans, old, err, false, true, c.followTTL())
	}
	return nc, err
}

// awaitOwner waits, for chans of slot lost at a node, until the topology
// names another primary for slot, refreshing it every PollInterval, for
// at most Options.FailoverWait since the loss, within ctx.
func (c *Client) awaitOwner(ctx context.Context, slot slots.Slot, chans []string) error {
	old, since, ok := c.follow.pending(slot, chans, c.followTTL())
	if !ok {
		return nil
	}
	bound := max(c.failoverWait, 0)
	limit := int(bound/PollInterval)*4 + 16 // publications can come faster than PollInterval
	for range limit {
		if sh, ok := c.topo.Current().Lookup(slot); ok && sh.Primary != nil && sh.Primary.Addr != "" && sh.Primary.Addr != old {
			return nil
		}
		waited := time.Since(since)
		if waited >= bound {
			break
		}
		c.topo.Trigger("a sharded subscription waits for its slot's new owner")
		if err := c.awaitPublish(ctx, min(PollInterval, bound-waited), nil); err != nil {
			return err
		}
	}
	c.follow.waited(chans)
	return nil
}

// followHooks are the caller's pub/sub hooks as set on the dedicated
// connection: the server's SUNSUBSCRIBE of a channel the caller did not
// unsubscribe is kept from the caller and ends them (see the comment at
// the top). out is the caller's channel; it gets at most one error, then
// is closed.
type followHooks struct {
	x    *dedicated
	user rueidis.PubSubHooks
	addr string

	mu   sync.Mutex
	out  chan error
	done bool
	gen  int // of the connection's channel forwarded now

	panicked atomic.Bool // a hook of the caller panicked: not called again
}

// wrapped returns the hooks set on the connection. They run on rueidis's
// reader goroutine: a panic in the caller's hook is recovered and
// reported to the PanicObserver, ends the hooks with it (an error
// wrapping ErrPanic, on the caller's channel), and the caller's hooks
// are not called again (the connection stays subscribed until the
// caller gives it back).
func (h *followHooks) wrapped() rueidis.PubSubHooks {
	return rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			if h.user.OnMessage != nil {
				h.call("OnMessage", func() { h.user.OnMessage(m) })
			}
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "sunsubscribe" && h.serverEnded(s.Channel) {
				return
			}
			if h.user.OnSubscription != nil {
				h.call("OnSubscription", func() { h.user.OnSubscription(s) })
			}
		},
	}
}

// call runs fn, a hook of the caller, unless one panicked before; a
// panic ends the hooks.
func (h *followHooks) call(where string, fn func()) {
	if h.panicked.Load() {
		return
	}
	err := safe.Call("dedicated pub/sub hook "+where, fn)
	if err == nil || !h.panicked.CompareAndSwap(false, true) {
		return
	}
	h.x.a.c.panicked(h.addr, err)
	h.end(err)
}

// serverEnded reports whether the SUNSUBSCRIBE of ch (on the pipeline
// goroutine) is the server's own, and then ends the hooks.
func (h *followHooks) serverEnded(ch string) bool {
	x := h.x
	f := &x.fw
	f.mu.Lock()
	if f.ended {
		f.mu.Unlock()
		return true
	}
	if f.unsubAll || f.unsub[ch] || !f.ssubs[ch] {
		delete(f.ssubs, ch)
		delete(f.unsub, ch)
		f.mu.Unlock()
		return false
	}
	f.ended = true
	f.report = nil
	slot := f.slot
	chans := make([]string, 0, len(f.ssubs))
	for c := range f.ssubs {
		chans = append(chans, c)
	}
	f.mu.Unlock()
	c := x.a.c
	cause := fmt.Errorf("%w (slot %d, unsubscribed by %s)", ErrSlotMoved, slot, h.addr)
	c.follow.lose(slot, chans, h.addr, cause, true, true, c.followTTL())
	c.topo.Trigger("sharded subscription of a dedicated connection ended by " + h.addr)
	h.end(cause)
	return true
}

// end gives err (unless nil) to the caller's channel and closes it, once.
func (h *followHooks) end(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	if err != nil {
		h.out <- err
	}
	close(h.out)
}

// adopt forwards in, the connection's channel for the hooks (a new one
// after SetOnInvalidations), to the caller's; an earlier one closing is
// then no longer the end of the hooks.
func (h *followHooks) adopt(in <-chan error) {
	h.mu.Lock()
	h.gen++
	gen := h.gen
	h.mu.Unlock()
	if in == nil {
		return
	}
	go h.forward(in, gen)
}

// forward waits for the end of in (an error, or its close) and ends the
// hooks with it, unless in was replaced meanwhile. A connection error of
// a connection with sharded subscriptions is remembered, and the
// topology refreshed.
func (h *followHooks) forward(in <-chan error, gen int) {
	if perr := safe.Call("dedicated pub/sub hooks", func() { h.finish(<-in, gen) }); perr != nil {
		h.end(perr)
	}
}

// finish ends the hooks with e, the end of the connection's channel of
// generation gen, unless that channel was replaced meanwhile.
func (h *followHooks) finish(e error, gen int) {
	h.mu.Lock()
	current := h.gen == gen
	h.mu.Unlock()
	if !current {
		return
	}
	if e != nil && isConnError(e) && !callerEnded(e) {
		h.connLost(e)
	}
	h.end(e)
}

// connLost remembers the sharded channels of a connection that dropped.
func (h *followHooks) connLost(err error) {
	x := h.x
	f := &x.fw
	f.mu.Lock()
	if f.ended || f.unsubAll {
		f.mu.Unlock()
		return
	}
	chans := make([]string, 0, len(f.ssubs))
	for c := range f.ssubs {
		if !f.unsub[c] {
			chans = append(chans, c)
		}
	}
	f.ended = true
	slot := f.slot
	f.mu.Unlock()
	if len(chans) == 0 {
		return
	}
	c := x.a.c
	c.follow.lose(slot, chans, h.addr, err, true, false, c.followTTL())
	c.topo.Trigger("sharded subscription of a dedicated connection to " + h.addr + " dropped")
}

// setFollowHooks sets hooks (not zero) on x.inner, wrapped, with out as
// the caller's channel (a new one when nil), and returns it. x.mu is held
// and x.inner is set; call tryReport after releasing it.
func (x *dedicated) setFollowHooks(hooks rueidis.PubSubHooks, out chan error) chan error {
	if out == nil {
		out = make(chan error, 1)
	}
	h := &followHooks{x: x, user: hooks, addr: x.addr, out: out}
	in := x.inner.SetPubSubHooks(h.wrapped()) // closes the previous hooks' channel
	x.fw.mu.Lock()
	x.fw.hooks = h
	x.fw.mu.Unlock()
	h.adopt(in)
	return out // the caller reports a pending resubscription (tryReport) once x.mu is released
}

// clearFollowHooks forgets the wrapped hooks (the caller set none).
func (x *dedicated) clearFollowHooks() {
	x.fw.mu.Lock()
	x.fw.hooks = nil
	x.fw.mu.Unlock()
}

// setFollowInval sets fn on x.inner, keeping the wrapped hooks (their
// channel is replaced), and returns the caller's channel. x.mu is held
// and x.inner is set.
func (x *dedicated) setFollowInval(fn func([]rueidis.RedisMessage)) <-chan error {
	fn = guardInvalidations(x.addr, fn, x.a.c.panicked)
	x.fw.mu.Lock()
	h := x.fw.hooks
	x.fw.mu.Unlock()
	if h == nil {
		return x.inner.SetOnInvalidations(fn)
	}
	h.adopt(x.inner.SetOnInvalidations(fn))
	return h.out
}
