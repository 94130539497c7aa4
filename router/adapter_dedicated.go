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
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// ErrPinned is wrapped by the error of a command on a dedicated
// connection (Dedicated, Dedicate) that needs another node than the one
// the connection is pinned to: a key of another slot than the slot the
// connection was pinned to (the error then also wraps a *CrossSlotError
// naming both keys), or, for a connection pinned by a keyless command, a
// key of a slot that node does not serve. Nothing was sent.
var ErrPinned = errors.New("slotrouter: dedicated connection pinned elsewhere")

// pinnedError is the error ErrPinned documents.
type pinnedError struct {
	msg string
	cse error // the *CrossSlotError, or nil
}

// Error explains the refusal.
func (e *pinnedError) Error() string { return e.msg }

// Unwrap gives ErrPinned and the *CrossSlotError.
func (e *pinnedError) Unwrap() []error {
	if e.cse == nil {
		return []error{ErrPinned}
	}
	return []error{ErrPinned, e.cse}
}

// ErrDedicatedRecycled is the error of a call on a dedicated client after
// it was given back (Dedicated's fn returned, Dedicate's cancel or the
// client's Close was called). It wraps rueidis.ErrDedicatedClientRecycled,
// which code written against rueidis may test.
var ErrDedicatedRecycled = fmt.Errorf("slotrouter: dedicated client used after it was given back (Dedicated returned, or Dedicate's cancel or Close was called): %w",
	rueidis.ErrDedicatedClientRecycled)

// errNilFn is Dedicated's error for a nil function.
var errNilFn = fmt.Errorf("%w: Dedicated: nil function", command.ErrBadCommand)

// dedicatedCleanupTimeout bounds the UNWATCH or DISCARD sent when a
// dedicated connection is given back with a transaction still open.
const dedicatedCleanupTimeout = time.Second

// Dedicated calls fn with a connection of its own, given back when fn
// returns (see Dedicate), and returns fn's error. A nil fn is an error
// wrapping ErrBadCommand.
func (a *rueidisClient) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	if fn == nil {
		return errNilFn
	}
	if a.c.closed.Load() {
		return ErrClosed
	}
	d := &dedicated{a: a}
	defer d.release()
	return fn(d)
}

// Dedicate returns a connection of its own, for transactions (WATCH,
// MULTI, EXEC, DISCARD, UNWATCH), blocking commands and pub/sub hooks,
// and the function that gives it back (the connection returns to its
// node's pool; later calls fail with ErrDedicatedRecycled). The
// Client's Close closes the dedicated connections not given back.
//
// As with rueidis's cluster client, the connection is chosen lazily: the
// first command with keys pins it to the primary of their slot (an
// SSUBSCRIBE to the primary of its channels' slot), and every later
// command is checked against the Client's slot table before it is sent:
// a key of another slot fails with an error wrapping ErrPinned and a
// *CrossSlotError (rueidis panics there). Keyless commands sent before
// any key (MULTI, PING, SUBSCRIBE...) take a connection to a random
// primary and pin it to that node: later keys must then be in slots that
// node serves (ErrPinned otherwise), so start with a keyed command, such
// as WATCH, to choose the node. DoMulti checks all its commands first,
// and sends none when one fails.
//
// The dedicated connection is not redirected nor retried: a MOVED or ASK
// reply (the slot moved between WATCH and EXEC) is returned as it is,
// since a transaction cannot be replayed elsewhere behind the caller's
// back, and triggers a topology refresh, so that the caller's next
// attempt (a new Dedicated, as a go-redis Watch retry loop through
// rueidiscompat makes) finds the slot's new owner. A connection error is
// returned too (and also triggers a refresh): for a write or an EXEC
// that may have been written, as an *UnknownOutcomeError
// (ErrUnknownOutcome) naming the node. A transaction left open (MULTI
// without EXEC, or WATCH without EXEC) is ended with DISCARD or UNWATCH
// when the connection is given back, so the next user of the connection
// does not inherit it.
//
// A sharded subscription (SetPubSubHooks, then SSUBSCRIBE) follows its
// slot with the caller's help: when the server ends it (an SUNSUBSCRIBE
// the caller did not send: the slot moved; it is not passed to
// OnSubscription), the connection drops, or SSUBSCRIBE is answered by a
// redirect (returned wrapped in an error that is not a
// *rueidis.RedisError), the hooks' channel yields an error and the
// topology is refreshed; an SSUBSCRIBE of those channels on a new
// dedicated connection is pinned once the topology names the slot's new
// owner, within Options.FailoverWait, and reported by EventResubscribed
// (see the package doc, Pub/sub). go-redis's PubSub through
// rueidiscompat subscribes again this way by itself.
func (a *rueidisClient) Dedicate() (rueidis.DedicatedClient, func()) {
	d := &dedicated{a: a}
	return d, d.release
}

