package router

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router/command"
)

// Result is the reply to one command of DoMulti: the message and error
// rueidis gives (rueidis.IsRedisNil(Err) for a nil reply), or a client
// error as for Do.
type Result struct {
	// Msg is the reply.
	Msg rueidis.RedisMessage
	// Err is the error (a *rueidis.RedisError for a server error reply).
	Err error
}

// unit is what DoMulti retries as a whole: one command, or one
// MULTI ... EXEC (or DISCARD) block.
type unit struct {
	first, last int   // indexes of cmds, inclusive
	st          state // st.block for a MULTI block
	notBefore   time.Time
	done        bool

	// user: the commands of the unit are the caller's rueidis commands
	// (DoMulti of the rueidis face), sent as they are the first time.
	user bool

	// per round
	group  int // index of the unit's node in the round (-1: not sent)
	off    int // index of the unit's first command in its pipeline
	addr   string
	res    []rueidis.RedisResult
	err    error
	unsent bool
}

// DoMulti sends cmds and returns their results in the same order. The
// commands are grouped per node into one pipeline each, the nodes are
// asked in parallel, and each command follows its own redirects and
// retries as with Do: redirected and retried commands are regrouped into
// new pipelines, round after round, until every command has its result.
//
// A MULTI ... EXEC (or MULTI ... DISCARD) block stays together, on one
// connection, and is redirected and retried as a whole; all its keys must
// hash to one slot (a *CrossSlotError for every command of the block
// otherwise) and it always goes to the primary. Its results are those of
// each command ("OK", "QUEUED" ..., then EXEC's array). WATCH is not
// supported. Commands that fail validation get their error without being
// sent; the others are sent.
func (c *Client) DoMulti(ctx context.Context, cmds ...Cmd) []Result {
	return c.doMulti(ctx, cmds, nil)
}

// doMulti is DoMulti; user, when not nil, holds the caller's rueidis
// commands (cmds[i].Args is a copy of user[i]'s args): their flags add to
// the table's, and each is sent as it is on its first attempt.
func (c *Client) doMulti(ctx context.Context, cmds []Cmd, user []rueidis.Completed) []Result {
	return c.doMultiInto(ctx, cmds, user, make([]Result, len(cmds)), nil, nil)
}

