package router

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
