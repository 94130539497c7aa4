package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/internal/wire"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/topology"
)

// connKey identifies a connection of the pool: a dialable address, and
// whether the connection is in READONLY mode (for replica reads).
type connKey struct {
	addr     string
	readonly bool
}

// nodeConn is one rueidis single-node client.
type nodeConn struct {
	key    connKey
	client rueidis.Client
	// lone is a second client of the node for lone reads with a deadline
	// (see send): its one connection, with small buffers and ring
	// (loneReadBuffer...), is dialed by the first such read, with that
	// read's context, and again after a deadline closed it. Nil when it
	// could not be made, or with ClientOption.AlwaysPipelining: lone
	// reads then share the pipeline.
	lone rueidis.Client
	// closing is set before the pool closes client: a caller that sees it
	// before sending picks again (nothing was sent). A call already sent
	// when the client is closed may have been executed: rueidis's
	// ErrClosing then counts as a connection error.
	closing atomic.Bool
	// ns is the node state whose conn mirrors nc (see nodeState.conn).
	ns *nodeState
}

// modeIndex is the index of a connection's mode in nodeState.conn.
func modeIndex(readonly bool) int {
	if readonly {
		return 1
	}
	return 0
}

// unmirror clears nc from its node state's mirror (under pool.mu, as nc
// leaves the pool's map).
func (nc *nodeConn) unmirror() {
	if nc.ns != nil {
		nc.ns.conn[modeIndex(nc.key.readonly)].CompareAndSwap(nc, nil)
	}
}

// shut marks nc closing and closes its clients.
func (nc *nodeConn) shut() {
	nc.closing.Store(true)
	nc.client.Close()
	if nc.lone != nil {
		nc.lone.Close()
	}
}

// The sizes of a lone client's connection (wire.SmallConn): it carries
// one read at a time; a larger reply is read through the buffer, and a
// larger command written through it.
const (
	loneReadBuffer  = 64 << 10
	loneWriteBuffer = 16 << 10
	loneRingScale   = 2 // 4 commands
)

// errLoneIdle refuses the dial rueidis makes as a lone client is made
// (newLoneClient): its connection waits for the first lone read.
var errLoneIdle = errors.New("slotrouter: lone-read connection dialed on first use")

// newLoneClient returns the lone client (nodeConn.lone) of a node whose
// shared client was made with opt, or nil and the panic that rueidis
// raised making it. rueidis dials a client's
// connection as it makes it; that dial is refused, and ForceSingleClient
// keeps the client, which dials when first used, with the caller's
// context.
func newLoneClient(opt rueidis.ClientOption) (rueidis.Client, error) {
	var made atomic.Bool
	dial := opt.DialCtxFn
	opt.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, tc *tls.Config) (net.Conn, error) {
		if !made.Load() {
			return nil, errLoneIdle
		}
		return dial(ctx, dst, d, tc)
	}
	// Tracking and its hooks as the shared client's (OPTOUT tracking
	// sees the reads of this connection too), one pipeline.
	opt.PipelineMultiplex = -1
	wire.SmallConn(&opt, loneReadBuffer, loneWriteBuffer, loneRingScale)
	var cl rueidis.Client
	if perr := safe.Call("lone-read client", func() { cl, _ = rueidis.NewClient(opt) }); perr != nil {
		return nil, perr
	}
	made.Store(true)
	return cl, nil
}

// dialing is an in-flight dial that concurrent callers share.
type dialing struct {
	done chan struct{}
	nc   *nodeConn
	err  error
}