// dedicated is the rueidis.DedicatedClient of Dedicated and Dedicate: a
// node's own rueidis DedicatedClient, chosen on the first command and
// checked against the Client's slot table.
type dedicated struct {
	a *rueidisClient

	mu      sync.Mutex
	done    bool                    // given back or closed
	inner   rueidis.DedicatedClient // nil until pinned
	cancel  func()                  // gives inner back
	addr    string                  // the pinned node
	hasSlot bool                    // pinned to a slot (not only a node)
	slot    slots.Slot
	pinBy   string // the command whose key chose the slot
	pinKey  string // that key
	pending *pendingHooks
	pinning chan struct{} // closed when the pin in progress ends
	watch   bool          // WATCH sent, not ended by EXEC, DISCARD or UNWATCH
	multi   bool          // MULTI sent, not ended by EXEC or DISCARD
	fw      followState   // sharded subscriptions following their slot (dedicated_follow.go)
}

// pendingHooks are pub/sub hooks set before the connection was pinned:
// installed on it when it is.
type pendingHooks struct {
	hooks rueidis.PubSubHooks
	inval func([]rueidis.RedisMessage)
	ch    chan error // what the caller got; closed when the hooks end
}

// want is what one command (or a DoMulti) needs of the pinned connection.
type want struct {
	hasKeys bool
	slot    slots.Slot
	args    []string // the command with the keys (for error messages)
}

// txnKind says how a command changes the transaction state.
type txnKind uint8

const (
	txnNone txnKind = iota
	txnWatch
	txnUnwatch
	txnMulti
	txnEnd // EXEC, DISCARD
)

func kindOf(name string) txnKind {
	switch {
	case strings.EqualFold(name, "watch"):
		return txnWatch
	case strings.EqualFold(name, "unwatch"):
		return txnUnwatch
	case strings.EqualFold(name, "multi"):
		return txnMulti
	case strings.EqualFold(name, "exec"), strings.EqualFold(name, "discard"):
		return txnEnd
	}
	return txnNone
}

// dedicatedDecide is decide for a dedicated connection, where the
// transaction commands, the subscribe family (an SSUBSCRIBE or
// SUNSUBSCRIBE has its channels' slot) and CLIENT TRACKING are allowed.
func dedicatedDecide(t *command.Table, args []string) (decision, error) {
	if len(args) == 0 || args[0] == "" {
		return decision{}, errEmptyCommand
	}
	if isSubscribe(args[0]) {
		var d decision
		var err error
		if strings.EqualFold(args[0], "ssubscribe") || strings.EqualFold(args[0], "sunsubscribe") {
			d.slot, d.hasKeys, err = CheckSlot(strings.ToUpper(args[0]), args[1:]...)
		}
		return d, err
	}
	d, err := decide(t, args)
	var cs *connStateErr
	if errors.As(err, &cs) && cs.name == "client tracking" {
		return decision{}, nil
	}
	return d, err
}

// keysOf returns the keys (or channels) of args, for error messages.
func (x *dedicated) keysOf(args []string) []string {
	if isSubscribe(args[0]) {
		return args[1:]
	}
	ks, _ := x.a.c.table.Keys(args)
	return ks
}

