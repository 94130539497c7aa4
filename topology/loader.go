package topology

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/internal/wire"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/rueidis"
)

// Errors of the loader and the refresher; test them with errors.Is.
var (
	// ErrNoNodeAnswered means that no node asked during a refresh (known
	// nodes, then the seeds) gave a usable answer. The error also carries
	// each node's own error.
	ErrNoNodeAnswered = errors.New("topology: no node answered")
	// ErrNoSeeds means Options.Seeds is empty or none of the seeds could
	// be resolved.
	ErrNoSeeds = errors.New("topology: no usable seed")
	// ErrClosed is returned by the methods of a closed Loader or Refresher.
	ErrClosed = errors.New("topology: closed")
)

// Defaults of Options.
const (
	// DefaultNodesPerRefresh is how many known nodes a refresh asks.
	DefaultNodesPerRefresh = 3
	// DefaultNodeTimeout bounds one node's answer, dial included.
	DefaultNodeTimeout = 2 * time.Second
	// DefaultDialTimeout is the dial (and handshake) timeout used when
	// Options.ClientOption.Dialer.Timeout is zero.
	DefaultDialTimeout = 2 * time.Second
)

// The sizes of a topology connection's buffers and ring (see
// wire.SmallConn): a connection carries a few small commands per
// refresh, one or two at a time; the replies (CLUSTER SHARDS, SLOTS,
// NODES) are read through the buffer whatever their size. With
// rueidis's defaults the topology's connections, one per node, would
// hold as much memory again as the data connections.
const (
	loaderReadBuffer  = 64 << 10
	loaderWriteBuffer = 4 << 10
	loaderRingScale   = 4 // 16 commands
)

// AnswerGrace is how long a fetch (Fetch, Probe, and so Load, LoadViews
// and every refresh) still waits for the other nodes it asked once one of
// them has given a usable answer. The nodes that have not answered by then
// are cancelled and count as not answered: a silent or frozen node costs
// a fetch at most AnswerGrace when another node answers, instead of
// Options.NodeTimeout.
const AnswerGrace = 100 * time.Millisecond

// SeedGroupDelay is how long a load that falls back to the seeds waits for
// a usable answer from the groups of seeds already asked before it asks the
// next group too (see Load).
const SeedGroupDelay = 250 * time.Millisecond

// errTooLate is the error of a node that had not answered when the fetch
// ended, AnswerGrace after another node's usable answer.
var errTooLate = fmt.Errorf("topology: no answer within %v of another node's: %w", AnswerGrace, context.Canceled)

// NodeReply is what one node answered to the loader: its view, parsed and
// with config epochs attached, or the error that kept it from answering.
type NodeReply struct {
	// Addr is the dialable address that was asked.
	Addr string
	// View is the node's view (valid when Err is nil): CLUSTER SHARDS (or
	// CLUSTER SLOTS before Redis 7) with the config epochs of CLUSTER NODES
	// attached.
	View View
	// Digest is a hash of the node's CLUSTER NODES reply without the
	// fields that change all the time (ping/pong times, link state). Two
	// equal digests mean the node's view did not change.
	Digest uint64
	// Err is why the node gave no usable view.
	Err error
}

// LoadReport says whom a load asked and who answered.
type LoadReport struct {
	// Asked are the dialable addresses asked, in order.
	Asked []string
	// Answered are the addresses whose views were used.
	Answered []string
	// FromSeeds reports that no known node answered and the seeds were
	// asked.
	FromSeeds bool
	// Replies are the answers of every node asked.
	Replies []NodeReply
}

