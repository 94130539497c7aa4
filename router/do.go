package router

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// Cmd is one command for DoCmd and DoMulti: its arguments, name first,
// and whether it may be sent again after an unknown outcome.
type Cmd struct {
	// Args are the command's arguments, name first ("SET", "k", "v").
	Args []string
	// Idempotent marks a write as safe to send again when the connection
	// broke after it was sent (SET k v, DEL k, HSET ...). Read-only
	// commands are always safe; other writes (INCR, LPUSH, ...) then fail
	// with ErrUnknownOutcome.
	Idempotent bool
}

// C returns the command args (not marked idempotent).
func C(args ...string) Cmd { return Cmd{Args: args} }

// Idempotent returns the command args marked idempotent: the caller
// states that executing it twice has the same effect as once, so it is
// retried after a connection error even when it may have been executed.
func Idempotent(args ...string) Cmd { return Cmd{Args: args, Idempotent: true} }

// Do sends one command, given as its arguments (name first), to the node
// that serves its keys, following redirects and retrying what is safe to
// retry (see the package documentation). A command without keys (PING,
// INFO, unknown commands...) goes to one primary, unless its command tips
// send it to every primary or node (DBSIZE, KEYS, FLUSHALL, SCRIPT
// LOAD...); a command whose keys hash to different slots is split per
// slot when its tips allow (MGET, MSET, DEL...; see "Multi-shard
// commands" in the package documentation); see DoPrimaries to reach
// every primary with any command. The reply and error are those of
// rueidis (rueidis.IsRedisNil(err) for a nil reply), or a client error:
// *CrossSlotError, *MultiShardError (ErrMultiShard), ErrBadCommand, *UnknownOutcomeError
// (ErrUnknownOutcome), *retry.ExhaustedError (wrapping the last error),
// *FailoverWaitError (ErrNoPrimary) when the slot had no reachable
// primary for Options.FailoverWait (or until the context ended), ErrNoNode
// when nobody serves the slot, ErrClosed, a *NodeError wrapping
// retry.ErrOpen when a node's breaker is open and the command does not
// wait (FailoverWait < 0, keyless commands), or the context's error.
func (c *Client) Do(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
	return c.do(ctx, args, false)
}

// DoCmd is Do for a Cmd, which may be marked idempotent.
func (c *Client) DoCmd(ctx context.Context, cmd Cmd) (rueidis.RedisMessage, error) {
	return c.do(ctx, cmd.Args, cmd.Idempotent)
}

// state is one command's (or MULTI block's) progress in the retry loop.
type state struct {
	d       decision
	idem    bool
	ctr     retry.Counter
	forced  string // dialable address named by the last redirect
	asking  bool   // send ASKING first (to forced)
	avoid   string // a node that just failed a read: try another
	block   bool   // a MULTI block: always to the primary
	refresh bool   // refresh the topology before the next attempt
	last    error

	ro bool       // the last attempt was a replica read (READONLY connection)
	ns *nodeState // the node pick chose, when it looked it up (else nil)

	// Tracing (with a Tracer only).
	tctx     context.Context
	tstart   time.Time
	tname    string // the Tracer's name of the command (traceName)
	attempts int
	lastAddr string

	// peek: check the breaker without taking a pass (a call whose outcome
	// is not reported to it: connFor).
	peek bool

	// The caller's own rueidis command (the rueidis face): sent as it is
	// on the first attempt, then rebuilt from the args (rueidis recycles
	// a command once it has a reply).
	user    rueidis.Completed
	hasUser bool

	// A failover wait: the slot's primary was unreachable.
	wait      bool      // wait before the next attempt
	waitAddr  string    // the unreachable node
	waitStart time.Time // zero: never waited
}

func (c *Client) do(ctx context.Context, args []string, idem bool) (rueidis.RedisMessage, error) {
	return c.doUser(ctx, args, idem, nil)
}