// check says whether w can go on the pinned connection, and pins its
// slot when the connection was pinned by a keyless command only. x.mu is
// held and x.inner is set.
func (x *dedicated) check(w want) error {
	if !w.hasKeys {
		return nil
	}
	name := strings.ToUpper(w.args[0])
	if x.hasSlot {
		if w.slot == x.slot {
			return nil
		}
		_, _, cse := CheckSlot(name, append([]string{x.pinKey}, x.keysOf(w.args)...)...)
		if cse == nil {
			cse = ErrCrossSlot
		}
		return &pinnedError{
			msg: fmt.Sprintf("slotrouter: %s on a dedicated connection pinned to slot %d (by %s %q): %v", name, x.slot, x.pinBy, x.pinKey, cse),
			cse: cse,
		}
	}
	sh, ok := x.a.c.topo.Current().Lookup(w.slot)
	if !ok || sh.Primary == nil || sh.Primary.Addr != x.addr {
		return &pinnedError{msg: fmt.Sprintf("slotrouter: %s on a dedicated connection needs slot %d, which %s does not serve: the connection was pinned to that node by a keyless command before any key (send a keyed command, such as WATCH, first)",
			name, w.slot, x.addr)}
	}
	x.pin(w)
	return nil
}

// pin records the slot of w as the connection's. x.mu is held.
func (x *dedicated) pin(w want) {
	if !w.hasKeys {
		return
	}
	x.hasSlot, x.slot = true, w.slot
	x.pinBy = strings.ToUpper(w.args[0])
	if ks := x.keysOf(w.args); len(ks) > 0 {
		x.pinKey = ks[0]
	}
}

// maxPinWaits bounds how many pin attempts of concurrent calls one call
// waits for before it gives up.
const maxPinWaits = 16