// Loader asks cluster nodes for their view of the topology and reconciles
// the answers into a Snapshot. It keeps one rueidis single-node client per
// dialable address. Its methods are safe for concurrent use; the Refresher
// drives one Loader.
type Loader struct {
	seeds    []string
	lookup   LookupHostFunc
	mapper   AddrMapper
	perLoad  int
	timeout  time.Duration
	grace    time.Duration // AnswerGrace
	stagger  time.Duration // SeedGroupDelay
	template rueidis.ClientOption

	mu      sync.Mutex
	conns   map[string]rueidis.Client
	legacy  map[string]bool // nodes that do not know CLUSTER SHARDS
	pending map[*pendingDial]struct{}
	closed  bool
	rnd     *rand.Rand
	dialing sync.WaitGroup // dial goroutines
	asking  sync.WaitGroup // goroutines of each, stragglers included
}

// NewLoader returns a Loader configured by the connection-related fields of
// opts (Seeds, ClientOption, MapAddr, LookupHost, NodesPerRefresh,
// NodeTimeout). It does not connect: connections are opened on first use.
// Close it when done.
func NewLoader(opts Options) *Loader {
	o := opts.withDefaults()
	tpl := o.ClientOption
	tpl.InitAddress = nil
	tpl.ForceSingleClient = true
	tpl.DisableCache = true
	tpl.DisableRetry = true
	tpl.ShuffleInit = false
	tpl.ReplicaOnly = false
	tpl.Sentinel = rueidis.SentinelOption{}
	tpl.Standalone = rueidis.StandaloneOption{}
	if tpl.Dialer.Timeout == 0 {
		tpl.Dialer.Timeout = DefaultDialTimeout
	}
	tpl.DialCtxFn = wire.Dialer(tpl.DialCtxFn, o.ReplyLimits)
	tpl.AlwaysPipelining = true
	wire.SmallConn(&tpl, loaderReadBuffer, loaderWriteBuffer, loaderRingScale)
	return &Loader{
		seeds:    slices.Clone(o.Seeds),
		lookup:   o.LookupHost,
		mapper:   o.MapAddr,
		perLoad:  o.NodesPerRefresh,
		timeout:  o.NodeTimeout,
		grace:    AnswerGrace,
		stagger:  SeedGroupDelay,
		template: tpl,
		conns:    make(map[string]rueidis.Client),
		legacy:   make(map[string]bool),
		pending:  make(map[*pendingDial]struct{}),
		rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// MapAddr applies the address-mapping hook (Options.MapAddr) to an
// announced address.
func (l *Loader) MapAddr(announced string) string { return l.mapper.mapAddr(announced) }

// Load asks min(NodesPerRefresh, n) random known nodes of prev (healthy
// ones first) for their views; when none of them answers, or prev is nil
// or empty, it asks the seeds, resolved again, in groups of
// NodesPerRefresh: the next group is asked as soon as every seed asked so
// far has failed, or SeedGroupDelay after the previous group while none has
// answered (the slow ones are not given up). Either way it returns
// AnswerGrace after the first usable answer with the views that arrived by
// then (see Fetch). It reconciles the views with prev (see
// Reconcile) and returns the new snapshot. The error wraps
// ErrNoNodeAnswered when nobody answered.
func (l *Loader) Load(ctx context.Context, prev *Snapshot) (*Snapshot, LoadReport, error) {
	views, rep, err := l.LoadViews(ctx, prev, nil)
	if err != nil {
		return nil, rep, err
	}
	s, err := Reconcile(prev, views, ReconcileOptions{MapAddr: l.mapper.hook()})
	return s, rep, err
}

// LoadViews is Load without the reconciliation: it returns the views of the
// nodes that answered. When ask is not empty those addresses are asked
// instead of random known nodes (the seeds are still the fall-back).
//
// The views may be fewer than the nodes asked: a node slower than
// AnswerGrace after the first usable answer is left out, like a node that
// failed. Reconcile is safe with any non-empty subset of the views, so
// leaving a node out never makes a snapshot wrong, only less informed: a
// slot is dropped only when two views confirm it or its owner's own view
// says so (one missing view cannot drop it), a claim never rolls a slot
// back to an older config epoch, and nodes of prev that no view mentions
// are kept while they own slots. A frozen node's view would be stale
// anyway; the next refresh asks again.
func (l *Loader) LoadViews(ctx context.Context, prev *Snapshot, ask []string) ([]View, LoadReport, error) {
	var rep LoadReport
	if ctx == nil {
		return nil, rep, errNilContext
	}
	if l.isClosed() {
		return nil, rep, ErrClosed
	}
	var errs []error
	tried := make(map[string]bool)
	collect := func(replies []NodeReply) []View {
		var views []View
		for _, r := range replies {
			tried[r.Addr] = true
			rep.Asked = append(rep.Asked, r.Addr)
			rep.Replies = append(rep.Replies, r)
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.Addr, r.Err))
				continue
			}
			rep.Answered = append(rep.Answered, r.Addr)
			views = append(views, r.View)
		}
		return views
	}
	targets := ask
	if len(targets) == 0 {
		targets = l.PickNodes(prev, l.perLoad)
	}
	if len(targets) > 0 {
		if views := collect(l.Fetch(ctx, targets)); len(views) > 0 {
			return views, rep, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, rep, l.noAnswer(errors.Join(append(errs, err)...))
	}
	// Fall back to the seeds, resolved again, in groups of NodesPerRefresh
	// started one after the other without waiting for a silent group (see
	// each): a seed that accepts and never answers costs nothing when
	// another one of its group answers, SeedGroupDelay when none does, and
	// NodeTimeout (or ctx) only when no seed answers at all.
	rep.FromSeeds = true
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	seeds, err := resolveSeeds(rctx, l.seeds, l.lookup)
	cancel()
	if err != nil {
		errs = append(errs, err)
	} else if len(l.seeds) == 0 {
		errs = append(errs, ErrNoSeeds)
	}
	var rest []string
	for _, s := range seeds {
		if !tried[s] {
			rest = append(rest, s)
		}
	}
	l.mu.Lock()
	l.rnd.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	l.mu.Unlock()
	if len(rest) > 0 && ctx.Err() == nil {
		if views := collect(l.each(ctx, rest, l.perLoad, "topology fetch from ", l.fetchOne)); len(views) > 0 {
			return views, rep, nil
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return nil, rep, l.noAnswer(errors.Join(errs...))
}

func (l *Loader) noAnswer(cause error) error {
	if cause == nil {
		return ErrNoNodeAnswered
	}
	return fmt.Errorf("%w: %w", ErrNoNodeAnswered, cause)
}

// PickNodes returns up to n random dialable addresses of s's nodes, nodes
// not marked failed first. It returns nil for a nil or empty snapshot.
func (l *Loader) PickNodes(s *Snapshot, n int) []string {
	if s == nil || n <= 0 {
		return nil
	}
	var good, bad []string
	seen := make(map[string]bool)
	for _, nd := range s.nodes {
		if nd.Addr == "" || seen[nd.Addr] {
			continue
		}
		seen[nd.Addr] = true
		if nd.Health == HealthFailed {
			bad = append(bad, nd.Addr)
		} else {
			good = append(good, nd.Addr)
		}
	}
	l.mu.Lock()
	l.rnd.Shuffle(len(good), func(i, j int) { good[i], good[j] = good[j], good[i] })
	l.mu.Unlock()
	out := append(good, bad...)
	return out[:min(n, len(out))]
}

// Fetch asks every address for its view concurrently (CLUSTER SHARDS and
// CLUSTER NODES in one pipeline; CLUSTER SLOTS instead of CLUSTER SHARDS
// for servers that do not know it) and returns one reply per address, in
// order. Each node's answer is bounded by ctx and Options.NodeTimeout.
// Fetch returns when every node has answered or failed, when ctx ends, or
// AnswerGrace after the first usable answer, whichever comes first; the
// nodes that have not answered then are cancelled and their replies carry
// an error (wrapping context.Canceled, or ctx's error).
func (l *Loader) Fetch(ctx context.Context, addrs []string) []NodeReply {
	return l.each(ctx, addrs, 0, "topology fetch from ", l.fetchOne)
}

// Probe asks every address for its CLUSTER NODES reply only and returns the
// digests (View is empty). It is the cheap check of the periodic refresh.
// It returns early as Fetch does.
func (l *Loader) Probe(ctx context.Context, addrs []string) []NodeReply {
	return l.each(ctx, addrs, 0, "topology probe of ", l.probeOne)
}

// each asks addrs concurrently with one, in groups of group addresses
// (all at once when group <= 0): the first group at once, the next one
// when every address started so far has failed, or SeedGroupDelay after
// the previous group started while no usable reply has arrived. Once one
// has, no group is started any more, and each returns l.grace later, or
// earlier when every address started has answered or failed, or when ctx
// ends. It then cancels the others and returns without waiting for them:
// their goroutines end promptly (every wait of one honours its ctx) and
// Close waits for them; their late replies are dropped. It returns the
// replies of the addresses started, a prefix of addrs, in order (every
// address when the loader is closed, with ErrClosed).
func (l *Loader) each(ctx context.Context, addrs []string, group int, job string, one func(context.Context, string) NodeReply) []NodeReply {
	out := make([]NodeReply, len(addrs))
	for i, a := range addrs {
		out[i] = NodeReply{Addr: a, Err: errTooLate}
	}
	if ctx == nil {
		for i := range out {
			out[i].Err = errNilContext
		}
		return out
	}
	if group <= 0 || group > len(addrs) {
		group = len(addrs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // cancels the stragglers
	type result struct {
		i int
		r NodeReply
	}
	results := make(chan result, len(addrs)) // never blocks a sender
	started, pending := 0, 0
	// startGroup starts the next group; false when the loader is closed.
	startGroup := func() bool {
		n := min(group, len(addrs)-started)
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return false
		}
		l.asking.Add(n)
		l.mu.Unlock()
		for i := started; i < started+n; i++ {
			a := addrs[i]
			go func() {
				defer l.asking.Done()
				nctx, ncancel := context.WithTimeout(ctx, l.timeout)
				defer ncancel()
				var r NodeReply
				if err := safe.Call(job+a, func() { r = one(nctx, a) }); err != nil {
					r = NodeReply{Err: err}
				}
				r.Addr = a
				results <- result{i, r}
			}()
		}
		started += n
		pending += n
		return true
	}
	if len(addrs) == 0 {
		return out
	}
	if !startGroup() {
		for i := range out {
			out[i].Err = ErrClosed
		}
		return out
	}

	var (
		next, done *time.Timer
		nextC      <-chan time.Time // armed while a group waits to start
		graceC     <-chan time.Time // armed after the first usable reply
	)
	defer func() {
		for _, t := range []*time.Timer{next, done} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	armNext := func() {
		nextC = nil
		if started == len(addrs) {
			return
		}
		if next == nil {
			next = time.NewTimer(l.stagger)
		} else {
			next.Reset(l.stagger)
		}
		nextC = next.C
	}
	armNext()
	// Bounded: every turn takes one of at most len(addrs) replies, starts
	// one of at most len(addrs) groups, or returns.
	for pending > 0 {
		select {
		case res := <-results:
			pending--
			out[res.i] = res.r
			switch {
			case res.r.Err == nil && done == nil:
				done = time.NewTimer(l.grace)
				graceC, nextC = done.C, nil
			case pending == 0 && done == nil && started < len(addrs):
				// Every address asked failed: the next group at once.
				if startGroup() {
					armNext()
				}
			}
		case <-nextC:
			if startGroup() {
				armNext()
			} else {
				nextC = nil
			}
		case <-graceC:
			return out[:started]
		case <-ctx.Done():
			err := fmt.Errorf("topology: no answer: %w", ctx.Err())
			for i := range started {
				if out[i].Err == errTooLate {
					out[i].Err = err
				}
			}
			return out[:started]
		}
	}
	return out[:started]
}

func (l *Loader) fetchOne(ctx context.Context, addr string) NodeReply {
	c, err := l.client(ctx, addr)
	if err != nil {
		return NodeReply{Err: err}
	}
	l.mu.Lock()
	legacy := l.legacy[addr]
	l.mu.Unlock()
	mapCmd := "SHARDS"
	if legacy {
		mapCmd = "SLOTS"
	}
	res := c.DoMulti(ctx,
		c.B().Arbitrary("CLUSTER", mapCmd).Build(),
		c.B().Arbitrary("CLUSTER", "NODES").Build())
	mapMsg, mapErr := res[0].ToMessage()
	if !legacy && isUnknownSubcommand(mapErr) {
		// Redis < 7: CLUSTER SHARDS is unknown. Remember, and ask SLOTS.
		l.mu.Lock()
		l.legacy[addr] = true
		l.mu.Unlock()
		mapCmd = "SLOTS"
		mapMsg, mapErr = c.Do(ctx, c.B().Arbitrary("CLUSTER", "SLOTS").Build()).ToMessage()
	}
	if _, redisErr := rueidis.IsRedisErr(mapErr); mapErr != nil && !redisErr {
		return NodeReply{Err: mapErr}
	}
	text, nodesErr := res[1].ToString()
	if nodesErr != nil {
		return NodeReply{Err: fmt.Errorf("CLUSTER NODES: %w", nodesErr)}
	}
	text = strings.TrimPrefix(text, "txt:")
	nodesView, err := ParseNodes(text, addr)
	if err != nil {
		return NodeReply{Err: err}
	}
	var v View
	if mapCmd == "SHARDS" {
		v, err = ParseShards(mapMsg, addr)
	} else {
		v, err = ParseSlots(mapMsg, addr)
	}
	if err != nil {
		return NodeReply{Err: err}
	}
	v.AttachEpochs(&nodesView)
	if v.MyID == "" {
		v.MyID = nodesView.MyID
	}
	return NodeReply{View: v, Digest: nodesDigest(text)}
}

func (l *Loader) probeOne(ctx context.Context, addr string) NodeReply {
	c, err := l.client(ctx, addr)
	if err != nil {
		return NodeReply{Err: err}
	}
	text, err := c.Do(ctx, c.B().Arbitrary("CLUSTER", "NODES").Build()).ToString()
	if err != nil {
		return NodeReply{Err: fmt.Errorf("CLUSTER NODES: %w", err)}
	}
	return NodeReply{Digest: nodesDigest(strings.TrimPrefix(text, "txt:"))}
}

// isUnknownSubcommand reports whether err is the server's answer to a
// CLUSTER subcommand it does not know (Redis < 7 for SHARDS).
func isUnknownSubcommand(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	return strings.Contains(strings.ToLower(re.Error()), "unknown subcommand")
}

// nodesDigest hashes a CLUSTER NODES reply without the fields that change
// while the topology does not: ping-sent, pong-recv and link-state. Lines
// are sorted so that the order of the reply does not matter.
func nodesDigest(text string) uint64 {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	norm := make([]string, 0, len(lines))
	for _, ln := range lines {
		f := strings.Fields(ln)
		if len(f) >= 8 {
			f = append(append(f[:4:4], f[6]), f[8:]...)
		}
		norm = append(norm, strings.Join(f, " "))
	}
	sort.Strings(norm)
	d := xxhash.New()
	for _, ln := range norm {
		_, _ = d.WriteString(ln)
		_, _ = d.WriteString("\n")
	}
	return d.Sum64()
}

// pendingDial tracks the connections a dial in progress (rueidis.NewClient:
// connect and handshake) opened, so that Close can abort it at once
// instead of waiting for the dial timeout (a node that accepts and never
// answers holds the handshake that long).
type pendingDial struct {
	ctx    context.Context // ends when the dial is aborted
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   []net.Conn
	aborted bool
	settled bool // NewClient returned: the client owns its connections
}

func newPendingDial() *pendingDial {
	d := &pendingDial{}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// wrap returns a DialCtxFn that dials with base and tracks the connection
// until the dial is settled.
func (d *pendingDial) wrap(base wire.DialFunc) wire.DialFunc {
	return func(ctx context.Context, dst string, dialer *net.Dialer, tc *tls.Config) (net.Conn, error) {
		d.mu.Lock()
		settled := d.settled
		d.mu.Unlock()
		if settled { // a reconnection of the client
			return base(ctx, dst, dialer, tc)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(d.ctx, cancel)
		defer stop()
		c, err := base(ctx, dst, dialer, tc)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.aborted {
			_ = c.Close()
			return nil, ErrClosed
		}
		if !d.settled {
			d.conns = append(d.conns, c)
		}
		return c, nil
	}
}

// settle stops tracking: the dial is over.
func (d *pendingDial) settle() {
	d.mu.Lock()
	d.settled = true
	d.conns = nil
	d.mu.Unlock()
}

// abort closes the connections of an unsettled dial (failing its
// handshake at once) and cancels its connects in progress.
func (d *pendingDial) abort() {
	d.cancel()
	d.mu.Lock()
	d.aborted = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// client returns the pooled client for addr, dialing it when needed. The
// dial runs in its own goroutine so that ctx bounds the wait; a dial that
// finishes after ctx is done still lands in the pool (or is closed when the
// loader was closed meanwhile). Close aborts the dials in progress.
func (l *Loader) client(ctx context.Context, addr string) (rueidis.Client, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if c, ok := l.conns[addr]; ok {
		l.mu.Unlock()
		return c, nil
	}
	l.dialing.Add(1)
	d := newPendingDial()
	l.pending[d] = struct{}{}
	l.mu.Unlock()

	type result struct {
		c   rueidis.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer l.dialing.Done()
		opt := l.template
		opt.InitAddress = []string{addr}
		opt.DialCtxFn = d.wrap(opt.DialCtxFn)
		var c rueidis.Client
		var err error
		if perr := safe.Call("topology dial of "+addr, func() { c, err = rueidis.NewClient(opt) }); perr != nil {
			err = perr
		}
		d.settle()
		l.mu.Lock()
		delete(l.pending, d)
		l.mu.Unlock()
		if err != nil {
			if c != nil {
				c.Close()
			}
			done <- result{err: fmt.Errorf("dial %s: %w", addr, err)}
			return
		}
		l.mu.Lock()
		switch old, ok := l.conns[addr]; {
		case l.closed:
			l.mu.Unlock()
			c.Close()
			done <- result{err: ErrClosed}
			return
		case ok:
			l.mu.Unlock()
			c.Close()
			c = old
		default:
			l.conns[addr] = c
			l.mu.Unlock()
		}
		done <- result{c: c}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
	}
}

// Prune closes the connections to every address not in keep.
func (l *Loader) Prune(keep func(addr string) bool) {
	l.mu.Lock()
	var drop []rueidis.Client
	for a, c := range l.conns {
		if !keep(a) {
			drop = append(drop, c)
			delete(l.conns, a)
			delete(l.legacy, a)
		}
	}
	l.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// Conns returns the addresses the loader holds a connection to, sorted.
func (l *Loader) Conns() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.conns))
	for a := range l.conns {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (l *Loader) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close closes every connection, aborts the dials in progress and waits
// for them and for the fetches in progress (which end promptly: their
// connections are closed). Later calls return ErrClosed-wrapping errors
// from Load and Fetch. Close can be called more than once.
func (l *Loader) Close() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = make(map[string]rueidis.Client)
	pending := l.pending
	l.pending = make(map[*pendingDial]struct{})
	l.mu.Unlock()
	for d := range pending {
		d.abort()
	}
	for _, c := range conns {
		c.Close()
	}
	l.asking.Wait()
	l.dialing.Wait()
}