// doMultiInto is doMulti with the results written to results (one per
// command, zero values), which it returns. pre, when not nil, holds the
// table's decision for each command, already made (the parts of a split
// command: the table is not asked again). raw, when not nil (the rueidis
// face), may receive rueidis's own result of a command instead: its
// Result is then errInRaw.
func (c *Client) doMultiInto(ctx context.Context, cmds []Cmd, user []rueidis.Completed, results []Result, pre []decision, raw []rueidis.RedisResult) []Result {
	if len(cmds) == 0 {
		return results
	}
	if ctx == nil || c.closed.Load() {
		err := ErrClosed
		if ctx == nil {
			err = errNilContext
		}
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	sc := c.scratch.get()
	defer c.scratch.put(sc) // first in, last out: after every use of units
	// A plain batch's first round is lean (multi_lean.go): units are then
	// the commands that failed in it, to be handled as after a round.
	units, lean := c.leanRound(ctx, sc, cmds, user, results, pre, raw)
	if !lean {
		var alone []int
		units, alone = c.units(cmds, results, sc.units[:0], pre)
		if len(alone) > 0 {
			// Split or fanned-out commands run beside the pipelines (multishard.go).
			defer c.startAlone(ctx, cmds, user, results, alone)()
		}
		if c.tracer != nil {
			defer c.tracePipeline(ctx, len(cmds), units)()
		}
		c.userFlags(units, user)
		for range units {
			c.budget.Deposit()
		}
	}
	sc.units = units
	pending := len(units)
	ready := sc.ready[:0]
	defer func() { sc.ready = ready }()
	for pending > 0 {
		var rstart time.Time
		if lean {
			// The lean round's failures, as round leaves them.
			lean = false
			for i := range units {
				ready = append(ready, &units[i])
			}
		} else {
			now := time.Now()
			ready = ready[:0]
			var wake time.Time
			for i := range units {
				u := &units[i]
				if u.done {
					continue
				}
				if !u.notBefore.After(now) {
					ready = append(ready, u)
				} else if wake.IsZero() || u.notBefore.Before(wake) {
					wake = u.notBefore
				}
			}
			if err := ctx.Err(); err != nil || len(ready) == 0 {
				if err == nil {
					err = retry.Wait(ctx, time.Until(wake))
				}
				if err == nil && c.closed.Load() {
					err = ErrClosed
				}
				if err != nil {
					for i := range units {
						if u := &units[i]; !u.done {
							c.finish(u, cmds, results, nil, c.endErr(err, &u.st))
							pending--
						}
					}
					return results
				}
				continue
			}
			if c.closed.Load() {
				for i := range units {
					if u := &units[i]; !u.done {
						c.finish(u, cmds, results, nil, ErrClosed)
						pending--
					}
				}
				return results
			}
			if c.tracer != nil {
				rstart = time.Now()
			}
			c.round(ctx, sc, cmds, user, ready)
		}
		refresh := false
		for _, u := range ready {
			name := cmds[u.first].Args[0]
			var tname string
			if c.tracer != nil {
				tname = c.traceName(name)
			}
			if u.err == nil {
				if u.st.ns != nil {
					u.st.ns.br.Success() // the node pick looked up
				} else {
					c.pool.success(u.addr)
				}
				if c.tracer != nil {
					c.traceAttempt(&u.st, tname, u.addr, u.st.ro, rstart, nil, false)
				}
				c.finish(u, cmds, results, u.res, nil)
				pending--
				continue
			}
			delay, again, final := c.handle(ctx, &u.st, name, u.addr, u.err, u.unsent)
			if c.tracer != nil {
				aerr := u.err
				if !again {
					aerr = final
				}
				c.traceAttempt(&u.st, tname, u.addr, u.st.ro, rstart, aerr, again)
			}
			if !again {
				if final == u.err && u.res != nil {
					final = nil // the server's own replies, as they are
				}
				c.finish(u, cmds, results, u.res, final)
				pending--
				continue
			}
			if u.st.refresh {
				u.st.refresh = false
				refresh = true
			}
			u.notBefore = time.Time{}
			if delay > 0 {
				u.notBefore = time.Now().Add(delay)
			}
			if u.st.wait {
				// A failover wait: look again after the next poll.
				u.st.wait = false
				u.notBefore = time.Now().Add(PollInterval)
				c.topo.Trigger("waiting for a failover")
			}
		}
		if refresh {
			if err := c.topo.Refresh(ctx); err != nil && ctx.Err() != nil {
				for i := range units {
					if u := &units[i]; !u.done {
						c.finish(u, cmds, results, nil, c.endErr(ctx.Err(), &u.st))
						pending--
					}
				}
				return results
			}
		}
	}
	return results
}

// userFlags adds the flags of the caller's rueidis commands user (nil
// for the string API) to units: read-only, blocking, retryable; a unit
// whose commands the table would build otherwise is built again from its
// args.
func (c *Client) userFlags(units []unit, user []rueidis.Completed) {
	if user == nil {
		return
	}
	for i := range units {
		u := &units[i]
		u.user = true
		if !u.st.block {
			// The caller's Blocking() mark keeps the command off the
			// shared pipeline, as in Do.
			u.st.d.blocking = u.st.d.blocking || user[u.first].IsBlock()
		}
		for k := u.first; k <= u.last; k++ {
			if user[k].IsBlock() != (!u.st.block && u.st.d.blocking) {
				u.user = false // built again with the table's view
			}
		}
		if !u.st.block {
			uc := &user[u.first]
			u.st.d.readOnly = u.st.d.readOnly || uc.IsReadOnly()
			u.st.idem = u.st.idem || uc.IsRetryable()
		}
	}
}

// tracePipeline starts the Tracer's PIPELINE span of a DoMulti of n
// commands, split into units, and returns what ends it.
func (c *Client) tracePipeline(ctx context.Context, n int, units []unit) func() {
	tctx, tstart := c.traceStart(ctx, "PIPELINE", NoSlot, n)
	for i := range units {
		units[i].st.tctx = tctx
	}
	return func() {
		attempts := 0
		for i := range units {
			attempts += units[i].st.attempts
		}
		c.safeTrace(func() {
			c.tracer.EndCommand(tctx, CommandEnd{Name: "PIPELINE", Duration: time.Since(tstart), Attempts: attempts})
		})
	}
}

// units validates cmds, fills the results of invalid ones and returns the
// units to send (appended to units, a pooled buffer), and the indexes of
// the commands that are split per slot or fanned out by their tips
// (runsAlone). pre, when not nil, holds the decisions of cmds, none of
// them part of a MULTI block.
func (c *Client) units(cmds []Cmd, results []Result, units []unit, pre []decision) ([]unit, []int) {
	if cap(units) < len(cmds) {
		units = make([]unit, 0, len(cmds))
	}
	var alone []int
	if pre != nil {
		for i := range cmds {
			units = append(units, unit{first: i, last: i, st: state{d: pre[i], idem: cmds[i].Idempotent, ctr: c.limits.Counter()}})
		}
		return units, nil
	}
	for i := 0; i < len(cmds); i++ {
		args := cmds[i].Args
		if len(args) > 0 && strings.EqualFold(args[0], "multi") {
			j := i + 1
			for j < len(cmds) && !isTxnEnd(cmds[j].Args) && !isMulti(cmds[j].Args) {
				j++
			}
			if j == len(cmds) || isMulti(cmds[j].Args) {
				for k := i; k < j; k++ {
					results[k].Err = ErrMultiBlock
				}
				i = j - 1
				continue
			}
			u, err := c.blockUnit(cmds, i, j)
			if err != nil {
				for k := i; k <= j; k++ {
					results[k].Err = err
				}
			} else {
				units = append(units, u)
			}
			i = j
			continue
		}
		d, err := decideLazy(c.table, args)
		if (err != nil || d.fan) && c.runsAlone(d, err, args) {
			alone = append(alone, i)
			continue
		}
		if err == errCrossLazy {
			if _, err = decide(c.table, args); err == nil { // the *CrossSlotError
				err = errCrossLazy // (never: decide sees the same keys)
			}
		}
		if err == nil && d.txn {
			err = ErrMultiBlock
		}
		if err != nil {
			results[i].Err = err
			continue
		}
		units = append(units, unit{first: i, last: i, st: state{d: d, idem: cmds[i].Idempotent, ctr: c.limits.Counter()}})
	}
	return units, alone
}

func isMulti(args []string) bool { return len(args) > 0 && strings.EqualFold(args[0], "multi") }

func isTxnEnd(args []string) bool {
	return len(args) > 0 && (strings.EqualFold(args[0], "exec") || strings.EqualFold(args[0], "discard"))
}

// blockUnit validates the block cmds[i..j] (MULTI ... EXEC/DISCARD).
func (c *Client) blockUnit(cmds []Cmd, i, j int) (unit, error) {
	var bd decision
	bd.readOnly = true
	idem := true
	for k := i + 1; k < j; k++ {
		d, err := decide(c.table, cmds[k].Args)
		if err != nil {
			return unit{}, err
		}
		if d.txn {
			return unit{}, ErrMultiBlock
		}
		if d.hasKeys {
			if !bd.hasKeys {
				bd.slot, bd.hasKeys = d.slot, true
			} else if d.slot != bd.slot {
				return unit{}, c.blockCrossSlot(cmds[i+1 : k+1])
			}
		}
		bd.readOnly = bd.readOnly && d.readOnly
		idem = idem && (d.readOnly || cmds[k].Idempotent)
	}
	return unit{first: i, last: j, st: state{d: bd, idem: idem, block: true, ctr: c.limits.Counter()}}, nil
}

// blockCrossSlot is the error of a block whose commands cmds (the last
// one's slot differs) have keys of different slots: a *CrossSlotError
// naming their keys. The keys are gathered only on this error path.
func (c *Client) blockCrossSlot(cmds []Cmd) error {
	return c.crossSlot("MULTI", len(cmds), func(i int) []string { return cmds[i].Args })
}

// crossSlot is the *CrossSlotError of n commands (args(i): the i-th's
// arguments) whose keys are in more than one slot, under the name name.
// It is built on error paths only.
func (c *Client) crossSlot(name string, n int, args func(i int) []string) error {
	var keys []string
	for i := range n {
		ks, _ := c.table.Keys(args(i))
		keys = append(keys, ks...)
	}
	_, _, err := command.CheckSlot(name, keys...)
	if err == nil {
		err = command.ErrCrossSlot
	}
	return err
}

// round sends the ready units, one pipeline per node, nodes in parallel
// (the first node's from the calling goroutine). Units keep their order
// within a node: commands to one node run in the caller's order.
func (c *Client) round(ctx context.Context, sc *multiScratch, cmds []Cmd, user []rueidis.Completed, ready []*unit) {
	groups := sc.groups[:0]
	defer func() { sc.groups = groups }()
	for _, u := range ready {
		u.res, u.err, u.unsent, u.group = nil, nil, false, -1
		addr, ro, err := c.pick(&u.st)
		u.addr, u.st.ro = addr, ro
		if err != nil {
			u.err = err
			continue
		}
		k := connKey{addr: addr, readonly: ro}
		u.group = len(groups)
		for i := range groups {
			if groups[i].key == k {
				u.group = i
				break
			}
		}
		if u.group == len(groups) {
			groups = append(groups, roundGroup{key: k})
		}
		groups[u.group].size++
	}
	if len(groups) == 0 {
		return
	}
	// One backing array for every node's units, in the caller's order.
	at := 0
	for i := range groups {
		groups[i].at = at
		at += groups[i].size
		groups[i].size = 0
	}
	if cap(sc.part) < at {
		sc.part = make([]*unit, at)
	}
	part := sc.part[:at]
	for _, u := range ready {
		if u.group >= 0 {
			g := &groups[u.group]
			part[g.at+g.size] = u
			g.size++
		}
	}
	units := func(g roundGroup) []*unit { return part[g.at : g.at+g.size] }
	jobs := sc.jobs[:0]
	for _, g := range groups[1:] {
		jobs = append(jobs, pipeJob{c: c, ctx: ctx, cmds: cmds, user: user, key: g.key, units: units(g), wg: &sc.wg})
	}
	sc.jobs = jobs
	sc.wg.Add(len(jobs))
	for i := range jobs {
		c.workers.run(&jobs[i])
	}
	c.safePipeline(ctx, cmds, user, groups[0].key, units(groups[0]))
	sc.wg.Wait()
}

// roundGroup is the units of a round that go to one connection: at and
// size locate them in the round's backing array.
type roundGroup struct {
	key      connKey
	at, size int
}

// pipeJob is one node's pipeline of a round, run by a worker: units to
// key, or, for a lean round (multi_lean.go), the commands idx to g's
// primary.
type pipeJob struct {
	c     *Client
	ctx   context.Context
	cmds  []Cmd
	user  []rueidis.Completed
	key   connKey
	units []*unit
	g     *leanGroup // a lean round's (then key and units are unused)
	idx   []int32
	wg    *sync.WaitGroup
}

func (j *pipeJob) run() {
	defer j.wg.Done()
	if j.g != nil {
		j.c.safeLeanPipeline(j.ctx, j.cmds, j.user, j.g, j.idx)
		return
	}
	j.c.safePipeline(j.ctx, j.cmds, j.user, j.key, j.units)
}

// safePipeline is pipeline with a panic below it turned into the error of
// its units (and reported to a PanicObserver): DoMulti runs pipelines in
// goroutines of its own, where a panic would end the process.
func (c *Client) safePipeline(ctx context.Context, cmds []Cmd, user []rueidis.Completed, key connKey, units []*unit) {
	if err := safe.Call("DoMulti pipeline", func() { c.pipeline(ctx, cmds, user, key, units) }); err != nil {
		err = &NodeError{Addr: key.addr, Err: err}
		c.panicked(key.addr, err)
		for _, u := range units {
			u.res, u.err = nil, err
		}
	}
}

// pipeline sends units to one node in one DoMulti and sets each unit's
// replies and error.
func (c *Client) pipeline(ctx context.Context, cmds []Cmd, user []rueidis.Completed, key connKey, units []*unit) {
	nc, err := c.pool.get(ctx, key.addr, key.readonly)
	if err == nil && nc.closing.Load() {
		err = errNodeClosing // closed before anything was sent
	}
	if err != nil {
		for _, u := range units {
			u.err, u.unsent = err, true
		}
		return
	}
	cl := nc.client
	n := 0
	for _, u := range units {
		n += u.last - u.first + 1
		if u.st.asking {
			n++
		}
	}
	bp := c.scratch.batch(n)
	batch := *bp
	for _, u := range units {
		u.off = len(batch)
		if u.st.asking {
			batch = append(batch, cl.B().Asking().Build())
		}
		if u.user {
			// The caller's own commands, once: rueidis recycles them
			// after their replies.
			u.user = false
			batch = append(batch, user[u.first:u.last+1]...)
			continue
		}
		for k := u.first; k <= u.last; k++ {
			b := cl.B().Arbitrary(cmds[k].Args...)
			if !u.st.block && u.st.d.blocking {
				batch = append(batch, b.Blocking())
			} else {
				batch = append(batch, b.Build())
			}
		}
	}
	if len(batch) > 0 && c.pool.spread {
		batch[0] = batch[0].SetSlot(spreadKey) // any of the node's pipelines
	}
	// Without the caller's deadline, also for blocking commands (on a
	// connection of rueidis's pool): see send.
	dctx := sharedConnContext(ctx)
	rs := cl.DoMulti(dctx, batch...)
	for _, u := range units {
		r := rs[u.off:]
		if u.st.asking {
			r = r[1:]
		}
		u.res = r[:u.last-u.first+1]
		u.err = unitErr(u)
	}
	*bp = batch
	if dctx.Err() == nil && answered(rs) {
		c.scratch.putBatch(bp)
	}
}

// answered reports whether the node answered every command of a
// pipeline: then rueidis wrote them all and holds none of them any more.
func answered(rs []rueidis.RedisResult) bool {
	for i := range rs {
		if rs[i].NonRedisError() != nil {
			return false
		}
	}
	return true
}

// unitErr returns the error that decides a unit's fate: for a command its
// error (nil for a nil reply); for a block the first error of a queued
// command (a redirect, say), else EXEC's error.
func unitErr(u *unit) error {
	if !u.st.block {
		err := u.res[0].Error()
		if rueidis.IsRedisNil(err) {
			return nil
		}
		return err
	}
	n := len(u.res)
	for _, r := range u.res[:n-1] {
		if err := r.Error(); err != nil {
			return err
		}
	}
	err := u.res[n-1].Error()
	if rueidis.IsRedisNil(err) { // EXEC aborted by WATCH: a valid reply
		return nil
	}
	return err
}

// finish stores the results of u: the replies, or final for every
// command of u (a block's queued replies are kept when the block was
// sent).
func (c *Client) finish(u *unit, cmds []Cmd, results []Result, res []rueidis.RedisResult, final error) {
	u.done = true
	if !u.st.waitStart.IsZero() {
		c.waitEnded(&u.st, final)
	}
	for k := u.first; k <= u.last; k++ {
		if final == nil && res != nil {
			msg, err := res[k-u.first].ToMessage()
			results[k] = Result{Msg: msg, Err: err}
			continue
		}
		results[k] = Result{Err: final}
	}
}