// acquire returns the pinned connection for w, pinning it first when
// needed. One call pins at a time (outside the lock: the dial and the
// wait for a pooled connection honour ctx); concurrent first calls wait
// for it, within their own context, instead of taking connections of
// their own (with a bounded pool they would wait for each other).
func (x *dedicated) acquire(ctx context.Context, w want) (rueidis.DedicatedClient, string, error) {
	x.mu.Lock()
	for i := 0; ; i++ {
		if err := x.usable(); err != nil {
			x.mu.Unlock()
			return nil, "", err
		}
		if x.inner != nil {
			err := x.check(w)
			inner, addr := x.inner, x.addr
			x.mu.Unlock()
			return inner, addr, err
		}
		if x.pinning == nil {
			break
		}
		if i == maxPinWaits {
			x.mu.Unlock()
			return nil, "", errors.New("slotrouter: dedicated connection: too many failed pins by concurrent calls")
		}
		wait := x.pinning
		x.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
		x.mu.Lock()
	}
	pinned := make(chan struct{})
	x.pinning = pinned
	x.mu.Unlock()

	nc, err := x.pinConn(ctx, w)
	var dc rueidis.DedicatedClient
	var cancel func()
	if err == nil {
		dc, cancel, err = dedicateConn(ctx, nc.client)
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	x.pinning = nil
	close(pinned)
	if err != nil {
		if p := x.pending; p != nil {
			x.pending = nil
			p.ch <- err
			close(p.ch)
		}
		return nil, "", err
	}
	if uerr := x.usable(); uerr != nil {
		cancel() // given back meanwhile: ours goes back to the pool
		return nil, "", uerr
	}
	if !x.a.c.held.add(x) {
		cancel() // the Client is closing
		return nil, "", ErrClosed
	}
	x.inner, x.cancel, x.addr = dc, cancel, nc.key.addr
	x.pin(w)
	x.installHooks()
	return x.inner, x.addr, nil
}

// usable returns the error of a call on a dedicated client that cannot be
// used any more. x.mu is held.
func (x *dedicated) usable() error {
	if x.a.c.closed.Load() {
		return ErrClosed
	}
	if x.done {
		return ErrDedicatedRecycled
	}
	return nil
}

// dedicateConn returns a dedicated connection of cl. rueidis waits
// without a context for a free connection when its pool is full
// (BlockingPoolSize): the wait runs in a goroutine so that ctx bounds
// it, and a connection that comes after ctx ended is given back.
func dedicateConn(ctx context.Context, cl rueidis.Client) (rueidis.DedicatedClient, func(), error) {
	type got struct {
		dc     rueidis.DedicatedClient
		cancel func()
		err    error
	}
	ch := make(chan got, 1)
	var handoff atomic.Int32 // 0: waiting, 1: handed over, 2: abandoned
	go func() {
		var g got
		g.err = safe.Call("Dedicate", func() { g.dc, g.cancel = cl.Dedicate() })
		if g.err == nil && (g.dc == nil || g.cancel == nil) {
			g.err = errors.New("slotrouter: Dedicate: the node's client gave no connection")
		}
		if handoff.CompareAndSwap(0, 1) {
			ch <- g
			return
		}
		if g.cancel != nil {
			g.cancel() // nobody waits for it any more
		}
	}()
	select {
	case g := <-ch:
		return g.dc, g.cancel, g.err
	case <-ctx.Done():
		if handoff.CompareAndSwap(0, 2) {
			return nil, nil, ctx.Err()
		}
		g := <-ch // handed over just now
		return g.dc, g.cancel, g.err
	}
}

// installHooks puts the hooks set before the pin on the connection, and
// forwards the end of the hooks to the channel the caller holds. x.mu is
// held and x.inner is set.
func (x *dedicated) installHooks() {
	p := x.pending
	if p == nil {
		return
	}
	x.pending = nil
	if p.hooks.OnMessage != nil || p.hooks.OnSubscription != nil {
		x.setFollowHooks(p.hooks, p.ch)
		if p.inval != nil {
			x.setFollowInval(p.inval) // keeps the hooks just set
		}
		return
	}
	if p.inval == nil {
		close(p.ch)
		return
	}
	go forwardHooks(x.inner.SetOnInvalidations(guardInvalidations(x.addr, p.inval, x.a.c.panicked)), p.ch)
}

// forwardHooks copies the end of the connection's hooks (at most one
// error, then close: at the latest when the connection is given back)
// to the caller's channel.
func forwardHooks(in <-chan error, out chan error) {
	defer close(out)
	var sent bool
	perr := safe.Call("dedicated pub/sub hooks", func() {
		for e := range in {
			if !sent {
				out <- e
				sent = true
			}
		}
	})
	if perr != nil && !sent {
		out <- perr
	}
}

// after records what a command did to the transaction state, reports a
// reply to the node's breaker, and triggers a topology refresh on a
// redirect or a connection error.
func (x *dedicated) after(ctx context.Context, addr string, kind txnKind, err error) {
	if kind != txnNone && !isConnError(err) {
		x.mu.Lock()
		switch kind {
		case txnWatch:
			x.watch = x.watch || err == nil
		case txnUnwatch:
			x.watch = x.watch && err != nil
		case txnMulti:
			x.multi = x.multi || err == nil
		case txnEnd:
			x.watch, x.multi = false, false
		}
		x.mu.Unlock()
	}
	if !isConnError(err) {
		// A reply proves the node alive: to its breaker (the pin only
		// peeked at it, so this holds no probe; while closed, it clears
		// the failures counted).
		x.a.c.pool.success(addr)
	}
	if err == nil {
		return
	}
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		if _, ok := re.IsMoved(); ok {
			x.a.c.topo.Trigger("MOVED on a dedicated connection to " + addr)
		} else if _, ok := re.IsAsk(); ok {
			x.a.c.topo.Trigger("ASK on a dedicated connection to " + addr)
		} else if re.IsClusterDown() {
			x.a.c.topo.Trigger("CLUSTERDOWN on a dedicated connection to " + addr)
		}
		return
	}
	if isConnError(err) && ctx.Err() == nil && !errors.Is(err, rueidis.ErrDedicatedClientRecycled) {
		x.a.c.topo.Trigger("connection error on a dedicated connection to " + addr)
	}
}