// doUser is do for args, or for the caller's rueidis command user (whose
// args are args, a copy the caller keeps valid), whose flags add to the
// table's: read-only, blocking, retryable (idempotent).
func (c *Client) doUser(ctx context.Context, args []string, idem bool, user *rueidis.Completed) (rueidis.RedisMessage, error) {
	if ctx == nil {
		return rueidis.RedisMessage{}, errNilContext
	}
	if c.closed.Load() {
		return rueidis.RedisMessage{}, ErrClosed
	}
	d, err := decideLazy(c.table, args)
	if err != nil {
		if err == errCrossLazy {
			// Split per slot when the command's tips allow (multishard.go),
			// else the *CrossSlotError.
			if msg, err, ok := c.multiShard(ctx, args, idem || user != nil && user.IsRetryable()); ok {
				return msg, err
			}
			if _, err = decide(c.table, args); err == nil {
				err = errCrossLazy // (never: decide sees the same keys)
			}
		}
		return rueidis.RedisMessage{}, err
	}
	if d.txn {
		return rueidis.RedisMessage{}, errTxnInDo
	}
	if d.fan {
		// To every primary or node when the command's tips say so.
		if msg, err, ok := c.fanOut(ctx, args); ok {
			return msg, err
		}
	}
	c.budget.Deposit()
	var first *sentAttempt
	if c.tracer == nil && c.afterGet == nil {
		failed, msg, done, err := c.doFast(ctx, args, &d, user)
		if done {
			return msg, err
		}
		first = failed
	}
	st := state{d: d, idem: idem, ctr: c.limits.Counter()}
	if user != nil {
		st.user, st.hasUser = *user, true
		st.d.readOnly = st.d.readOnly || user.IsReadOnly()
		st.d.blocking = st.d.blocking || user.IsBlock()
		st.idem = st.idem || user.IsRetryable()
		if st.d.blocking && !user.IsBlock() {
			// The table knows it blocks, the builder did not say so: build
			// it as blocking, off the shared connection.
			st.hasUser = false
		}
	}
	if first != nil {
		st.ns, st.hasUser = first.ns, false
	}
	if c.tracer != nil {
		st.tname = c.traceName(args[0])
		st.tctx, st.tstart = c.traceStart(ctx, st.tname, d.slotOrNone(), 1)
	}
	msg, err := c.loop(ctx, args, &st, first)
	if !st.waitStart.IsZero() {
		c.waitEnded(&st, err)
	}
	if c.tracer != nil {
		c.safeTrace(func() {
			c.tracer.EndCommand(st.tctx, CommandEnd{Name: st.tname, Addr: st.lastAddr, Duration: time.Since(st.tstart), Attempts: st.attempts, Err: err})
		})
	}
	return msg, err
}