// nodeState is what the pool knows of one node (by dialable address):
// its circuit breaker, its calls in flight and completed (for the stall
// detector), the latency of its recent replies (for Nearest) and its
// open connections (so that a node that was replaced while frozen can
// have them cut).
type nodeState struct {
	// Read on every call, written seldom.
	br *retry.Breaker
	// busy: a call found another in flight since the watch's last tick
	// (concurrent callers: the node's shared pipeline batches them, and
	// rueidis runs it in its background mode anyway).
	busy atomic.Bool

	// conn mirrors the pool's map of clients for this node's address:
	// [0] the client in primary mode, [1] the READONLY one (nil: ask the
	// map). Written under pool.mu with the map, so a caller that holds
	// the node state reaches its client without hashing the address
	// (pool.getFor). A state the pool has replaced (pruned, then created
	// again) keeps nil or a client that is still the map's, or one being
	// closed, which a caller sees (nodeConn.closing) as in the map's case.
	conn [2]atomic.Pointer[nodeConn]

	// pruned: the pool forgot this state (prune); a holder of it (the
	// node table of a snapshot newer than the prune's) asks the pool for
	// the address's state instead, whose breaker is the one that counts.
	pruned atomic.Bool

	// Written on every call, by every caller of the node: cache lines of
	// their own (hotPad around them), so that the fields above stay in
	// every core's cache.
	_ hotPad
	// calls counts the node's calls, spread over stripes: a caller
	// counts its call in one stripe (drawn at random while the node is
	// busy) and ends it in the same, so that concurrent callers on
	// different cores seldom write the same cache line at once.
	calls [callStripes]callStripe
	ewma  atomic.Int64 // ns; 0: unknown
	_     hotPad

	// ownReads counts reads sent on a connection of their own (lone
	// reads with a deadline; for tests).
	ownReads atomic.Int64

	lastDone uint32       // owned by the watch goroutine
	stalled  atomic.Int64 // ns without a reply while calls were in flight

	cmu   sync.Mutex
	conns []net.Conn // the node's open connections (closed ones pruned on add)
}

// hotPad keeps a nodeState's per-call counters off the cache lines of
// its other fields (64-byte lines).
type hotPad [64]byte

// callStripes is the number of stripes of nodeState.calls.
const callStripes = 8

// callStripe is one stripe of a node's call counts: its non-blocking
// calls in flight (low 32 bits) and its calls answered (high 32 bits,
// modulo 2^32), in one word so that a call ends with one atomic add; a
// cache line of its own.
type callStripe struct {
	n atomic.Uint64
	_ [56]byte
}

// Units of callStripe.n.
const (
	callInflight = 1       // one call in flight
	callDone     = 1 << 32 // one call answered
)

// startCall counts a non-blocking call in flight and returns the stripe
// that counts it, for callEnded. busy is the node's busy flag as the
// caller read it: concurrent callers draw a stripe at random; a caller
// on a node not busy takes the first, sparing the draw, and sums the
// counts: with another call in flight it marks the node busy, else the
// call is alone (lone). (Of two calls that start together, at most one
// finds itself alone: each counts itself before it sums.)
func (n *nodeState) startCall(busy bool) (k int, lone bool) {
	if busy {
		k = int(rand.Uint32() % callStripes)
	}
	n.calls[k].n.Add(callInflight)
	if !busy {
		if in, _ := n.callCounts(); in > 1 {
			n.busy.Store(true)
		} else {
			lone = true
		}
	}
	return k, lone
}

// callEnded ends a call in stripe k: no longer in flight when it was
// non-blocking (counted by startCall in stripe k), answered when the
// node replied.
func (n *nodeState) callEnded(k int, blocking, answered bool) {
	var d uint64
	if answered {
		d = callDone
	}
	if !blocking {
		d -= callInflight // (modular: stripe k counts this call)
	}
	if d != 0 {
		n.calls[k].n.Add(d)
	}
}

// callCounts returns the node's calls in flight and answered (modulo
// 2^32), summed over the stripes (each read at its own moment).
func (n *nodeState) callCounts() (inflight, done uint32) {
	for i := range n.calls {
		v := n.calls[i].n.Load()
		inflight += uint32(v)
		done += uint32(v >> 32)
	}
	return inflight, done
}