// isConnError reports whether err is neither a server reply nor nil.
func isConnError(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) {
		return false
	}
	var re *rueidis.RedisError
	return !errors.As(err, &re)
}

// B returns the command builder (the face's).
func (x *dedicated) B() rueidis.Builder { return x.a.b }

// Do sends cmd on the dedicated connection (see Dedicate).
func (x *dedicated) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if ctx == nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, errNilContext)
	}
	if cmd.IsEmpty() {
		return rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
	}
	args := cmd.Commands()
	d, err := dedicatedDecide(x.a.c.table, args)
	if err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	dc, addr, err := x.acquire(ctx, want{hasKeys: d.hasKeys, slot: d.slot, args: args})
	if err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	// args are recycled with cmd once answered: read them first.
	kind := kindOf(args[0])
	name, write := args[0], x.isWrite(args, &cmd)
	if err := ctx.Err(); err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err) // not sent
	}
	note := x.noteSend(args)
	res := x.a.c.closedResult(dc.Do(ctx, cmd))
	x.after(ctx, addr, kind, res.Error())
	if write {
		if err := unknownOutcome(addr, name, res.Error()); err != nil {
			return rueidis.NewResult(rueidis.RedisMessage{}, err)
		}
	}
	return x.afterSend(ctx, addr, note, res)
}

// isWrite reports whether cmd (args) is a command whose fate matters
// when its connection breaks after it was written: a write, or EXEC —
// not a read, nor a command that only sets the connection's state
// (WATCH, UNWATCH, MULTI, DISCARD), which goes with the connection.
func (x *dedicated) isWrite(args []string, cmd *rueidis.Completed) bool {
	switch kindOf(args[0]) {
	case txnNone:
		// (The subscribe family sets the connection's state: it goes with
		// the connection, and a sharded subscription follows its slot.)
		return !cmd.IsReadOnly() && !x.a.c.table.IsReadOnly(args) && !isSubscribe(args[0])
	case txnEnd:
		return strings.EqualFold(args[0], "exec")
	}
	return false
}

// closedResult is res, its error wrapped with ErrClosed when it is a
// connection error and the Client is closed: Close cut the connection.
func (c *Client) closedResult(res rueidis.RedisResult) rueidis.RedisResult {
	if err, ok := c.closedErr(res.Error()); ok {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	return res
}

// closedErr returns err wrapped with ErrClosed, and true, when it is a
// connection error and the Client is closed (Close cut the connection);
// else err and false.
func (c *Client) closedErr(err error) (error, bool) {
	if isConnError(err) && c.closed.Load() && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err), true
	}
	return err, false
}

// unknownOutcome returns an *UnknownOutcomeError for a write on addr that
// ended with err, a connection (or context) error after it may have been
// written; nil when err says nothing of the kind.
func unknownOutcome(addr, name string, err error) error {
	if !isConnError(err) || retry.Unsent(err) || errors.Is(err, rueidis.ErrDedicatedClientRecycled) {
		return nil
	}
	return &UnknownOutcomeError{Addr: addr, Command: name, Err: err}
}

