package wire

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// span is where a group of Conn's fields lies: [from, to).
type span struct{ from, to uintptr }

func fieldsSpan(offs ...[2]uintptr) span {
	s := span{from: ^uintptr(0)}
	for _, o := range offs {
		s.from = min(s.from, o[0])
		s.to = max(s.to, o[0]+o[1])
	}
	return s
}

func field[T any](off uintptr, v *T) [2]uintptr { return [2]uintptr{off, unsafe.Sizeof(*v)} }

// TestConnLayout: the fields rueidis's reader writes on every Read, those
// its writer writes on every Write, and those both read are at least a
// cache line (64 bytes) apart, so that no two groups share a line
// wherever the Conn starts.
func TestConnLayout(t *testing.T) {
	var g Conn
	shared := fieldsSpan(field(unsafe.Offsetof(g.Conn), &g.Conn), field(unsafe.Offsetof(g.addr), &g.addr),
		field(unsafe.Offsetof(g.counted), &g.counted), field(unsafe.Offsetof(g.subbed), &g.subbed),
		field(unsafe.Offsetof(g.closed), &g.closed))
	reader := fieldsSpan(field(unsafe.Offsetof(g.rmu), &g.rmu), field(unsafe.Offsetof(g.in), &g.in),
		field(unsafe.Offsetof(g.replies), &g.replies), field(unsafe.Offsetof(g.answered), &g.answered),
		field(unsafe.Offsetof(g.known), &g.known))
	writer := fieldsSpan(field(unsafe.Offsetof(g.wmu), &g.wmu), field(unsafe.Offsetof(g.out), &g.out),
		field(unsafe.Offsetof(g.outOK), &g.outOK), field(unsafe.Offsetof(g.written), &g.written))
	groups := []struct {
		name string
		s    span
	}{{"shared", shared}, {"reader", reader}, {"writer", writer}}
	for i, a := range groups {
		for _, b := range groups[i+1:] {
			gap := b.s.from - a.s.to
			if b.s.from < a.s.to {
				gap = a.s.from - b.s.to
			}
			require.True(t, b.s.to <= a.s.from || a.s.to <= b.s.from, "%s %v and %s %v overlap", a.name, a.s, b.name, b.s)
			require.GreaterOrEqual(t, gap, uintptr(64), "%s %v and %s %v", a.name, a.s, b.name, b.s)
		}
	}
}

// loopConn is a node that answers every command written to it with
// reply, in memory: Read waits (spinning) until a command is unanswered.
// The writer stays at most window commands ahead.
type loopConn struct {
	net.Conn // nil: only Read and Write are used
	reply    []byte
	window   int64
	stop     atomic.Bool // one side gave up: the other's Write or Read returns at once
	sent     atomic.Int64
	_        linePad
	got      atomic.Int64
}

func (c *loopConn) Write(p []byte) (int, error) {
	for c.sent.Load()-c.got.Load() >= c.window && !c.stop.Load() {
		runtime.Gosched()
	}
	c.sent.Add(1)
	return len(p), nil
}

func (c *loopConn) Read(p []byte) (int, error) {
	for c.sent.Load() <= c.got.Load() && !c.stop.Load() {
		runtime.Gosched()
	}
	c.got.Add(1)
	return copy(p, c.reply), nil
}

// BenchmarkGuardConcurrent is the guard's cost on a connection written
// by one goroutine and read by another at once, as rueidis's pipeline
// does under load: one GET written and its reply read per iteration,
// through an in-memory node (no system calls), the writer up to 4
// commands ahead.
func BenchmarkGuardConcurrent(b *testing.B) {
	cmd := []byte("*2\r\n$3\r\nGET\r\n$10\r\nkey:{1}:42\r\n")
	lc := &loopConn{reply: []byte("$16\r\nvalue-0123456789\r\n"), window: 4}
	g := Guard(lc, "n", Limits{})
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range b.N {
			if _, err := g.Write(cmd); err != nil {
				b.Error(err)
				lc.stop.Store(true)
				return
			}
		}
	})
	for range b.N {
		if _, err := g.Read(buf); err != nil {
			b.Error(err)
			break
		}
	}
	lc.stop.Store(true)
	wg.Wait()
}

// TestGuardYield: a write yields (once, after the bytes went) only when
// commands written before it are unanswered; never on a connection of
// DialerNoYield or one whose writes could not be counted.
func TestGuardYield(t *testing.T) {
	cmd := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	reply := []byte("$1\r\nv\r\n")
	buf := make([]byte, 64)
	newConn := func(yield bool) (*Conn, *int) {
		lc := &loopConn{reply: reply, window: 1 << 20}
		g := guard(lc, "n", Limits{}, yield).(*Conn)
		yields := new(int)
		if g.yield != nil {
			g.yield = func() { *yields++ }
		}
		return g, yields
	}

	g, yields := newConn(true)
	require.True(t, g.Yields())
	write := func() {
		t.Helper()
		_, err := g.Write(cmd)
		require.NoError(t, err)
	}
	read := func() {
		t.Helper()
		_, err := g.Read(buf)
		require.NoError(t, err)
	}
	write() // alone: rueidis's synchronous path
	read()
	write()
	assert.Equal(t, 0, *yields, "a caller alone never yields")
	write() // the first still unanswered: shared
	assert.Equal(t, 1, *yields)
	write()
	assert.Equal(t, 2, *yields)
	read()
	read()
	read()
	write() // all answered again
	assert.Equal(t, 2, *yields)
	read()

	g, _ = newConn(false)
	require.False(t, g.Yields())
	write()
	write() // shared, and no yield to call (a call of the nil func would panic)

	g, yields = newConn(true)
	_, err := g.Write([]byte("PING\r\n")) // inline: not counted from here on
	require.NoError(t, err)
	write()
	write()
	assert.Equal(t, 0, *yields, "uncounted writes")
}

// TestGuardYieldPause: a yield that took longer than yieldSlow (the
// writer waited for a saturated processor) stops the yields of that
// connection for yieldPause; then they resume, and a quick yield
// changes nothing.
func TestGuardYieldPause(t *testing.T) {
	cmd := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	lc := &loopConn{reply: []byte("$1\r\nv\r\n"), window: 1 << 20}
	g := guard(lc, "n", Limits{}, true).(*Conn)
	var clock time.Duration
	g.since = func(time.Time) time.Duration { return clock }
	yields, took := 0, time.Duration(0)
	g.yield = func() { yields++; clock += took }
	write := func() {
		t.Helper()
		_, err := g.Write(cmd)
		require.NoError(t, err)
	}
	write() // alone
	took = yieldSlow
	write() // shared; a yield of yieldSlow is not slow
	assert.Equal(t, 1, yields)
	took = yieldSlow + time.Microsecond
	write() // a slow yield: the pause begins when it ended
	assert.Equal(t, 2, yields)
	took = 0
	clock += yieldPause - time.Microsecond
	write()
	assert.Equal(t, 2, yields, "paused")
	clock += time.Microsecond
	write()
	assert.Equal(t, 3, yields, "the pause is over")
	write()
	assert.Equal(t, 4, yields)
}
