package router

import (
	"context"
	"errors"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/topology"
)

// The lean first round of DoMulti.
//
// Most batches are plain: every command has keys in one slot, is not
// part of a MULTI block, does not block, is neither split nor fanned out,
// and goes to its slot's primary (a write, or a read under ReadPrimary),
// and those primaries' breakers are closed. For such a batch the general
// machinery (a unit of retry state per command, a breaker pass per
// command, the ready list) is work done for the few commands that will
// need it. leanRound routes each command with the snapshot alone, sends
// one pipeline per node as round does, and stores the result of every
// command that succeeded; only the commands that failed become units, in
// the state round leaves a unit in (its node, its reply, its error, sent
// or not), and doMultiInto's retry loop handles them as it handles any
// unit after a round: redirects, retries, unknown outcomes, breakers.
// Whether a batch is lean is decided before anything is sent.

// errInRaw is the error of a Result whose command's result went to
// doMultiInto's raw instead (never returned to a caller).
var errInRaw = errors.New("slotrouter: the result is rueidis's own")

// leanCmd is one command of a lean round: its decision and its node.
type leanCmd struct {
	d     decision
	idem  bool
	group int32
}

// leanGroup is the commands of a lean round that go to one primary: at
// and size locate their indexes in the round's backing array.
type leanGroup struct {
	node     *topology.Node
	ns       *nodeState
	at, size int

	// set by the pipeline
	rs     []rueidis.RedisResult
	err    error // the pipeline's own error (no connection, a panic)
	unsent bool  // err came before anything was written
}

// maxLeanGroups bounds the nodes of a lean round (a command's group is
// found by a linear search, a few ns per group): a batch over more
// primaries takes the general path.
const maxLeanGroups = 64

// leanRound sends cmds as a lean first round when they are a plain batch
// (see above) and returns true, with the units of the commands that
// failed, for doMultiInto's loop; the results of the others are set. It
// returns false, having sent nothing and changed nothing, otherwise.
// user, pre and raw are doMultiInto's.
func (c *Client) leanRound(ctx context.Context, sc *multiScratch, cmds []Cmd, user []rueidis.Completed, results []Result, pre []decision, raw []rueidis.RedisResult) ([]unit, bool) {
	if ctx.Err() != nil || !c.leanPlan(sc, cmds, user, pre) {
		return nil, false
	}
	lc, groups := sc.lean[:len(cmds)], sc.lgroups
	// Lean: every command is sent in this round.
	for range cmds {
		c.budget.Deposit()
	}
	idx := sc.lidx
	part := func(g *leanGroup) []int32 { return idx[g.at : g.at+g.size] }
	jobs := sc.jobs[:0]
	for k := 1; k < len(groups); k++ {
		jobs = append(jobs, pipeJob{c: c, ctx: ctx, cmds: cmds, user: user, g: &groups[k], idx: part(&groups[k]), wg: &sc.wg})
	}
	sc.jobs = jobs
	sc.wg.Add(len(jobs))
	for k := range jobs {
		c.workers.run(&jobs[k])
	}
	c.safeLeanPipeline(ctx, cmds, user, &groups[0], part(&groups[0]))
	sc.wg.Wait()

	units := sc.units[:0]
	for k := range groups {
		g := &groups[k]
		ok := false
		for j, i := range part(g) {
			var r rueidis.RedisResult
			err := g.err
			if err == nil {
				r = g.rs[j]
				if err = r.Error(); rueidis.IsRedisNil(err) {
					err = nil
				}
			}
			if err == nil {
				if raw != nil {
					raw[i], results[i] = r, Result{Err: errInRaw}
				} else {
					msg, rerr := r.ToMessage()
					results[i] = Result{Msg: msg, Err: rerr}
				}
				ok = true
				continue
			}
			u := unit{first: int(i), last: int(i), addr: g.node.Addr, err: err, unsent: g.unsent,
				st: state{d: lc[i].d, idem: lc[i].idem, ctr: c.limits.Counter(), ns: g.ns}}
			if g.err == nil {
				u.res = g.rs[j : j+1]
			}
			units = append(units, u)
		}
		if ok {
			g.ns.br.Success()
		}
	}
	return units, true
}