// DoMulti pipelines multi on the dedicated connection (see Dedicate).
// Every command is checked first: when one is refused (empty, or a key of
// another slot) none is sent, the refused one gets its error and the
// others an error that wraps it.
func (x *dedicated) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	// fail refuses every command: multi[at] with err, the others with an
	// error that wraps it.
	fail := func(at int, err error) []rueidis.RedisResult {
		out := errsOf(len(multi), fmt.Errorf("slotrouter: not sent: command %d of the DoMulti was refused: %w", at, err))
		out[at] = rueidis.NewResult(rueidis.RedisMessage{}, err)
		return out
	}
	if ctx == nil {
		return errsOf(len(multi), errNilContext)
	}
	var w want
	var kinds [16]txnKind
	ks := kinds[:0]
	var writes []int // the indexes of the writes (isWrite)
	var names []string
	var hasSub bool
	for i := range multi {
		if multi[i].IsEmpty() {
			return fail(i, errEmptyCommand)
		}
		args := multi[i].Commands()
		d, err := dedicatedDecide(x.a.c.table, args)
		if err != nil {
			return fail(i, err)
		}
		ks = append(ks, kindOf(args[0]))
		if x.isWrite(args, &multi[i]) {
			writes, names = append(writes, i), append(names, args[0])
		}
		hasSub = hasSub || isSubscribe(args[0])
		if !d.hasKeys {
			continue
		}
		if !w.hasKeys {
			w = want{hasKeys: true, slot: d.slot, args: args}
			continue
		}
		if d.slot != w.slot {
			name := strings.ToUpper(args[0])
			_, _, cse := CheckSlot(name, append(x.keysOf(w.args), x.keysOf(args)...)...)
			if cse == nil {
				cse = ErrCrossSlot
			}
			return fail(i, cse)
		}
	}
	dc, addr, err := x.acquire(ctx, w)
	if err != nil {
		return errsOf(len(multi), err)
	}
	if err := ctx.Err(); err != nil {
		return errsOf(len(multi), err) // not sent
	}
	var notes []sendNote
	if hasSub {
		notes = make([]sendNote, len(multi))
		for i := range multi {
			notes[i] = x.noteSend(multi[i].Commands())
		}
	}
	res := dc.DoMulti(ctx, multi...)
	for i := range res {
		res[i] = x.a.c.closedResult(res[i])
		if i < len(ks) {
			x.after(ctx, addr, ks[i], res[i].Error())
		}
		if i < len(notes) {
			res[i] = x.afterSend(ctx, addr, notes[i], res[i])
		}
	}
	for k, i := range writes {
		if i >= len(res) {
			break
		}
		if err := unknownOutcome(addr, names[k], res[i].Error()); err != nil {
			res[i] = rueidis.NewResult(rueidis.RedisMessage{}, err)
		}
	}
	return res
}

// Receive subscribes on the dedicated connection with SUBSCRIBE,
// PSUBSCRIBE or SSUBSCRIBE (which pins the connection to its channels'
// slot) and calls fn for each message until the subscription ends (see
// rueidis.DedicatedClient). A panic in rueidis.WithOnSubscriptionHook's
// hook (run on rueidis's reader goroutine) is recovered, reported to the
// PanicObserver, and ends Receive with an error wrapping ErrPanic.
func (x *dedicated) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	if ctx == nil {
		return errNilContext
	}
	if fn == nil {
		return errNilHandler
	}
	if subscribe.IsEmpty() {
		return errEmptyCommand
	}
	args := subscribe.Commands()
	if _, err := subscribeKind(args[0]); err != nil {
		return err
	}
	d, err := dedicatedDecide(x.a.c.table, args)
	if err != nil {
		return err
	}
	dc, addr, err := x.acquire(ctx, want{hasKeys: d.hasKeys, slot: d.slot, args: args})
	if err != nil {
		return err
	}
	hctx := newHookCtx(ctx, nil, func(err error) { x.a.c.panicked(addr, err) })
	defer hctx.release()
	err = dc.Receive(hctx, subscribe, fn)
	if perr := hctx.panicErr(); perr != nil {
		return perr // the caller's subscription hook panicked
	}
	x.after(ctx, addr, txnNone, err)
	err, _ = x.a.c.closedErr(err)
	return err
}

// errChan returns a closed channel holding err.
func errChan(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	close(ch)
	return ch
}

// SetPubSubHooks sets the hooks of the dedicated connection (see
// rueidis.DedicatedClient). Before the connection is pinned the hooks
// wait for it, as in rueidis's cluster client: the next command pins it
// (a SUBSCRIBE to any primary, an SSUBSCRIBE to its channels' slot).
func (x *dedicated) SetPubSubHooks(hooks rueidis.PubSubHooks) <-chan error {
	return x.setHooks(hooks, nil, false)
}

