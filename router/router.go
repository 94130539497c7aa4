package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// learnTimeout bounds asking a node for COMMAND in New.
const learnTimeout = 5 * time.Second

// DefaultBreakerWindow is the router's default Options.Breaker.Window:
// connection failures of one node within 100 ms count as one failure of
// its circuit breaker (the callers that shared a broken connection).
const DefaultBreakerWindow = 100 * time.Millisecond

// Client is the cluster smart client: it routes every command to the
// node that serves its slot, follows MOVED and ASK redirects, retries
// what is safe to retry, and keeps the topology up to date. Create it
// with New, Close it when done. A Client is safe for concurrent use.
type Client struct {
	topo *topology.Refresher
	pool *pool
	// handles: the current snapshot's nodes to their pool state
	// (handles.go); nil until the first call.
	handles atomic.Pointer[nodeHandles]
	table   *command.Table
	policy  ReadPolicy
	limits  retry.Limits
	backoff retry.Backoff
	obs     Observer
	budget  *retry.Budget // nil: none

	face        *rueidisClient  // the rueidis face (Rueidis)
	caches      *cacheStores    // client-side caching (nil: off)
	args        argsPool        // copies of the args of rueidis-face commands
	scratch     scratchPool     // DoMulti's working memory
	faceScratch facePool        // the rueidis face DoMulti's working memory
	splits      msPool          // multi-shard splits' working memory
	noDeadlines noDeadlinePool  // send's contexts without their deadline
	workers     *workers        // DoMulti's pipelines to other nodes (workers.go)
	held        dedicatedSet    // the face's pinned dedicated connections (Close closes them)
	follow      dedicatedFollow // sharded subscriptions lost by dedicated connections (dedicated_follow.go)
	recvs       receiverSet     // the face's running Receives, for the caller's unsubscribes (pubsub_unsubscribe.go)

	tracer       Tracer
	log          *slog.Logger
	maxLag       int64
	failoverWait time.Duration // negative: no wait
	stallTimeout time.Duration // 0: no detector
	watch        *watch

	strictCrossSlot bool // Options.StrictCrossSlot: split nothing (multishard.go)

	// afterGet, set by tests only, runs after a command's connection was
	// taken from the pool and before the command is sent on it.
	afterGet func(nc *nodeConn)
	// onFast, set by tests only, runs when doFast sends an attempt.
	onFast func()

	closed    atomic.Bool
	closeOnce sync.Once
	pruneStop chan struct{}
	pruneDone chan struct{}
}

// New connects to the cluster reachable through opts.Seeds: it loads the
// topology (bounded by ctx), learns the command table from one node's
// COMMAND reply (unless opts.NoLearn), and starts the topology refresher.
// The error wraps topology.ErrNoNodeAnswered when no seed answered.
func New(ctx context.Context, opts Options) (*Client, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	co := opts.clientOption()
	topts := opts.Topology
	topts.Seeds = opts.Seeds
	topts.ClientOption = co
	topts.ClientOption.DisableCache = true
	topts.ReplyLimits = opts.ReplyLimits
	if opts.MapAddr != nil {
		topts.MapAddr = topology.AddrMapper(opts.MapAddr)
	}
	bopts := opts.Breaker
	if bopts.Window == 0 {
		// Callers that share a connection see its failure together: they
		// are one piece of evidence.
		bopts.Window = DefaultBreakerWindow
	}
	c := &Client{
		pool:         newPool(co, bopts),
		table:        opts.Table,
		policy:       opts.ReadPolicy,
		limits:       opts.Limits,
		backoff:      opts.Backoff,
		obs:          opts.Observer,
		tracer:       opts.Tracer,
		log:          opts.Logger,
		maxLag:       opts.MaxReplicaLag,
		failoverWait: opts.FailoverWait,
		stallTimeout: opts.StallTimeout,
		watch:        newWatch(),
		pruneStop:    make(chan struct{}),
		pruneDone:    make(chan struct{}),
	}
	b, err := noSlotBuilder()
	if err != nil {
		return nil, err
	}
	c.face = &rueidisClient{c: c, b: b}
	if opts.ClientSideCaching {
		c.initCache()
	}
	c.strictCrossSlot = opts.StrictCrossSlot
	if c.failoverWait == 0 {
		c.failoverWait = DefaultFailoverWait
	}
	switch {
	case c.stallTimeout == 0:
		c.stallTimeout = DefaultStallTimeout
	case c.stallTimeout < 0:
		c.stallTimeout = 0
	}
	c.pool.onPanic = c.panicked
	c.workers = newWorkers(func(err error) { c.panicked("", err) })
	if _, ok := c.obs.(EventObserver); ok || c.log != nil {
		// Reported by the watch goroutine, outside the breaker's lock.
		c.pool.onBreaker = func(addr string, from, to retry.State) {
			select {
			case c.watch.breakers <- Event{Kind: EventBreaker, Addr: addr, From: from, To: to}:
			default: // a burst beyond the buffer is not reported
			}
		}
	}
	userObs := topts.Observer
	topts.Observer = topology.ObserverFunc(func(e topology.RefreshEvent) { c.refreshed(e, userObs) })
	topo, err := topology.New(ctx, topts)
	if err != nil {
		c.pool.close()
		return nil, err
	}
	c.topo = topo
	if c.table == nil {
		c.table = command.DefaultTable()
	}
	if opts.RetryBudget != nil {
		c.budget = retry.NewBudget(*opts.RetryBudget)
	}
	if !opts.NoLearn {
		c.learn(ctx)
	}
	go c.watchLoop()
	go c.pruneLoop()
	return c, nil
}