// track records a new connection of the node.
func (n *nodeState) track(c net.Conn) {
	n.cmu.Lock()
	defer n.cmu.Unlock()
	live := n.conns[:0]
	for _, x := range n.conns {
		if g, ok := x.(*wire.Conn); !ok || !g.Closed() {
			live = append(live, x)
		}
	}
	clear(n.conns[len(live):])
	n.conns = append(live, c)
}

// cut closes the node's open connections under rueidis: the calls in
// flight on them fail as on a broken connection (a read is retried
// elsewhere, a write's outcome is unknown), and rueidis dials again on
// the next call.
func (n *nodeState) cut() int {
	n.cmu.Lock()
	conns := n.conns
	n.conns = nil
	n.cmu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns)
}

// observe folds a reply's latency into the node's moving average
// (weight 1/8).
func (n *nodeState) observe(d time.Duration) {
	old := n.ewma.Load()
	v := int64(d)
	if old != 0 {
		v = old + (v-old)/8
	}
	if v <= 0 {
		v = 1
	}
	n.ewma.Store(v)
}

// pool keeps one rueidis client per (address, readonly) and one nodeState
// (circuit breaker...) per address. Lookups are lock-free (copy-on-write
// maps).
type pool struct {
	opt  rueidis.ClientOption // template: InitAddress set per node
	ropt rueidis.ClientOption // template for READONLY connections
	// spread: each node has several pipelines (PipelineMultiplex > 0), so
	// commands built from args get a slot (spreadKey) to be spread over
	// them; with one pipeline that would be wasted work.
	spread bool
	bopts  retry.BreakerOptions

	conns atomic.Pointer[map[connKey]*nodeConn]
	nodes atomic.Pointer[map[string]*nodeState]

	// onBreaker reports a breaker's state change (nil: none).
	onBreaker func(addr string, from, to retry.State)

	// onPanic reports a panic recovered in a dial (nil: none).
	onPanic func(addr string, err error)

	// cacheFn, with client-side caching, gives the cache store of the
	// connections to a primary (adapter_cache.go).
	cacheFn func(addr string, user rueidis.NewCacheStoreFn) rueidis.NewCacheStoreFn

	mu      sync.Mutex
	pending map[connKey]*dialing
	closed  bool
	wg      sync.WaitGroup

	// cutting: close has begun cutting the connections in use; one
	// rueidis opens after that is closed at once (close cannot see it).
	cutting atomic.Bool
}

func newPool(opt rueidis.ClientOption, bopts retry.BreakerOptions) *pool {
	p := &pool{opt: opt, bopts: bopts, pending: make(map[connKey]*dialing), spread: opt.PipelineMultiplex > 0}
	p.ropt = opt
	p.ropt.DialCtxFn = readonlyDialer(opt)
	p.ropt.DisableCache = true // no client-side caching on replicas
	empty := map[connKey]*nodeConn{}
	p.conns.Store(&empty)
	noNodes := map[string]*nodeState{}
	p.nodes.Store(&noNodes)
	return p
}

// breaker returns the circuit breaker of addr, creating it.
func (p *pool) breaker(addr string) *retry.Breaker { return p.node(addr).br }

