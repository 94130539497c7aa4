package router

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// initCache sets up client-side caching (Options.ClientSideCaching): the
// primaries' connections get a slot-indexed cache store each.
func (c *Client) initCache() {
	c.caches = &cacheStores{
		owner: func(slot slots.Slot) string {
			if sh, ok := lookupShard(c.topo.Current(), slot); ok && sh.Primary != nil {
				return sh.Primary.Addr
			}
			return ""
		},
		report:   c.event,
		closed:   c.closed.Load,
		panicked: c.panicked,
	}
	c.pool.cacheFn = c.caches.storeFn
}

// cacheTopologyChanged drops the cached entries of the slots their node
// no longer serves (a reshard or a failover took them away).
func (c *Client) cacheTopologyChanged(e topology.RefreshEvent) {
	if c.caches == nil || e.New == nil || e.Err != nil || len(shardsOf(e.New)) == 0 {
		return
	}
	c.caches.dropUnowned(e.Old, e.New)
}

// DoCache sends cmd to the primary of its slot with server-assisted
// client-side caching (Options.ClientSideCaching): the reply is kept in
// the cache of that node's connection, which the node invalidates when
// the key changes (RESP3 CLIENT TRACKING), for at most ttl; later calls
// are answered from memory. The entries of a slot are dropped when the
// topology shows its node lost the slot, and all of a connection's when
// it drops. A reply that is not served by the slot's primary as the
// client knows it — a MOVED (the topology is patched), an ASK (a slot
// being migrated), TRYAGAIN, CLUSTERDOWN, a connection error — is sent
// again through Do's redirect, failover and retry loop, and that reply is
// returned uncached (the next call caches at the new owner). A panic in
// the user's store (ClientOption.NewCacheStoreFn), which rueidis calls
// from its reader goroutine, is recovered and reported to the
// PanicObserver; the cached calls of that connection in progress fail
// with an error wrapping ErrPanic, and the store is not used again (the
// connection's later calls are sent uncached). Without
// ClientSideCaching, DoCache is Do.
func (a *rueidisClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	c := a.c
	if (*rueidis.Completed)(&cmd).IsEmpty() {
		return rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
	}
	b := c.args.get(cmd.Commands())
	defer c.args.put(b)
	if ctx == nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, errNilContext)
	}
	if c.caches == nil {
		// Not cmd itself: a Cacheable marked ToStaticTTL must not reach
		// a connection without a cache (rueidis's reader would use it).
		return uncached(c.doUser(ctx, b.s, true, nil))
	}
	d, err := decide(c.table, b.s)
	if err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	if c.closed.Load() {
		return rueidis.NewResult(rueidis.RedisMessage{}, ErrClosed)
	}
	nc, addr := c.cacheConn(ctx, d)
	if nc == nil {
		return uncached(c.doUser(ctx, b.s, true, nil))
	}
	seq := c.caches.panicSeq()
	res := nc.client.DoCache(sharedConnContext(ctx), cmd, ttl)
	if err := c.caches.brokeSince(addr, seq); err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err) // the user's store panicked
	}
	if !c.cacheRedo(ctx, addr, res.Error()) {
		return res
	}
	return uncached(c.doUser(ctx, b.s, true, nil))
}

// cacheCmds copies the args of multi (rueidis recycles a command once
// answered) into one backing array: cmds[i] holds multi[i]'s args (nil
// for an empty command), marked idempotent (a cacheable command reads).
func cacheCmds(multi []rueidis.CacheableTTL) []Cmd {
	cmds := make([]Cmd, len(multi))
	n := 0
	for i := range multi {
		n += len(cacheArgs(&multi[i].Cmd))
	}
	flat := make([]string, 0, n)
	for i := range multi {
		at := len(flat)
		flat = append(flat, cacheArgs(&multi[i].Cmd)...)
		if len(flat) > at {
			cmds[i] = Cmd{Args: flat[at:len(flat):len(flat)], Idempotent: true}
		}
	}
	return cmds
}

// cacheArgs returns cmd's args (nil for an empty command).
func cacheArgs(cmd *rueidis.Cacheable) []string {
	if (*rueidis.Completed)(cmd).IsEmpty() {
		return nil
	}
	return cmd.Commands()
}

// uncached is the result of the uncached path.
func uncached(msg rueidis.RedisMessage, err error) rueidis.RedisResult {
	return rueidis.NewResult(msg, err)
}

// cacheConn returns the connection to the primary of d's slot, or nil
// when the command should take the uncached path instead (no keys, no
// known primary, its breaker open, no connection yet that dials).
func (c *Client) cacheConn(ctx context.Context, d decision) (*nodeConn, string) {
	if !d.hasKeys || d.txn || d.blocking {
		return nil, ""
	}
	sh, ok := lookupShard(c.topo.Current(), d.slot)
	if !ok || sh.Primary == nil || sh.Primary.Addr == "" {
		return nil, ""
	}
	addr := sh.Primary.Addr
	if c.pool.breakerOpen(addr) {
		return nil, ""
	}
	nc, err := c.pool.get(ctx, addr, false)
	if err != nil || nc.closing.Load() {
		return nil, ""
	}
	return nc, addr
}

