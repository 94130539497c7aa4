package router_test

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy is a loopback TCP proxy to one node. Armed with cutAfterSend,
// it forwards the next client chunk that contains a pattern to the node,
// then drops the connection before the node's reply reaches the client:
// the command was executed but its outcome is unknown to the client.
type cutProxy struct {
	ln     net.Listener
	addr   string
	target string

	mu      sync.Mutex
	pattern []byte
	cuts    atomic.Int64
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

// newCutProxy starts a proxy to target; it stops at the end of the test.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// cutAfterSend arms the proxy for one cut on the next chunk containing
// pattern.
func (p *cutProxy) cutAfterSend(pattern string) {
	p.mu.Lock()
	p.pattern = []byte(pattern)
	p.mu.Unlock()
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
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
		if !p.track(c, s) {
			return
		}
		var cut atomic.Bool
		answered := make(chan struct{}) // closed when the node answered after the cut
		p.wg.Add(2)
		go p.upstream(c, s, &cut, answered)
		go p.downstream(c, s, &cut, answered)
	}
}

func (p *cutProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

// upstream copies client -> server, cutting after an armed chunk once the
// node has answered it (so the command surely ran).
func (p *cutProxy) upstream(c, s net.Conn, cut *atomic.Bool, answered <-chan struct{}) {
	defer p.wg.Done()
	defer c.Close()
	defer s.Close()
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

// downstream copies server -> client unless the connection was cut; the
// first bytes read after the cut close answered.
func (p *cutProxy) downstream(c, s net.Conn, cut *atomic.Bool, answered chan<- struct{}) {
	defer p.wg.Done()
	defer c.Close()
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
			if err != io.EOF {
				return
			}
			return
		}
	}
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