// loop runs the attempts of one command; first, when not nil, is the
// outcome of its first attempt, sent and failed in doFast.
func (c *Client) loop(ctx context.Context, args []string, st *state, first *sentAttempt) (rueidis.RedisMessage, error) {
	d := st.d
	for {
		var (
			astart time.Time
			addr   string
			ro     bool
			err    error
			res    rueidis.RedisResult
			unsent bool
		)
		if first != nil {
			addr, err = first.addr, first.err
			first = nil
			goto failed
		}
		if err := ctx.Err(); err != nil {
			return rueidis.RedisMessage{}, c.endErr(err, st)
		}
		if c.closed.Load() {
			return rueidis.RedisMessage{}, ErrClosed
		}
		if c.tracer != nil {
			astart = time.Now()
		}
		addr, ro, err = c.pick(st)
		st.ro = ro
		if err == nil {
			var nc *nodeConn
			nc, err = c.getConn(ctx, st, addr, ro)
			if err != nil {
				unsent = true
			} else {
				if c.afterGet != nil {
					c.afterGet(nc)
				}
				if nc.closing.Load() {
					// Closed by the pool (or Close) before anything was
					// sent: pick again.
					res, err, unsent = rueidis.RedisResult{}, errNodeClosing, true
					goto failed
				}
				ns := st.ns
				if ns == nil {
					ns = c.pool.node(addr)
					st.ns = ns
				}
				var start time.Time
				if c.policy == Nearest {
					start = time.Now()
				}
				lone, k := false, 0
				if !d.blocking {
					// Alone now, and no concurrency seen lately: with
					// concurrent callers, a read on a connection of its own
					// would cost a write and a read of its own instead of
					// joining the shared pipeline's next batch.
					k, lone = ns.startCall(ns.busy.Load())
				}
				res = c.send(ctx, nc, args, st, lone)
				err = res.Error()
				answered := err == nil || rueidis.IsRedisNil(err) || isReply(err)
				ns.callEnded(k, d.blocking, answered)
				if answered && !start.IsZero() {
					ns.observe(time.Since(start))
				}
				if err == nil || rueidis.IsRedisNil(err) {
					ns.br.Success()
					if c.tracer != nil {
						c.traceAttempt(st, st.tname, addr, ro, astart, nil, false)
					}
					return res.ToMessage()
				}
			}
		}
	failed:
		delay, retryNow, final := c.handle(ctx, st, args[0], addr, err, unsent)
		if c.tracer != nil {
			aerr := err
			if !retryNow {
				aerr = final
			}
			c.traceAttempt(st, st.tname, addr, ro, astart, aerr, retryNow)
		}
		if !retryNow {
			return rueidis.RedisMessage{}, final
		}
		if st.wait {
			st.wait = false
			if err := c.awaitChange(ctx, st); err != nil {
				return rueidis.RedisMessage{}, err
			}
			continue
		}
		if st.refresh {
			st.refresh = false
			if rerr := c.topo.Refresh(ctx); rerr != nil && ctx.Err() != nil {
				return rueidis.RedisMessage{}, c.endErr(ctx.Err(), st)
			}
		}
		if delay > 0 {
			if err := retry.Wait(ctx, delay); err != nil {
				return rueidis.RedisMessage{}, c.endErr(err, st)
			}
		}
	}
}

// getConn takes the connection for an attempt of st on addr. While st
// waits for a failover, a dial cannot outlast FailoverWait.
func (c *Client) getConn(ctx context.Context, st *state, addr string, ro bool) (*nodeConn, error) {
	if st.waitStart.IsZero() {
		return c.pool.getFor(ctx, st.ns, addr, ro)
	}
	wctx, cancel := context.WithDeadline(ctx, st.waitStart.Add(c.failoverWait))
	defer cancel()
	return c.pool.getFor(wctx, st.ns, addr, ro)
}

// send sends the attempt of st (args) on nc, after ASKING when st says
// so: the caller's own command the first time, else one built from args.
//
// Where the command goes: a read with a deadline whose caller is alone
// on the node (lone: no other call in flight) goes on the node's lone
// client (nodeConn.lone), a connection that carries only such reads,
// and its deadline is put on that socket (rueidis's synchronous path:
// no goroutine switch; if the deadline passes only that connection is
// closed; as with rueidis's own client for a lone caller, a cancellation
// before the deadline is seen when the reply comes or the deadline
// passes). Other calls share the node's pipelines, their deadline kept
// off the shared socket (see sharedConnContext); blocking commands take
// a connection of rueidis's pool, their deadline off its socket, so that
// an early cancellation ends them.
func (c *Client) send(ctx context.Context, nc *nodeConn, args []string, st *state, lone bool) rueidis.RedisResult {
	cl := nc.client
	if lone = lone && st.d.readOnly && !st.asking && nc.lone != nil; lone {
		// Reads only: a connection in rueidis's synchronous mode has no
		// reader of its own, so it learns that its node died only when
		// it is used; a write sent on it then would have an unknown
		// outcome although it never reached a server, where the shared
		// pipeline's reader would have seen the EOF first and the write
		// would fail unsent. A read is simply retried. On the shared
		// pipeline instead, a context with a Done channel would switch
		// rueidis's pipe to its background mode for good (two goroutine
		// switches per call after that, for every caller).
		_, lone = ctx.Deadline()
	}
	if lone {
		cl = nc.lone
		if st.ns != nil {
			st.ns.ownReads.Add(1)
		}
	}
	own := st.d.blocking
	var cmd rueidis.Completed
	switch {
	case st.hasUser && st.user.IsBlock() == own:
		cmd, st.hasUser = st.user, false
	case own:
		// Built again as blocking (rueidis's pool); the caller's own
		// command, if any, is left unsent.
		st.hasUser = false
		cmd = cl.B().Arbitrary(args...).Blocking()
	default:
		st.hasUser = false
		cmd = cl.B().Arbitrary(args...).Build()
		if c.pool.spread && !lone {
			cmd = cmd.SetSlot(spreadKey)
		}
	}
	if !lone {
		// Without its deadline (Done still ends the wait at it): on the
		// shared pipeline, see sharedConnContext; for a blocking command
		// on a connection of rueidis's pool, rueidis would put the
		// deadline on the socket and stop watching the context, so a
		// BLPOP k 0 cancelled early would go on to its deadline; this way
		// rueidis watches Done, ends the call and closes the connection
		// (the server drops the blocked client).
		var nd *noDeadline
		if ctx, nd = c.withoutDeadline(ctx); nd != nil {
			defer c.noDeadlines.put(nd)
		}
	}
	if !st.asking {
		return cl.Do(ctx, cmd)
	}
	rs := cl.DoMulti(ctx, cl.B().Asking().Build(), cmd)
	return rs[1]
}