// node returns the state of addr, creating it.
func (p *pool) node(addr string) *nodeState {
	if n := (*p.nodes.Load())[addr]; n != nil {
		return n
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.nodes.Load()
	if n := old[addr]; n != nil {
		return n
	}
	m := make(map[string]*nodeState, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	bo := p.bopts
	if user, report := bo.OnStateChange, p.onBreaker; user != nil || report != nil {
		// The user's callback runs wherever the breaker changes: in
		// callers, and on the refresher's and rueidis's goroutines.
		onPanic := p.onPanic
		bo.OnStateChange = func(from, to retry.State) {
			if report != nil {
				report(addr, from, to)
			}
			if user == nil {
				return
			}
			if err := safe.Call("Breaker.OnStateChange", func() { user(from, to) }); err != nil && onPanic != nil {
				onPanic(addr, err)
			}
		}
	}
	n := &nodeState{br: retry.NewBreaker(bo)}
	m[addr] = n
	p.nodes.Store(&m)
	return n
}

// guardInvalidations returns fn (nil when fn is nil) with its panics
// recovered and reported to report (when not nil) with addr: rueidis
// calls an invalidation callback (ClientOption.OnInvalidations, a
// dedicated connection's SetOnInvalidations) on its reader goroutine. A
// callback that panicked is called again for the next invalidations.
func guardInvalidations(addr string, fn func([]rueidis.RedisMessage), report func(addr string, err error)) func([]rueidis.RedisMessage) {
	if fn == nil {
		return nil
	}
	return func(ms []rueidis.RedisMessage) {
		if err := safe.Call("OnInvalidations", func() { fn(ms) }); err != nil && report != nil {
			report(addr, err)
		}
	}
}

// lookup returns the state of addr, or nil when the pool has none.
func (p *pool) lookup(addr string) *nodeState { return (*p.nodes.Load())[addr] }

// getFor is get for a caller that holds the node state ns of addr (nil:
// none): its mirror first, then the map.
func (p *pool) getFor(ctx context.Context, ns *nodeState, addr string, readonly bool) (*nodeConn, error) {
	if ns != nil {
		if nc := ns.conn[modeIndex(readonly)].Load(); nc != nil {
			return nc, nil
		}
	}
	return p.get(ctx, addr, readonly)
}

// get returns the client for addr, dialing it when needed. A dial is
// shared by concurrent callers; ctx bounds the wait (the dial itself is
// bounded by the dial timeout and finishes in the background).
func (p *pool) get(ctx context.Context, addr string, readonly bool) (*nodeConn, error) {
	key := connKey{addr: addr, readonly: readonly}
	if nc := (*p.conns.Load())[key]; nc != nil {
		return nc, nil
	}
	return p.dial(ctx, key)
}

func (p *pool) dial(ctx context.Context, key connKey) (*nodeConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if nc := (*p.conns.Load())[key]; nc != nil {
		p.mu.Unlock()
		return nc, nil
	}
	d := p.pending[key]
	if d == nil {
		d = &dialing{done: make(chan struct{})}
		p.pending[key] = d
		p.wg.Add(1)
		go p.connect(key, d)
	}
	p.mu.Unlock()
	select {
	case <-d.done:
		return d.nc, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// connect creates the rueidis client of key and publishes it.
func (p *pool) connect(key connKey, d *dialing) {
	defer p.wg.Done()
	opt := p.opt
	if key.readonly {
		opt = p.ropt
	}
	opt.InitAddress = []string{key.addr}
	opt.OnInvalidations = guardInvalidations(key.addr, opt.OnInvalidations, p.onPanic)
	if !key.readonly && !opt.DisableCache && p.cacheFn != nil {
		opt.NewCacheStoreFn = p.cacheFn(key.addr, opt.NewCacheStoreFn)
	}
	base, ns := opt.DialCtxFn, p.node(key.addr)
	opt.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, tc *tls.Config) (net.Conn, error) {
		conn, err := base(ctx, dst, d, tc)
		if err == nil {
			ns.track(conn)
			if p.cutting.Load() {
				// Opened while close cut the node's connections (a
				// blocking command's connection of rueidis's pool, dialed
				// as Close ran): rueidis would hand it out anyway.
				_ = conn.Close()
				return nil, ErrClosed
			}
		}
		return conn, err
	}
	var client rueidis.Client
	var err error
	if perr := safe.Call("dial of "+key.addr, func() { client, err = rueidis.NewClient(opt) }); perr != nil {
		err = perr
		if p.onPanic != nil {
			p.onPanic(key.addr, perr)
		}
	}
	if err != nil {
		if client != nil {
			client.Close()
		}
		client = nil
		// One failed dial, however many callers share it: counted here,
		// once (the callers skip it).
		ns.br.Failure()
		err = &NodeError{Addr: key.addr, Err: err, counted: true}
	}
	var lone rueidis.Client
	if client != nil && !opt.AlwaysPipelining {
		// (Always pipelining, rueidis never takes its synchronous path,
		// and lone reads left in the small ring by a silent node would
		// fill it: they share the pipeline then.)
		var perr error
		if lone, perr = newLoneClient(opt); perr != nil && p.onPanic != nil {
			p.onPanic(key.addr, perr)
		}
	}
	p.mu.Lock()
	delete(p.pending, key)
	if client != nil {
		if p.closed {
			client.Close()
			if lone != nil {
				lone.Close()
			}
			client, err = nil, ErrClosed
		} else {
			d.nc = &nodeConn{key: key, client: client, lone: lone, ns: ns}
			old := *p.conns.Load()
			m := make(map[connKey]*nodeConn, len(old)+1)
			for k, v := range old {
				m[k] = v
			}
			m[key] = d.nc
			p.conns.Store(&m)
			ns.conn[modeIndex(key.readonly)].Store(d.nc)
		}
	}
	d.err = err
	p.mu.Unlock()
	close(d.done)
}

// drop closes the client nc (if it is still the pool's) so that the next
// get dials again, resolving the node's name again.
func (p *pool) drop(nc *nodeConn) {
	p.mu.Lock()
	old := *p.conns.Load()
	if old[nc.key] != nc {
		p.mu.Unlock()
		return
	}
	m := make(map[connKey]*nodeConn, len(old))
	for k, v := range old {
		if k != nc.key {
			m[k] = v
		}
	}
	p.conns.Store(&m)
	nc.unmirror()
	p.mu.Unlock()
	nc.shut()
}

// prune closes the clients and forgets the breakers of the addresses
// keep rejects (nodes that left the topology).
func (p *pool) prune(keep func(addr string) bool) {
	var gone []*nodeConn
	p.mu.Lock()
	old := *p.conns.Load()
	m := make(map[connKey]*nodeConn, len(old))
	for k, v := range old {
		if keep(k.addr) {
			m[k] = v
		} else {
			gone = append(gone, v)
		}
	}
	if len(gone) > 0 {
		p.conns.Store(&m)
		for _, nc := range gone {
			nc.unmirror()
		}
	}
	oldN := *p.nodes.Load()
	mn := make(map[string]*nodeState, len(oldN))
	for k, v := range oldN {
		if keep(k) {
			mn[k] = v
		} else {
			v.pruned.Store(true)
		}
	}
	if len(mn) != len(oldN) {
		p.nodes.Store(&mn)
	}
	p.mu.Unlock()
	for _, nc := range gone {
		nc.shut()
	}
}

// addrs returns the addresses of the open clients.
func (p *pool) addrs() []string {
	m := *p.conns.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.addr)
	}
	return out
}

// close closes every client and waits for in-flight dials.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	old := *p.conns.Load()
	empty := map[connKey]*nodeConn{}
	p.conns.Store(&empty)
	for _, nc := range old {
		nc.unmirror()
	}
	p.mu.Unlock()
	for _, nc := range old {
		nc.shut()
	}
	// Closing rueidis's clients closes their idle connections; those in
	// use (a BLPOP k 0, a WAIT, a stream being read) stay open until
	// their call ends. Cut them: the calls fail now (a write with an
	// unknown outcome), and the server drops their blocked clients. A
	// connection tracked after its node's cut sees cutting and closes
	// itself.
	p.cutting.Store(true)
	for _, ns := range *p.nodes.Load() {
		ns.cut()
	}
	p.wg.Wait()
}

