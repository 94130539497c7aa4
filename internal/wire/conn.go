package wire

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
// guards the connection with lim (Guard). A connection that base already
// guarded is returned as it is.
func Dialer(base DialFunc, lim Limits) DialFunc {
	return dialer(base, lim, true)
}

// DialerNoYield is Dialer for connections that never yield after a write
// (see Conn.Write): they write as rueidis does.
func DialerNoYield(base DialFunc, lim Limits) DialFunc {
	return dialer(base, lim, false)
}

func dialer(base DialFunc, lim Limits, yield bool) DialFunc {
	if base == nil {
		base = Dial
	}
	lim = lim.WithDefaults()
	return func(ctx context.Context, dst string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		c, err := base(ctx, dst, dialer, tlsConfig)
		if err != nil {
			return nil, err
		}
		return guard(c, dst, lim, yield), nil
	}
}

// Guard wraps c so that what the node at addr sends is checked (see the
// package documentation). The connection yields after a write that
// shares it with commands in flight (see Conn.Write).
func Guard(c net.Conn, addr string, lim Limits) net.Conn {
	return guard(c, addr, lim, true)
}

func guard(c net.Conn, addr string, lim Limits, yield bool) net.Conn {
	if g, ok := c.(*Conn); ok {
		return g
	}
	g := &Conn{Conn: c, addr: addr}
	if yield {
		g.yield, g.since, g.born = runtime.Gosched, time.Since, time.Now()
	}
	g.in = newScanner(lim, addr, g.reply)
	g.in.first, g.in.firstOf = g.push, '>'
	// Commands written are counted by a scanner of their own
	// (cmdScanner: rueidis writes arrays of bulk strings), from the first.
	g.outOK = true
	g.counted.Store(true)
	return g
}

// Conn is a guarded connection. rueidis reads it from one goroutine and
// writes it from another, on different cores under load: the fields each
// side writes on every call have cache lines of their own (linePad), so
// that neither side's Read or Write waits for a line the other just
// wrote.
type Conn struct {
	// Read by both sides, written seldom.
	net.Conn
	addr    string
	counted atomic.Bool // the write side is trusted for counting
	subbed  atomic.Bool // a subscribe-family command was written
	closed  atomic.Bool
	_       linePad

	// The reader's (under rmu; the writer loads answered).
	rmu      sync.Mutex // one reader at a time (rueidis has one)
	in       *scanner
	replies  int64        // replies seen by the current Read's feed
	answered atomic.Int64 // replies seen, pushes aside (stored by the reader only)
	known    int64        // written as last loaded: answered ≤ known needs no load
	_        linePad

	// The writer's (under wmu).
	wmu     sync.Mutex
	out     cmdScanner
	outOK   bool                          // the write side parsed so far
	written atomic.Int64                  // commands written (counted before the bytes go)
	yield   func()                        // runtime.Gosched; nil: never yield (DialerNoYield)
	since   func(time.Time) time.Duration // time.Since (a test's clock)
	born    time.Time                     // the clock's origin
	quiet   atomic.Int64                  // no yield before this time (ns since born)
	_       linePad
}

// A yield that takes longer than yieldSlow means that the processors are
// saturated by goroutines that do not block: the yielding writer waited
// in the scheduler's global queue (measured on 2 cores with 16 callers:
// every yield under 2.1 ms without busy goroutines beside them, most of
// them 16-64 ms with four). The connection then writes without yielding
// for yieldPause, so that such a wait costs its callers at most once
// per pause, then tries again.
const (
	yieldSlow  = 4 * time.Millisecond
	yieldPause = time.Second
)

// linePad ends a group of Conn's fields on a cache line (64 bytes) of its
// own.
type linePad [64]byte

// Close closes the connection.
func (g *Conn) Close() error {
	g.closed.Store(true)
	return g.Conn.Close()
}

// Closed reports whether Close was called (by rueidis, or by the guard
// after a violation).
func (g *Conn) Closed() bool { return g.closed.Load() }

// reply accounts for one top-level reply from the node: every reply that
// is not a push answers a command written before it. The replies of one
// Read are checked at once, after the feed (expected).
func (g *Conn) reply(byte) string {
	g.replies++
	return ""
}

// expected accounts for n more replies (under rmu) and reports whether
// that many commands were written, or the write side is not counted. The
// writer's count is loaded only when the replies pass the count last
// loaded: it only grows, and the load takes the writer's cache line.
func (g *Conn) expected(n int64) bool {
	a := g.answered.Load() + n
	g.answered.Store(a)
	if a <= g.known {
		return true
	}
	g.known = g.written.Load()
	return a <= g.known || !g.counted.Load()
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
		g.replies = 0
		ferr := g.in.feed(p[:n])
		if ferr == nil && g.replies > 0 && !g.expected(g.replies) {
			ferr = g.in.fail("a reply while no command was waiting for one")
		}
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
//
// When commands written before p are still unanswered (callers share the
// connection: rueidis's pipeline), Write yields the processor once after
// writing (runtime.Gosched). Callers whose replies just came in then run
// and queue their next commands before rueidis's writer looks for more,
// so that one write carries several commands: rueidis flushes as soon as
// its queue is empty, which under load means about one system call per
// command. A caller alone on its connection (rueidis's synchronous path)
// never yields here, nor does a connection of DialerNoYield. After a
// yield that took longer than yieldSlow (the processors are saturated:
// the writer waited for its turn), the connection does not yield for
// yieldPause.
func (g *Conn) Write(p []byte) (int, error) {
	shared := false
	g.wmu.Lock()
	if g.outOK {
		n, sub, ok := g.out.feed(p)
		if sub {
			g.subbed.Store(true)
		}
		if ok {
			if n > 0 {
				shared = g.written.Add(int64(n))-int64(n) > g.answered.Load()
			}
		} else {
			// Not what rueidis writes: stop counting, keep writing.
			g.outOK = false
			g.counted.Store(false)
		}
	}
	g.wmu.Unlock()
	n, err := g.Conn.Write(p)
	if shared && err == nil && g.yield != nil {
		g.yieldOnce()
	}
	return n, err
}

// yieldOnce yields the processor, unless a yield took longer than
// yieldSlow less than yieldPause ago.
func (g *Conn) yieldOnce() {
	now := int64(g.since(g.born))
	if now < g.quiet.Load() {
		return
	}
	g.yield()
	if took := int64(g.since(g.born)) - now; took > int64(yieldSlow) {
		g.quiet.Store(now + took + int64(yieldPause))
	}
}

// Yields reports whether the connection yields after a write that shares
// it with commands in flight (Dialer, Guard), or never (DialerNoYield).
func (g *Conn) Yields() bool { return g.yield != nil }

// NetConn returns the guarded connection.
func (g *Conn) NetConn() net.Conn { return g.Conn }