// withoutDeadline returns ctx without its deadline (sharedConnContext),
// and the pooled noDeadline it is, which the caller puts back
// (c.noDeadlines.put) once Do has returned; nil when none was taken.
func (c *Client) withoutDeadline(ctx context.Context) (context.Context, *noDeadline) {
	if _, ok := ctx.Deadline(); !ok {
		return ctx, nil
	}
	if !isStdCancelCtx(ctx) {
		return noDeadline{ctx}, nil
	}
	// sharedConnContext without its allocation: nothing keeps nd after Do
	// returns (see isStdCancelCtx).
	nd := c.noDeadlines.get(ctx)
	return nd, nd
}

// sentAttempt is the outcome of a first attempt that doFast sent and
// that failed, for loop to handle as its own.
type sentAttempt struct {
	addr string     // the slot's primary
	ns   *nodeState // its state
	err  error
}

// doFast makes the first attempt of the command args (decided d; user:
// the caller's rueidis command, or nil) when nothing about it is
// unusual, with less bookkeeping than loop: a keyed, non-blocking
// command for its slot's primary (a write, or any command under
// ReadPrimary; never under Nearest) in the current snapshot, whose node
// state the snapshot's node table has, with its breaker closed and its
// connection open, c not closed and ctx live; and not a read with a
// deadline while the node has had no concurrent calls lately (a lone
// read may get a connection of its own: send). It is then what loop's
// first attempt would be, and it marks the node busy as loop does.
// done: the command succeeded (msg, err: its reply, or a nil reply).
// Else, failed is the attempt sent and failed, for loop to handle, or
// nil when nothing was done (one of the conditions did not hold): loop
// makes the first attempt.
func (c *Client) doFast(ctx context.Context, args []string, d *decision, user *rueidis.Completed) (failed *sentAttempt, msg rueidis.RedisMessage, done bool, err error) {
	if !d.hasKeys || d.blocking || d.prefer || user != nil && user.IsBlock() {
		return
	}
	read := d.readOnly || user != nil && user.IsReadOnly()
	if c.policy == Nearest || c.policy != ReadPrimary && read {
		return // (Nearest times every call: loop)
	}
	if ctx.Err() != nil || c.closed.Load() {
		return
	}
	s := c.topo.Current()
	h := c.handles.Load()
	if h == nil || h.snap != s {
		return
	}
	ns := h.primary(d.slot)
	if ns == nil || ns.pruned.Load() || ns.br.State() != retry.Closed {
		return
	}
	busy := ns.busy.Load()
	if !busy && read {
		if _, ok := ctx.Deadline(); ok {
			return // perhaps a lone read with a deadline: loop (send)
		}
	}
	nc := ns.conn[0].Load()
	if nc == nil || nc.closing.Load() {
		return
	}
	cl := nc.client
	var cmd rueidis.Completed
	if user != nil {
		cmd = *user
	} else {
		cmd = cl.B().Arbitrary(args...).Build()
		if c.pool.spread {
			cmd = cmd.SetSlot(spreadKey)
		}
	}
	if c.onFast != nil {
		c.onFast()
	}
	k, _ := ns.startCall(busy)
	sctx, nd := c.withoutDeadline(ctx)
	res := cl.Do(sctx, cmd)
	if nd != nil {
		c.noDeadlines.put(nd)
	}
	err = res.Error()
	answered := err == nil || rueidis.IsRedisNil(err) || isReply(err)
	ns.callEnded(k, false, answered)
	if err == nil || rueidis.IsRedisNil(err) {
		ns.br.Success()
		msg, err = res.ToMessage()
		return nil, msg, true, err
	}
	return &sentAttempt{addr: nc.key.addr, ns: ns, err: err}, rueidis.RedisMessage{}, false, nil
}