// readonlyDialer returns a DialCtxFn that dials as rueidis would (or with
// the template's own DialCtxFn) and then puts the new connection in
// READONLY mode, authenticating first when credentials are configured:
// rueidis refuses ClientOption.ReplicaOnly for a single-node client, and
// this way every connection it opens to the node (pipelines, the blocking
// pool, reconnections) is read-only.
func readonlyDialer(opt rueidis.ClientOption) func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
	base := opt.DialCtxFn
	user, pass, credFn := opt.Username, opt.Password, opt.AuthCredentialsFn
	return func(ctx context.Context, dst string, dialer *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		var conn net.Conn
		var err error
		switch {
		case base != nil:
			conn, err = base(ctx, dst, dialer, tlsConfig)
		case tlsConfig != nil:
			d := tls.Dialer{NetDialer: dialer, Config: tlsConfig}
			conn, err = d.DialContext(ctx, "tcp", dst)
		default:
			conn, err = dialer.DialContext(ctx, "tcp", dst)
		}
		if err != nil {
			return nil, err
		}
		u, pw := user, pass
		if credFn != nil {
			cred, err := credFn(rueidis.AuthCredentialsContext{Address: conn.RemoteAddr()})
			if err != nil {
				conn.Close()
				return nil, err
			}
			u, pw = cred.Username, cred.Password
		}
		if err := sendReadonly(ctx, conn, dialer.Timeout, u, pw); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// errReadonlyReply is a READONLY (or AUTH) reply that is not +OK.
var errReadonlyReply = errors.New("slotrouter: READONLY refused")

// sendReadonly writes [AUTH] READONLY in RESP2 on a fresh connection and
// reads the replies, within timeout.
func sendReadonly(ctx context.Context, conn net.Conn, timeout time.Duration, user, pass string) error {
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	var b []byte
	n := 1
	switch {
	case pass != "" && user != "":
		b = appendCommand(b, "AUTH", user, pass)
		n++
	case pass != "":
		b = appendCommand(b, "AUTH", pass)
		n++
	}
	b = appendCommand(b, "READONLY")
	if _, err := conn.Write(b); err != nil {
		return err
	}
	r := bufio.NewReaderSize(conn, 64)
	for range n {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("%w: %q", errReadonlyReply, strings.TrimSpace(line))
		}
	}
	if r.Buffered() > 0 {
		return fmt.Errorf("%w: unexpected extra reply", errReadonlyReply)
	}
	return conn.SetDeadline(time.Time{})
}

