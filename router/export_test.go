package router

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/topology"
)

// SetAfterGetHook makes f run after each command took its connection
// from the pool and before it is sent; drop closes that connection as
// the pool does when a node leaves the topology.
func SetAfterGetHook(c *Client, f func(drop func())) {
	c.afterGet = func(nc *nodeConn) { f(func() { c.pool.drop(nc) }) }
}

// TripBreaker opens the circuit breaker of addr, as failures would.
func TripBreaker(c *Client, addr string) { c.pool.breaker(addr).Trip() }

// OwnReads returns how many reads went to addr on a connection of their
// own (lone reads with a deadline).
func OwnReads(c *Client, addr string) int64 {
	if ns := c.pool.lookup(addr); ns != nil {
		return ns.ownReads.Load()
	}
	return 0
}

// LeanPlan reports whether DoMulti would send cmds in a lean first round
// (multi_lean.go), sending nothing.
func LeanPlan(c *Client, cmds ...Cmd) bool {
	sc := c.scratch.get()
	defer c.scratch.put(sc)
	return c.leanPlan(sc, cmds, nil, nil)
}

// PickConn runs what the first attempt of the command args does before
// sending it: the table's decision, the node and breaker pick, the
// connection lookup (for BenchmarkPickConn).
func PickConn(ctx context.Context, c *Client, args ...string) error {
	_, err := firstConn(ctx, c, args)
	return err
}

// firstConn is PickConn, returning the connection.
func firstConn(ctx context.Context, c *Client, args []string) (*nodeConn, error) {
	d, err := decideLazy(c.table, args)
	if err != nil {
		return nil, err
	}
	st := state{d: d, ctr: c.limits.Counter()}
	addr, ro, err := c.pick(&st)
	if err != nil {
		return nil, err
	}
	return c.getConn(ctx, &st, addr, ro)
}

// HandlesCurrent reports whether c's node table (handles.go) is the
// current snapshot's and maps every primary to the pool's state of its
// address.
func HandlesCurrent(c *Client) bool {
	h, s := c.handles.Load(), c.topo.Current()
	if h == nil || h.snap != s {
		return false
	}
	for _, sh := range shardsOf(s) {
		ns, ok := h.get(sh.Primary)
		if !ok || ns == nil || ns != c.pool.lookup(sh.Primary.Addr) {
			return false
		}
	}
	return true
}

// PruneAddr prunes addr from c's pool as the prune loop does when the
// snapshot it read lacked addr (a snapshot older than the current one).
func PruneAddr(c *Client, addr string) {
	c.pool.prune(func(a string) bool { return a != addr })
}

// instantClient is a node's rueidis client that answers every Do at once
// with reply, sending nothing (BenchmarkDoOverhead: the router's own
// cost per command, without the transport's).
type instantClient struct {
	rueidis.Client
	reply rueidis.RedisResult
}

func (i instantClient) Do(context.Context, rueidis.Completed) rueidis.RedisResult { return i.reply }

// SetInstant makes every connection c has open answer each command at
// once with reply (instantClient). Call it with no command in flight.
func SetInstant(c *Client, reply rueidis.RedisResult) {
	for _, nc := range *c.pool.conns.Load() {
		nc.client = instantClient{Client: nc.client, reply: reply}
	}
}

// NodeClient returns the rueidis client of the connection the first
// attempt of args would be sent on (nil on an error).
func NodeClient(c *Client, args ...string) rueidis.Client {
	nc, err := firstConn(context.Background(), c, args)
	if err != nil {
		return nil
	}
	return nc.client
}

// PruneTickWithout runs what the prune loop runs after it read, at its
// tick, a snapshot that lacks the shard whose primary is addr (one older
// than the current one, from before that node came back).
func PruneTickWithout(c *Client, addr string) error {
	var shards []topology.Shard
	for _, sh := range shardsOf(c.topo.Current()) {
		if sh.Primary.Addr != addr {
			shards = append(shards, sh) // (NewSnapshot copies the nodes)
		}
	}
	s, err := topology.NewSnapshot(shards, topology.SnapshotOptions{})
	if err != nil {
		return err
	}
	c.pruneTick(s)
	return nil
}

// SetFastHook makes f run each time the fast first attempt (doFast)
// sends a command.
func SetFastHook(c *Client, f func()) { c.onFast = f }

// MarkBusy marks addr's node as having seen concurrent calls (as the
// watch's tick clears it, a call made at once finds it set but for a
// tick in between).
func MarkBusy(c *Client, addr string) {
	if ns := c.pool.lookup(addr); ns != nil {
		ns.busy.Store(true)
	}
}

// CallsInFlight returns the non-blocking calls in flight on addr, as
// the stall detector counts them.
func CallsInFlight(c *Client, addr string) uint32 {
	if ns := c.pool.lookup(addr); ns != nil {
		in, _ := ns.callCounts()
		return in
	}
	return 0
}
