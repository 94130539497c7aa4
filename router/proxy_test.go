package router_test

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loopProxy is a loopback TCP proxy to one node: for every connection a
// client opens it dials the node and runs the two directions that pair
// returns (client to node, node to client) in goroutines of its own. Each
// direction closes both connections when it ends; close stops everything.
type loopProxy struct {
	ln     net.Listener
	addr   string
	target string

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startLoopProxy starts a proxy to target that stops at the end of the
// test.
func startLoopProxy(t testing.TB, target string, pair func(c, s net.Conn) (up, down func())) *loopProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &loopProxy{ln: ln, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(func() { p.serve(pair) })
	t.Cleanup(p.close)
	return p
}

func (p *loopProxy) serve(pair func(c, s net.Conn) (up, down func())) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.conns == nil {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		up, down := pair(c, s)
		for _, run := range [2]func(){up, down} {
			p.wg.Go(func() {
				defer c.Close()
				defer s.Close()
				run()
			})
		}
	}
}

// reset closes every connection p carries now, both sides, with a TCP
// reset, and returns how many.
func (p *loopProxy) reset() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST
		}
		c.Close()
		delete(p.conns, c)
		n++
	}
	return n
}

func (p *loopProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// copyChunks copies src to dst until either fails, holding each chunk
// for delay first.
func copyChunks(dst, src net.Conn, delay time.Duration) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if delay > 0 {
				time.Sleep(delay) // the injected latency
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutProxy is a loopProxy that, armed with cutAfterSend, forwards the
// next client chunk that contains a pattern to the node, then drops the
// connection once the node has answered, before the answer reaches the
// client: the command was executed but its outcome is unknown to the
// client.
type cutProxy struct {
	*loopProxy
	mu      sync.Mutex
	pattern []byte
	cuts    atomic.Int64
}

// newCutProxy starts a cutProxy to target.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{}
	p.loopProxy = startLoopProxy(t, target, func(c, s net.Conn) (up, down func()) {
		var cut atomic.Bool
		answered := make(chan struct{}) // closed when the node answered after the cut
		return func() { p.upstream(c, s, &cut, answered) }, func() { p.downstream(c, s, &cut, answered) }
	})
	return p
}

// cutAfterSend arms the proxy for one cut on the next chunk containing
// pattern.
func (p *cutProxy) cutAfterSend(pattern string) {
	p.mu.Lock()
	p.pattern = []byte(pattern)
	p.mu.Unlock()
}

// upstream copies client -> node, cutting after an armed chunk once the
// node has answered it (so the command surely ran).
func (p *cutProxy) upstream(c, s net.Conn, cut *atomic.Bool, answered <-chan struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.mu.Lock()
			armed := p.pattern != nil && bytes.Contains(chunk, p.pattern)
			if armed {
				p.pattern = nil
			}
			p.mu.Unlock()
			if armed {
				cut.Store(true) // before the node can answer
			}
			if _, werr := s.Write(chunk); werr != nil {
				return
			}
			if armed {
				p.cuts.Add(1)
				select { // the node's answer proves it executed the command
				case <-answered:
				case <-time.After(10 * time.Second):
				}
				return // closes both sides
			}
		}
		if err != nil {
			return
		}
	}
}

// downstream copies node -> client unless the connection was cut; the
// first bytes read after the cut close answered.
func (p *cutProxy) downstream(c, s net.Conn, cut *atomic.Bool, answered chan<- struct{}) {
	buf := make([]byte, 64<<10)
	signalled := false
	for {
		n, err := s.Read(buf)
		if n > 0 && cut.Load() && !signalled {
			signalled = true
			close(answered)
		}
		if n > 0 && !cut.Load() {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// resetProxy is a loopProxy that, armed with resetAfter(pattern, n),
// holds what the client sends on one connection until pattern has
// appeared n times, then resets that connection (RST) without forwarding
// any of it: n commands were in flight on one connection when it broke.
// Other connections are forwarded.
type resetProxy struct {
	*loopProxy
	mu      sync.Mutex
	pattern []byte
	n       int
	resets  atomic.Int64
}

// newResetProxy starts a resetProxy to target.
func newResetProxy(t *testing.T, target string) *resetProxy {
	t.Helper()
	p := &resetProxy{}
	p.loopProxy = startLoopProxy(t, target, func(c, s net.Conn) (up, down func()) {
		return func() { p.upstream(c, s) }, func() { copyChunks(c, s, 0) }
	})
	return p
}

func (p *resetProxy) resetAfter(pattern string, n int) {
	p.mu.Lock()
	p.pattern, p.n = []byte(pattern), n
	p.mu.Unlock()
}

func (p *resetProxy) upstream(c, s net.Conn) {
	buf := make([]byte, 64<<10)
	var held []byte
	holding := false
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.mu.Lock()
			if !holding && p.pattern != nil && bytes.Contains(chunk, p.pattern) {
				holding = true // this connection carries the armed commands
			}
			if holding {
				held = append(held, chunk...)
				if bytes.Count(held, p.pattern) >= p.n {
					p.pattern = nil
					p.mu.Unlock()
					p.resets.Add(1)
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // RST, not FIN
					}
					return
				}
			}
			p.mu.Unlock()
			if !holding {
				if _, werr := s.Write(chunk); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// newLatencyProxy starts a loopProxy that holds every chunk the client
// sends for delay before forwarding it.
func newLatencyProxy(t *testing.T, target string, delay time.Duration) *loopProxy {
	t.Helper()
	return startLoopProxy(t, target, func(c, s net.Conn) (up, down func()) {
		return func() { copyChunks(s, c, delay) }, func() { copyChunks(c, s, 0) }
	})
}
