package router

// SetAfterGetHook makes f run after each command took its connection
// from the pool and before it is sent; drop closes that connection as
// the pool does when a node leaves the topology.
func SetAfterGetHook(c *Client, f func(drop func())) {
	c.afterGet = func(nc *nodeConn) { f(func() { c.pool.drop(nc) }) }
}

// TripBreaker opens the circuit breaker of addr, as failures would.
func TripBreaker(c *Client, addr string) { c.pool.breaker(addr).Trip() }