// spreadKey is the key a command built from args is given (SetSlot):
// rueidis sends a command without a slot on the node's first pipeline,
// and one with a slot on any of them (ClientOption.PipelineMultiplex),
// as its cluster client does. Any key works: the pipeline is drawn at
// random.
const spreadKey = "a"

// noDeadline is a context without its deadline (its Done channel still
// ends the wait at the deadline).
type noDeadline struct{ context.Context }

// Deadline reports no deadline.
func (noDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// stdCancelCtxTypes are the types of the standard library's contexts
// made by context.WithTimeout/WithDeadline and context.WithCancel
// (read-only after init).
var stdCancelCtxTypes = func() [2]reflect.Type {
	t, cancelT := context.WithTimeout(context.Background(), time.Hour)
	defer cancelT()
	c, cancelC := context.WithCancel(context.Background())
	defer cancelC()
	return [2]reflect.Type{reflect.TypeOf(t), reflect.TypeOf(c)}
}()

// isStdCancelCtx reports whether ctx is itself one of the standard
// library's cancelable contexts. Only then may send hand rueidis a
// pooled noDeadline over it: rueidis keeps no context after Do returns
// except when it dials under it, where context.WithTimeout(nd) registers
// with ctx's own cancelCtx; over a context of another type (a wrapper of
// the caller's own, or one whose Done is its own channel) it may start a
// goroutine that reads nd's Err after Do has returned and nd has been
// reused.
func isStdCancelCtx(ctx context.Context) bool {
	t := reflect.TypeOf(ctx)
	return t == stdCancelCtxTypes[0] || t == stdCancelCtxTypes[1]
}

// noDeadlinePool keeps noDeadlines for send (a caller's deadline hidden
// without allocating one per call).
type noDeadlinePool struct{ p sync.Pool }

func (p *noDeadlinePool) get(ctx context.Context) *noDeadline {
	nd, ok := p.p.Get().(*noDeadline)
	if !ok {
		nd = new(noDeadline)
	}
	nd.Context = ctx
	return nd
}

func (p *noDeadlinePool) put(nd *noDeadline) {
	nd.Context = nil
	p.p.Put(nd)
}

// sharedConnContext is the context a command is given to rueidis with on
// the connection the callers share. rueidis's synchronous path (a caller
// alone on the connection) puts the caller's deadline on the socket, and
// when it passes it fails the connection for everybody with
// DeadlineExceeded; without a deadline rueidis queues the command instead
// and only this caller stops waiting. A context without a deadline (the
// common Background case) keeps the synchronous path, which spares two
// goroutine switches per call.
func sharedConnContext(ctx context.Context) context.Context {
	if _, ok := ctx.Deadline(); ok {
		return noDeadline{ctx}
	}
	return ctx
}

// pick chooses the node for the next attempt of st and takes a pass from
// its circuit breaker: the redirect target, else the slot's primary, or
// for a read the node the ReadPolicy chooses.
func (c *Client) pick(st *state) (addr string, ro bool, err error) {
	st.ns = nil
	if st.forced != "" {
		return st.forced, false, c.allow(st, st.forced)
	}
	s := c.topo.Current()
	if !st.d.hasKeys {
		ok := func(n *topology.Node) bool {
			return n.Addr != st.avoid && !c.pool.breakerOpen(n.Addr)
		}
		if p := preferred(s, st.d, ok); p != nil {
			return p.Addr, false, c.allowState(st, p.Addr, c.stateOf(s, p))
		}
		p, err := anyPrimary(s, ok)
		if err != nil {
			return "", false, err
		}
		return p.Addr, false, c.allowState(st, p.Addr, c.stateOf(s, p))
	}
	sh, ok := lookupShard(s, st.d.slot)
	if !ok || sh.Primary == nil || sh.Primary.Addr == "" {
		return "", false, ErrNoNode
	}
	readOnly := st.d.readOnly && !st.block
	p := sh.Primary
	if readOnly && c.policy != ReadPrimary {
		allowed := func(n *topology.Node) bool {
			return n.Addr != st.avoid && c.pool.breaker(n.Addr).Allow() == nil
		}
		peek := func(n *topology.Node) bool {
			return n.Addr != st.avoid && !c.pool.breakerOpen(n.Addr)
		}
		ch := chooseRead(sh, c.policy, c.maxLag, allowed, peek, c.latency)
		if ch.replica {
			if ch.fallback {
				c.event(Event{Kind: EventFallbackRead, Addr: ch.node.Addr, Slot: st.d.slot})
			}
			return ch.node.Addr, true, nil
		}
		if ch.usable {
			return p.Addr, false, nil
		}
	}
	// The primary (always under ReadPrimary: never a replica, whatever
	// the primary's state; its breaker's error says why it fails).
	return p.Addr, false, c.allowState(st, p.Addr, c.stateOf(s, p))
}

// allow takes a pass from addr's breaker for an attempt of st, and keeps
// the node's state in st for the attempt (one lookup per command).
func (c *Client) allow(st *state, addr string) error {
	return c.allowState(st, addr, c.pool.node(addr))
}

// allowState is allow for a caller that has addr's state ns.
func (c *Client) allowState(st *state, addr string, ns *nodeState) error {
	pass := ns.br.Allow
	if st.peek {
		pass = ns.br.Peek
	}
	if err := pass(); err != nil {
		return &NodeError{Addr: addr, Err: err}
	}
	st.ns = ns
	return nil
}

// latency returns n's recent latency (0 when unknown).
func (c *Client) latency(n *topology.Node) int64 {
	if ns := c.pool.lookup(n.Addr); ns != nil {
		return ns.ewma.Load()
	}
	return 0
}

// handle decides what follows a failed attempt of st on addr: retry now
// (after delay) or stop with final. It does the action's work: patch the
// topology for MOVED, arm ASKING for ASK, refresh for READONLY, feed the
// breaker and trigger a refresh for connection errors, report to the
// Observer.
func (c *Client) handle(ctx context.Context, st *state, name, addr string, err error, unsent bool) (delay time.Duration, retryNow bool, final error) {
	wasAsking := st.asking
	st.asking = false
	st.forced = ""
	st.avoid = ""
	if err == errNodeClosing || err == ErrClosed {
		if c.closed.Load() || err == ErrClosed {
			return 0, false, ErrClosed
		}
		// The pool closed that node's client (the node left the
		// topology, or is redialed) before the command was written:
		// pick again.
		if !st.ctr.Step(retry.ActionRetryConn) {
			return 0, false, st.ctr.Exhausted(err)
		}
		st.last = err
		return 0, true, nil
	}
	class, err := classify(ctx, addr, err)
	if c.closed.Load() && (class.Kind == retry.KindConn || class.Kind == retry.KindOther) {
		// Close ended the call. A write that may have been sent says so.
		if !unsent && !retry.Unsent(err) && !st.d.readOnly && !st.idem && addr != "" {
			return 0, false, &UnknownOutcomeError{Addr: addr, Command: name, Err: fmt.Errorf("%w: %w", ErrClosed, err)}
		}
		return 0, false, ErrClosed
	}
	kind := class.Kind
	if errors.Is(err, retry.ErrOpen) {
		// Fail fast, but the node may have left its role (a failover):
		// look again, so that the next call goes where it should.
		c.topo.Trigger("circuit breaker open")
	}
	if err == ErrNoNode {
		if len(shardsOf(c.topo.Current())) > 0 {
			// The topology says nobody serves the slot (it drops a slot
			// only when the cluster agrees): fail fast.
			return 0, false, ErrNoNode
		}
		// No topology yet: refresh and wait as for CLUSTERDOWN.
		kind = retry.KindClusterDown
		c.topo.Trigger("no topology")
	}
	switch {
	case kind == retry.KindConn:
		c.connFailed(addr, err, unsent)
	case addr != "" && !unsent && isReply(err):
		c.pool.success(addr) // any reply proves the node alive
	}
	st.last = err
	if c.failoverWait >= 0 && st.d.hasKeys && !st.ro && !wasAsking && primaryUnreachable(kind, err, unsent) {
		if c.replicaReadable(st, addr) && st.ctr.Step(retry.ActionRetryConn) {
			// A read the policy may send to a replica: read one now
			// (the primary just failed) instead of waiting for it.
			st.avoid = addr
			c.retried(kind, addr, st, 0)
			return 0, true, nil
		}
		// Wait for the slot's primary to come back or be replaced,
		// without spending attempts, within FailoverWait.
		now := time.Now()
		if st.waitStart.IsZero() {
			st.waitStart, st.waitAddr = now, addr
			c.waitBegan(st, addr, err)
		} else if waited := now.Sub(st.waitStart); waited >= c.failoverWait {
			return 0, false, &FailoverWaitError{Slot: st.d.slot, Addr: st.waitAddr, Waited: waited, Err: err}
		}
		if kind == retry.KindClusterDown {
			c.topo.Trigger("CLUSTERDOWN from " + addr)
		}
		st.wait = true
		return 0, true, nil
	}
	if kind == retry.KindCanceled && !unsent && !retry.Unsent(err) && addr != "" && !st.d.readOnly && !st.idem {
		// The context ended while a write was in flight: it may have
		// been executed. Say so (errors.Is(err, context.DeadlineExceeded)
		// still holds).
		return 0, false, &UnknownOutcomeError{Addr: addr, Command: name, Err: err}
	}
	op := retry.Op{Unsent: unsent || retry.Unsent(err), ReadOnly: st.d.readOnly, Idempotent: st.idem}
	act := retry.Decide(kind, op)
	switch {
	case act == retry.ActionFailUnknownOutcome:
		return 0, false, &UnknownOutcomeError{Addr: addr, Command: name, Err: err}
	case !act.IsRetry():
		return 0, false, err
	case !st.ctr.Step(act):
		return 0, false, st.ctr.Exhausted(err)
	case act != retry.ActionFollow && act != retry.ActionAsk && !c.budget.Withdraw():
		return 0, false, err
	}
	switch act {
	case retry.ActionFollow, retry.ActionAsk:
		red, rerr := class.Redirect()
		if rerr != nil {
			return 0, false, fmt.Errorf("%w (reply from %s: %w)", rerr, addr, err)
		}
		to := c.redirectTarget(red, addr)
		if c.obs != nil {
			c.obs.OnRedirect(RedirectEvent{Kind: red.Kind, Slot: slots.Slot(red.Slot), From: addr, To: to})
		}
		if act == retry.ActionFollow && to == addr && !wasAsking {
			// MOVED to the node just asked: its name may resolve to
			// another host now; dial it again.
			c.dropAddr(addr)
		}
		if act == retry.ActionFollow {
			// Other slots may have moved too: refresh (coalesced and
			// rate-limited by the refresher).
			c.topo.Trigger("MOVED")
		}
		st.forced = to
		st.asking = act == retry.ActionAsk
		return 0, true, nil
	case retry.ActionRefresh:
		// The caller refreshes the topology (once for all the commands of
		// a DoMulti round) before the retry.
		c.retried(kind, addr, st, 0)
		st.refresh = true
		return 0, true, nil
	case retry.ActionRetryConn:
		if st.d.readOnly {
			st.avoid = addr
		}
	case retry.ActionBackoff:
		if st.d.readOnly && (kind == retry.KindLoading || kind == retry.KindMasterDown) {
			st.avoid = addr // a loading or stale replica: read elsewhere
		}
	}
	// Backoff and RetryConn: exponential backoff with full jitter, the
	// first retry of a connection error at once.
	if act == retry.ActionBackoff || st.ctr.Attempts > 2 {
		delay = c.backoff.Delay(st.ctr.Attempts-2, nil)
	}
	if !retry.Fits(ctx, delay) {
		return 0, false, err
	}
	c.retried(kind, addr, st, delay)
	return delay, true, nil
}

// connFailed reports a connection error of an attempt on addr: to the
// node's breaker (unless it is a failed dial the pool counted already,
// once for all the callers that shared it) and as a reason to refresh
// the topology.
func (c *Client) connFailed(addr string, err error, unsent bool) {
	var ne *NodeError
	if addr != "" && !(errors.As(err, &ne) && ne.counted) {
		c.pool.failure(addr, unsent || retry.Unsent(err))
	}
	c.topo.Trigger("connection error to " + addr)
}

// classify classifies err, the error of an attempt on addr, by the
// caller's own context: an error that reads as a cancellation while ctx
// is not done came from another caller's context on the connection they
// share, and is this caller's connection error (a *sharedConnError, which
// does not unwrap to the context error). It returns the class and the
// error to report.
func classify(ctx context.Context, addr string, err error) (retry.Class, error) {
	class := retry.Classify(err)
	if class.Kind == retry.KindOther && errors.Is(err, rueidis.ErrClosing) {
		// A client closed with the call in flight: it may have been
		// written (rueidis fails unanswered calls with ErrClosing).
		class = retry.Class{Kind: retry.KindConn, Err: err}
	}
	if class.Kind == retry.KindCanceled && ctx.Err() == nil && !deadlinePassed(ctx) {
		err = &sharedConnError{addr: addr, msg: err.Error()}
		class = retry.Class{Kind: retry.KindConn, Err: err}
	}
	return class, err
}

// deadlinePassed reports whether ctx's deadline has passed: on a
// connection of the caller's own, the socket's deadline (the caller's)
// can fire a moment before the context's timer does.
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// isReply reports whether err is a reply from the server (a redirect, a
// TRYAGAIN, a WRONGTYPE...): proof that the node is alive.
func isReply(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// redirectTarget returns the dialable address of a redirect from addr,
// recording a MOVED in the topology.
func (c *Client) redirectTarget(red retry.Redirect, addr string) string {
	from := addr
	if n, ok := c.topo.Current().NodeByAddr(addr); ok && n.Announced != "" {
		from = n.Announced
	}
	target := red.Resolve(from)
	if red.Kind == retry.KindMoved {
		res := c.topo.ApplyMoved(slots.Slot(red.Slot), target)
		if res.To != nil && res.To.Addr != "" && res.Err == nil {
			return res.To.Addr
		}
	}
	return c.topo.MapAddr(target)
}

// dropAddr closes the clients of addr so that they are dialed again.
func (c *Client) dropAddr(addr string) {
	for _, ro := range [2]bool{false, true} {
		if nc := (*c.pool.conns.Load())[connKey{addr: addr, readonly: ro}]; nc != nil {
			c.pool.drop(nc)
		}
	}
}

func (c *Client) retried(kind retry.Kind, addr string, st *state, delay time.Duration) {
	if c.obs != nil {
		c.obs.OnRetry(RetryEvent{Cause: kind, Addr: addr, Attempt: st.ctr.Attempts, Delay: delay})
	}
}

// waitErr is the error of a wait cut short by the context: the context's
// error, with the last server error.
func waitErr(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w while waiting to retry after: %w", ctxErr, last)
}