// leanPlan decides whether cmds (user, pre: doMultiInto's) are a plain
// batch, sending nothing. When they are it returns true with sc.lean
// holding each command's decision and group, sc.lgroups the groups (one
// per primary) and sc.lidx the commands' indexes, group after group.
func (c *Client) leanPlan(sc *multiScratch, cmds []Cmd, user []rueidis.Completed, pre []decision) bool {
	if c.tracer != nil {
		return false
	}
	s := c.topo.Current()
	if s == nil {
		return false
	}
	if cap(sc.lean) < len(cmds) {
		sc.lean = make([]leanCmd, len(cmds))
	}
	lc := sc.lean[:len(cmds)]
	groups := sc.lgroups[:0]
	defer func() { sc.lgroups = groups }() // kept, lean or not: put clears it
	for i := range cmds {
		var d decision
		if pre != nil {
			d = pre[i]
		} else {
			var err error
			if d, err = decideLazy(c.table, cmds[i].Args); err != nil {
				return false
			}
		}
		idem := cmds[i].Idempotent
		if user != nil {
			if user[i].IsBlock() {
				return false
			}
			d.readOnly = d.readOnly || user[i].IsReadOnly()
			idem = idem || user[i].IsRetryable()
		}
		if d.txn || d.fan || d.blocking || !d.hasKeys || d.readOnly && c.policy != ReadPrimary {
			return false
		}
		sh, ok := lookupShard(s, d.slot)
		if !ok || sh.Primary == nil || sh.Primary.Addr == "" {
			return false
		}
		g := int32(-1)
		for k := range groups {
			if groups[k].node == sh.Primary {
				g = int32(k)
				break
			}
		}
		if g < 0 {
			if len(groups) == maxLeanGroups {
				return false
			}
			ns := c.stateOf(s, sh.Primary)
			if ns.br.State() != retry.Closed {
				return false // its passes (a half-open probe) are pick's
			}
			g = int32(len(groups))
			groups = append(groups, leanGroup{node: sh.Primary, ns: ns})
		}
		groups[g].size++
		lc[i] = leanCmd{d: d, idem: idem, group: g}
	}
	at := 0
	for k := range groups {
		groups[k].at = at
		at += groups[k].size
		groups[k].size = 0
	}
	if cap(sc.lidx) < at {
		sc.lidx = make([]int32, at)
	}
	idx := sc.lidx[:at]
	for i := range lc {
		g := &groups[lc[i].group]
		idx[g.at+g.size] = int32(i)
		g.size++
	}
	sc.lidx = idx
	return true
}

// safeLeanPipeline is leanPipeline with a panic below it turned into the
// error of its commands (see safePipeline).
func (c *Client) safeLeanPipeline(ctx context.Context, cmds []Cmd, user []rueidis.Completed, g *leanGroup, idx []int32) {
	if err := safe.Call("DoMulti pipeline", func() { c.leanPipeline(ctx, cmds, user, g, idx) }); err != nil {
		err = &NodeError{Addr: g.node.Addr, Err: err}
		c.panicked(g.node.Addr, err)
		g.rs, g.err, g.unsent = nil, err, false
	}
}

// leanPipeline sends the commands idx of cmds (user's own, when not nil)
// to g's primary in one DoMulti, as pipeline does for units.
func (c *Client) leanPipeline(ctx context.Context, cmds []Cmd, user []rueidis.Completed, g *leanGroup, idx []int32) {
	nc, err := c.pool.getFor(ctx, g.ns, g.node.Addr, false)
	if err == nil && nc.closing.Load() {
		err = errNodeClosing // closed before anything was sent
	}
	if err != nil {
		g.err, g.unsent = err, true
		return
	}
	cl := nc.client
	bp := c.scratch.batch(len(idx))
	batch := *bp
	for _, i := range idx {
		if user != nil {
			// The caller's own command, once: rueidis recycles it after
			// its reply (a failed one is rebuilt from its args).
			batch = append(batch, user[i])
		} else {
			batch = append(batch, cl.B().Arbitrary(cmds[i].Args...).Build())
		}
	}
	if c.pool.spread {
		batch[0] = batch[0].SetSlot(spreadKey) // any of the node's pipelines
	}
	dctx := sharedConnContext(ctx)
	g.rs = cl.DoMulti(dctx, batch...)
	*bp = batch
	if dctx.Err() == nil && answered(g.rs) {
		c.scratch.putBatch(bp)
	}
}