// cacheRedo reports whether a cached call on addr that ended with err
// must be sent again through the uncached loop: a redirect, a retryable
// cluster state, a connection error, or an aborted cache transaction.
// Replies (nil included), other server errors and the caller's own
// cancellation are final. A MOVED patches the topology and drops addr's
// entries of the slot first.
func (c *Client) cacheRedo(ctx context.Context, addr string, err error) bool {
	if err == nil || rueidis.IsRedisNil(err) {
		return false
	}
	if ctx.Err() != nil {
		return false
	}
	class := retry.Classify(err)
	switch class.Kind {
	case retry.KindOther:
		return errors.Is(err, rueidis.ErrDoCacheAborted) || errors.Is(err, rueidis.ErrClosing)
	case retry.KindMoved:
		if red, rerr := class.Redirect(); rerr == nil {
			c.caches.dropSlot(addr, slots.Slot(red.Slot))
			to := c.redirectTarget(red, addr)
			if c.obs != nil {
				c.obs.OnRedirect(RedirectEvent{Kind: red.Kind, Slot: slots.Slot(red.Slot), From: addr, To: to})
			}
			c.topo.Trigger("MOVED")
		}
	}
	return true
}

// DoMultiCache is DoCache for many commands, with their results in the
// same order: the commands of each primary go in one pipeline on its
// connection (pipelines to different nodes in parallel), and those that
// need it (see DoCache) are sent again uncached, as DoMulti would.
// A command whose keys hash to different slots gets a *CrossSlotError;
// the others are unaffected. Without ClientSideCaching, DoMultiCache is
// DoMulti.
func (a *rueidisClient) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	c := a.c
	out := make([]rueidis.RedisResult, len(multi))
	cmds := cacheCmds(multi)
	if ctx == nil {
		for i := range out {
			out[i] = rueidis.NewResult(rueidis.RedisMessage{}, errNilContext)
		}
		return out
	}
	// The indexes to send uncached (all of them without caching).
	var redo []int
	type group struct {
		nc   *nodeConn
		addr string
		idx  []int
	}
	var groups []*group
	byAddr := map[string]*group{}
	for i := range multi {
		if cmds[i].Args == nil {
			out[i] = rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
			continue
		}
		if c.caches == nil {
			redo = append(redo, i)
			continue
		}
		d, err := decide(c.table, cmds[i].Args)
		if err != nil {
			out[i] = rueidis.NewResult(rueidis.RedisMessage{}, err)
			continue
		}
		if multi[i].Cmd.IsMGet() {
			// rueidis caches MGET only through DoCache.
			out[i] = a.DoCache(ctx, multi[i].Cmd, multi[i].TTL)
			continue
		}
		nc, addr := c.cacheConn(ctx, d)
		if nc == nil {
			redo = append(redo, i)
			continue
		}
		g := byAddr[addr]
		if g == nil {
			g = &group{nc: nc, addr: addr}
			byAddr[addr] = g
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	var mu sync.Mutex // guards redo while the pipelines run
	run := func(g *group) {
		cts := make([]rueidis.CacheableTTL, len(g.idx))
		for k, i := range g.idx {
			cts[k] = multi[i]
		}
		var rs []rueidis.RedisResult
		seq := c.caches.panicSeq()
		err := safe.Call("DoMultiCache pipeline to "+g.addr, func() {
			rs = g.nc.client.DoMultiCache(sharedConnContext(ctx), cts...)
		})
		if err != nil {
			c.panicked(g.addr, err)
		} else {
			err = c.caches.brokeSince(g.addr, seq) // the user's store panicked
		}
		for k, i := range g.idx {
			if err != nil || k >= len(rs) {
				out[i] = rueidis.NewResult(rueidis.RedisMessage{}, err)
				continue
			}
			if c.cacheRedo(ctx, g.addr, rs[k].Error()) {
				mu.Lock()
				redo = append(redo, i)
				mu.Unlock()
				continue
			}
			out[i] = rs[k]
		}
	}
	switch len(groups) {
	case 0:
	case 1:
		run(groups[0])
	default:
		var wg sync.WaitGroup
		for _, g := range groups[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := safe.Call("DoMultiCache of "+g.addr, func() { run(g) }); err != nil {
					c.panicked(g.addr, err)
				}
			}()
		}
		run(groups[0])
		wg.Wait()
	}
	if len(redo) == 0 {
		return out
	}
	again := make([]Cmd, len(redo))
	for k, i := range redo {
		again[k] = cmds[i]
	}
	for k, r := range c.doMulti(ctx, again, nil) {
		out[redo[k]] = rueidis.NewResult(r.Msg, r.Err)
	}
	return out
}
