package wire

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// DialFunc is rueidis's ClientOption.DialCtxFn.
type DialFunc = func(ctx context.Context, dst string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error)

// Dial dials dst as rueidis does without a DialCtxFn: TCP, or TLS when
// tlsConfig is not nil.
func Dial(ctx context.Context, dst string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
	if tlsConfig != nil {
		d := tls.Dialer{NetDialer: dialer, Config: tlsConfig}
		return d.DialContext(ctx, "tcp", dst)
	}
	return dialer.DialContext(ctx, "tcp", dst)
}

// Dialer returns a DialCtxFn that dials with base (Dial when nil) and
// guards the connection with lim. A connection that base already guarded
// is returned as it is.
func Dialer(base DialFunc, lim Limits) DialFunc {
	if base == nil {
		base = Dial
	}
	lim = lim.WithDefaults()
	return func(ctx context.Context, dst string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		c, err := base(ctx, dst, dialer, tlsConfig)
		if err != nil {
			return nil, err
		}
		return Guard(c, dst, lim), nil
	}
}

// Guard wraps c so that what the node at addr sends is checked (see the
// package documentation).
func Guard(c net.Conn, addr string, lim Limits) net.Conn {
	if g, ok := c.(*Conn); ok {
		return g
	}
	g := &Conn{Conn: c, addr: addr}
	g.in = newScanner(lim, addr, g.reply)
	g.in.first, g.in.firstOf = g.push, '>'
	// Commands written are counted with a scanner of their own; our own
	// output cannot exceed any sane limit.
	g.outScan = newScanner(Limits{MaxBulk: 1 << 62, MaxElements: 1 << 62, MaxDepth: 1 << 30}, addr, g.command)
	g.outScan.first, g.outScan.firstOf = g.named, '*'
	return g
}

// Conn is a guarded connection.
type Conn struct {
	net.Conn
	addr string

	rmu sync.Mutex // one reader at a time (rueidis has one)
	in  *scanner

	wmu     sync.Mutex
	outScan *scanner
	outOK   bool // the write side parsed so far

	waiting atomic.Int64 // commands written and not yet answered
	counted atomic.Bool  // the write side is trusted for counting
	subbed  atomic.Bool  // a subscribe-family command was written
	closed  atomic.Bool
}

// Close closes the connection.
func (g *Conn) Close() error {
	g.closed.Store(true)
	return g.Conn.Close()
}

// Closed reports whether Close was called (by rueidis, or by the guard
// after a violation).
func (g *Conn) Closed() bool { return g.closed.Load() }

// command counts one command written.
func (g *Conn) command(byte) string {
	g.waiting.Add(1)
	return ""
}

// reply accounts for one top-level reply from the node: every reply that
// is not a push answers a command written before it.
func (g *Conn) reply(byte) string {
	if g.waiting.Add(-1) < 0 && g.counted.Load() {
		return "a reply while no command was waiting for one"
	}
	return ""
}

// named looks at the name of a command written: the subscribe family
// makes subscribe confirmations legitimate on this connection.
func (g *Conn) named(name []byte, _ int64, _ bool) string {
	const suffix = "subscribe"
	if len(name) >= len(suffix) && foldEqual(name[len(name)-len(suffix):], suffix) {
		g.subbed.Store(true)
	}
	return ""
}

// foldEqual reports whether b equals the lower-case ASCII s, ignoring
// ASCII case, without allocating.
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// push looks at the kind of a top-level push from the node. rueidis takes
// a push named subscribe, psubscribe or ssubscribe (with at least two
// elements) as the reply to a subscribe command and panics ("protocol
// bug") when none is waiting; such a push on a connection that never
// subscribed is refused.
func (g *Conn) push(kind []byte, count int64, streamed bool) string {
	if count >= 0 && count < 2 {
		return "" // rueidis ignores it
	}
	if streamed && !g.subbed.Load() {
		return "a push whose kind is a streamed string"
	}
	switch string(kind) {
	case "subscribe", "psubscribe", "ssubscribe":
		if !g.subbed.Load() {
			return "a subscribe confirmation on a connection that never subscribed"
		}
	}
	return ""
}

// Read reads from the node and checks what it read. On a violation it
// closes the connection and returns the error (and none of the bytes of
// that read); so does every later Read.
func (g *Conn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.rmu.Lock()
		ferr := g.in.feed(p[:n])
		g.rmu.Unlock()
		if ferr != nil {
			_ = g.Close()
			return 0, ferr
		}
	}
	return n, err
}

// Write counts the commands in p before writing them, so that their
// replies are expected by the time they can arrive.
func (g *Conn) Write(p []byte) (int, error) {
	g.wmu.Lock()
	if !g.outOK && g.outScan.err == nil && g.outScan.off == 0 {
		g.outOK = true
		g.counted.Store(true)
	}
	if g.outOK {
		if err := g.outScan.feed(p); err != nil {
			// Not RESP we understand: stop counting, keep writing.
			g.outOK = false
			g.counted.Store(false)
		}
	}
	g.wmu.Unlock()
	return g.Conn.Write(p)
}

// NetConn returns the guarded connection.
func (g *Conn) NetConn() net.Conn { return g.Conn }