// SetOnInvalidations sets the invalidation callback of the dedicated
// connection, keeping its pub/sub hooks (see rueidis.DedicatedClient).
func (x *dedicated) SetOnInvalidations(fn func([]rueidis.RedisMessage)) <-chan error {
	return x.setHooks(rueidis.PubSubHooks{}, fn, true)
}

// setHooks is SetPubSubHooks (inval false) or SetOnInvalidations.
func (x *dedicated) setHooks(hooks rueidis.PubSubHooks, fn func([]rueidis.RedisMessage), inval bool) <-chan error {
	defer x.tryReport() // a resubscription confirmed before its hooks (dedicated_follow.go), after the unlock
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return errChan(ErrDedicatedRecycled)
	}
	if x.inner != nil {
		if inval {
			return x.setFollowInval(fn)
		}
		if hooks.OnMessage == nil && hooks.OnSubscription == nil {
			x.clearFollowHooks()
			return x.inner.SetPubSubHooks(hooks) // closes the previous hooks' channel
		}
		return x.setFollowHooks(hooks, nil)
	}
	var p pendingHooks
	if old := x.pending; old != nil {
		x.pending = nil
		close(old.ch)
		p = *old
	}
	if inval {
		p.inval = fn
	} else {
		p.hooks = hooks
	}
	if p.hooks.OnMessage == nil && p.hooks.OnSubscription == nil && p.inval == nil {
		return nil
	}
	p.ch = make(chan error, 1)
	x.pending = &p
	return p.ch
}

// Close closes the dedicated connection (it is not reused) and gives it
// back; later calls fail with ErrDedicatedRecycled.
func (x *dedicated) Close() {
	x.mu.Lock()
	if x.done {
		x.mu.Unlock()
		return
	}
	x.done = true
	inner := x.inner
	p := x.pending
	x.pending = nil
	x.mu.Unlock()
	if p != nil {
		p.ch <- rueidis.ErrClosing
		close(p.ch)
	}
	if inner != nil {
		x.a.c.held.remove(x)
		inner.Close()
	}
}

// release gives the connection back (Dedicate's cancel), ending an open
// transaction first; it is idempotent.
func (x *dedicated) release() {
	x.mu.Lock()
	if x.done {
		x.mu.Unlock()
		return
	}
	x.done = true
	inner, cancel := x.inner, x.cancel
	multi, watch := x.multi, x.watch
	p := x.pending
	x.pending = nil
	x.mu.Unlock()
	if p != nil {
		close(p.ch)
	}
	if inner == nil {
		return
	}
	x.a.c.held.remove(x)
	if multi || watch {
		cmd := x.a.b.Unwatch().Build()
		if multi {
			cmd = x.a.b.Discard().Build()
		}
		ctx, stop := context.WithTimeout(context.Background(), dedicatedCleanupTimeout)
		err := inner.Do(ctx, cmd).Error()
		stop()
		if err != nil {
			inner.Close() // closed, not reused
			return
		}
	}
	cancel()
}

// dedicatedSet is the set of a Client's pinned dedicated connections, so
// that the Client's Close closes those not given back (rueidis's pool
// does not close a connection that is out).
type dedicatedSet struct {
	mu     sync.Mutex
	m      map[*dedicated]struct{}
	closed bool
}

// add records x; false when the Client is closing (x must not pin).
func (s *dedicatedSet) add(x *dedicated) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[*dedicated]struct{})
	}
	s.m[x] = struct{}{}
	return true
}

// remove forgets x.
func (s *dedicatedSet) remove(x *dedicated) {
	s.mu.Lock()
	delete(s.m, x)
	s.mu.Unlock()
}

// closeAll closes every connection still out, and refuses new ones.
func (s *dedicatedSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	out := make([]*dedicated, 0, len(s.m))
	for x := range s.m {
		out = append(out, x)
	}
	s.m = nil
	s.mu.Unlock()
	for _, x := range out {
		x.Close()
	}
}