func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// success reports a reply from addr to its breaker.
func (p *pool) success(addr string) {
	if n := p.lookup(addr); n != nil {
		n.br.Success()
	}
}

// failure reports a connection failure of addr to its breaker: a failed
// dial (dial true) counts on its own; a broken connection counts once for
// all the callers that shared it (Breaker.SharedFailure).
func (p *pool) failure(addr string, dial bool) {
	b := p.breaker(addr)
	if dial {
		b.Failure()
	} else {
		b.SharedFailure()
	}
}

// topologyChanged feeds the breakers the nodes' health a refresh learnt:
// a node the cluster flags as failed trips its breaker (on every refresh
// that says so); a node that is healthy again has it reset. (Primaries
// replaced by a promotion: Client.topologyChanged.)
func (p *pool) topologyChanged(e topology.RefreshEvent) {
	if e.New == nil {
		return
	}
	for _, n := range e.New.Nodes() {
		if n.Health == topology.HealthFailed && n.Addr != "" {
			p.breaker(n.Addr).Trip()
		}
	}
	for _, n := range e.Changes.HealthChanged {
		if n.Health != topology.HealthFailed && n.Addr != "" {
			if ns := p.lookup(n.Addr); ns != nil {
				ns.br.Reset()
			}
		}
	}
}

// breakerOpen reports whether addr's breaker is open (without taking a
// probe).
func (p *pool) breakerOpen(addr string) bool {
	n := p.lookup(addr)
	return n != nil && n.br.State() == retry.Open
}