// learn extends the table with a node's COMMAND reply. Failures are
// ignored: the static table still works.
func (c *Client) learn(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, learnTimeout)
	defer cancel()
	p, err := anyPrimary(c.topo.Current(), nil)
	if err != nil {
		return
	}
	nc, err := c.pool.get(ctx, p.Addr, false)
	if err != nil {
		return
	}
	msg, err := nc.client.Do(ctx, nc.client.B().Command().Build()).ToMessage()
	if err != nil {
		return
	}
	if t, err := c.table.Learn(msg); err == nil && t != nil {
		c.table = t
	}
}

// pruneInterval is how often the pool closes the connections of nodes
// that left the topology.
const pruneInterval = time.Second

// pruneLoop closes the clients of nodes that left the topology.
func (c *Client) pruneLoop() {
	defer close(c.pruneDone)
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-c.pruneStop:
			return
		case <-t.C:
		}
		s := c.topo.Current()
		if s.Version() == seen || len(s.Nodes()) == 0 {
			continue
		}
		seen = s.Version()
		if err := safe.Call("pool prune", func() { c.pruneTick(s) }); err != nil {
			c.panicked("", err)
		}
	}
}

// pruneTick prunes the pool after the prune loop read s at its tick: the
// nodes that neither s nor the current snapshot, read under the pool's
// lock, has. s alone may be older by then (a node came back, or was
// added, since), and pruning by it would drop such a node's state (its
// breaker's history) and close its client while callers route to it. (A
// node that s has and the current snapshot lacks goes at the next tick.)
func (c *Client) pruneTick(s *topology.Snapshot) {
	var cur *topology.Snapshot // read once: both of prune's passes (clients, states) see the same
	c.pool.prune(func(addr string) bool {
		if _, ok := s.NodeByAddr(addr); ok {
			return true
		}
		if cur == nil {
			cur = c.topo.Current()
		}
		_, ok := cur.NodeByAddr(addr)
		return ok
	})
}

// Close closes every connection and stops every goroutine of the client.
// Calls in flight fail, blocking ones (BLPOP k 0, WAIT, XREAD BLOCK 0)
// included: their connections are closed, so the server drops their
// blocked clients. A write in flight fails with an *UnknownOutcomeError
// wrapping ErrClosed (it may have been served just before), a read with
// ErrClosed; a stream of the rueidis face being read (DoStream,
// DoMultiStream) ends with its connection's error (net.ErrClosed).
// Later calls return ErrClosed. Close can be called more than once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.held.closeAll()
		close(c.pruneStop)
		<-c.pruneDone
		close(c.watch.stop)
		<-c.watch.done
		c.pool.close()
		c.workers.close()
		c.topo.Close()
	})
}

// Topology returns the topology refresher (for its current snapshot,
// Refresh and Trigger).
func (c *Client) Topology() *topology.Refresher { return c.topo }

// Table returns the command table in use.
func (c *Client) Table() *command.Table { return c.table }

// Route decides, without I/O, where Do would send the command args (name
// first) now: its slot (NoSlot without keys) and a read-only reference to
// the node of the current snapshot (the zero NodeRef with an error; its
// Node method gives a copy), following the read policy
// and skipping nodes whose circuit breaker is open when another node can
// serve a read. See the package function Route for the errors.
func (c *Client) Route(args ...string) (slots.Slot, topology.NodeRef, error) {
	d, err := decide(c.table, args)
	if err != nil {
		return 0, topology.NodeRef{}, err
	}
	s := c.topo.Current()
	n, err := nodeFor(s, &d, ReadPrimary)
	if err != nil || !d.hasKeys || !d.readOnly || c.policy == ReadPrimary {
		return d.slotOrNone(), n.Ref(), err
	}
	sh, _ := lookupShard(s, d.slot) // nodeFor found it
	closed := func(r *topology.Node) bool { return !c.pool.breakerOpen(r.Addr) }
	return d.slot, chooseRead(sh, c.policy, c.maxLag, closed, closed, c.latency).node.Ref(), nil
}

// Node returns the rueidis client of the node at addr (dialable address,
// as in topology.Node.Addr), dialing it when needed. It is for commands
// aimed at one node (CLUSTER INFO, INFO, SCAN); they are not redirected.
// addr must be a node of the current topology (an error wrapping
// ErrNoNode otherwise: the pool would close a client of any other
// address at its next prune). The client belongs to the pool: do not
// Close it; it is closed when the node leaves the topology or the Client
// is closed.
func (c *Client) Node(ctx context.Context, addr string) (rueidis.Client, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if _, ok := c.topo.Current().NodeByAddr(addr); !ok {
		return nil, fmt.Errorf("%w: %q is not a node of the current topology", ErrNoNode, addr)
	}
	nc, err := c.pool.get(ctx, addr, false)
	if err != nil {
		return nil, err
	}
	return nc.client, nil
}

// errTxnInDo is returned by Do for MULTI, EXEC, DISCARD, WATCH and
// UNWATCH, which need one connection across commands.
var errTxnInDo = fmt.Errorf("%w: MULTI/EXEC/DISCARD/WATCH/UNWATCH cannot be sent alone on the shared connection: send the whole MULTI ... EXEC block with DoMulti, or use Rueidis().Dedicated for WATCH", command.ErrBadCommand)
