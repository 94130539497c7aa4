// Package clustertest starts, stops, breaks and reshards a real local Redis
// Cluster for the tests of the other packages.
//
// A Cluster is a set of Debian redis-server processes listening on random
// 127.0.0.1 ports, configured from a temporary directory and joined with
// `redis-cli --cluster create`. Every process is started with exec.Command,
// tracked by pid, reaped by a goroutine, and killed by the parent-death
// signal should the test binary die first. Stop ends exactly the processes
// the Cluster started and every goroutine it created.
//
// A typical test package has
//
//	var cluster *clustertest.Cluster
//
//	func TestMain(m *testing.M) {
//		clustertest.Main(m, clustertest.Options{Replicas: 1}, &cluster)
//	}
//
//	func TestSomething(t *testing.T) {
//		c := clustertest.Need(t, cluster)
//		...
//	}
//
// For a cluster to use by hand, see testdata/cluster.sh.
//
// Helpers that change the cluster (Kill, Failover, MoveSlots, ...) wait until
// the cluster is healthy again before they return, so that tests can go on
// from a known state. Those that fail a primary or ask for a failover
// (Kill, Pause, Failover) first let the recent elections of the replicas
// concerned expire, at most 2*NodeTimeout: Redis 7.0 would otherwise
// promote a replica with the votes of an election it won moments before,
// and an old epoch that the other nodes refuse, leaving the cluster in
// cluster_state:fail for good.
// When a wait fails, its error describes every node (cluster state, CLUSTER
// NODES, log tail) and the cluster's directory is kept. Roles are always asked from the servers: after a
// failover the node that was a primary is a replica, and Primaries and
// Replicas say so.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// Errors returned by the helpers; test them with errors.Is.
var (
	// ErrServerNotFound means redis-server or redis-cli could not be found.
	ErrServerNotFound = errors.New("clustertest: redis-server or redis-cli not found")
	// ErrNodeDown means the node is killed, paused or removed and cannot
	// take the requested action.
	ErrNodeDown = errors.New("clustertest: node is not running")
	// ErrStopped means the Cluster has been stopped.
	ErrStopped = errors.New("clustertest: cluster stopped")
	// ErrNotManaged means the node does not belong to this Cluster.
	ErrNotManaged = errors.New("clustertest: node not managed by this cluster")
	// ErrNoMigration means the slot is not being migrated.
	ErrNoMigration = errors.New("clustertest: slot is not migrating")
	// ErrNodeDied means a node's process exited although nobody killed
	// it (a crash, or a signal from outside).
	ErrNodeDied = errors.New("clustertest: node exited unexpectedly")
	// ErrNotHealthy means a wait for a healthy cluster ran out of time; the
	// error text says what was still wrong.
	ErrNotHealthy = errors.New("clustertest: cluster not healthy")
)

// Options configures Start. The zero value is a 3-primary cluster without
// replicas.
type Options struct {
	// Primaries is the number of primaries (default 3). With fewer than 3
	// the cluster is built by hand, as redis-cli refuses to.
	Primaries int
	// Replicas is the number of replicas per primary (default 0).
	Replicas int
	// NodeTimeout is cluster-node-timeout (default 1500ms).
	NodeTimeout time.Duration
	// ServerBin is the redis-server binary. Default: $REDIS_SERVER, else
	// "redis-server" looked up on PATH.
	ServerBin string
	// CLIBin is the redis-cli binary. Default: $REDIS_CLI, else "redis-cli"
	// looked up on PATH.
	CLIBin string
	// ExtraConfig holds extra redis.conf lines appended to every node's
	// configuration (for example "cluster-allow-replica-migration no");
	// being last, they override the defaults.
	ExtraConfig []string
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
	// WaitTimeout bounds every wait of the helpers (a node starting, the
	// cluster becoming healthy, a failover) when the caller's context has
	// no deadline (default 60s).
	WaitTimeout time.Duration
	// KeepDir keeps the temporary directory (configurations, server logs,
	// nodes.conf) after Stop. The environment variable CLUSTERTEST_KEEP=1
	// has the same effect. Without it the directory is still kept when a
	// wait of the helpers failed (the error names the directory), so that
	// the full server logs of a failure survive the test.
	KeepDir bool
}

func (o Options) withDefaults() Options {
	if o.Primaries <= 0 {
		o.Primaries = 3
	}
	if o.Replicas < 0 {
		o.Replicas = 0
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 1500 * time.Millisecond
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 60 * time.Second
	}
	if os.Getenv("CLUSTERTEST_KEEP") == "1" {
		o.KeepDir = true
	}
	return o
}

type nodeState int

const (
	stateRunning nodeState = iota
	stateKilled
	statePaused
	stateRemoved
)

// String names the state for messages.
func (s nodeState) String() string {
	switch s {
	case stateRunning:
		return "running"
	case stateKilled:
		return "killed"
	case statePaused:
		return "paused"
	case stateRemoved:
		return "removed"
	}
	return "unknown"
}

// Node is one redis-server process of a Cluster. ID, Addr, Port and Dir do
// not change for the life of the node (a restart keeps them).
type Node struct {
	// ID is the cluster node ID (CLUSTER MYID).
	ID string
	// Addr is "127.0.0.1:port".
	Addr string
	// Port is the client port; the cluster bus is Port+10000.
	Port int
	// Dir is the node's working directory: redis.conf, redis.log,
	// nodes.conf.
	Dir string

	mu         sync.Mutex
	proc       *proc
	state      nodeState
	lastSlots  []uint16  // slots owned when last seen before Kill or Pause
	wasReplica bool      // a replica when its role was last seen
	promotedAt time.Time // when it was first seen a primary after being a replica
}

// PID returns the process id of the node's redis-server, or 0 when it is
// not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.state == stateKilled || n.state == stateRemoved {
		return 0
	}
	return n.proc.pid
}

// ConfigPath returns the path of the node's redis.conf.
func (n *Node) ConfigPath() string { return n.Dir + "/redis.conf" }

// LogPath returns the path of the node's server log.
func (n *Node) LogPath() string { return n.Dir + "/redis.log" }

// String returns the address and a short form of the ID.
func (n *Node) String() string {
	if n == nil {
		return "<nil node>"
	}
	id := n.ID
	if len(id) > 8 {
		id = id[:8]
	}
	return n.Addr + "/" + id
}

func (n *Node) getState() nodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// Cluster is a running local Redis Cluster. Its methods are safe for
// concurrent use, but the helpers that change the cluster should not be run
// concurrently with each other.
type Cluster struct {
	opts      Options
	serverBin string
	cliBin    string
	dir       string

	mu      sync.Mutex
	nodes   []*Node // managed nodes, in creation order, removed ones excluded
	removed []*Node
	ports   map[int]bool // ports in use by this cluster
	clients map[*Node]rueidis.Client
	dials   sync.WaitGroup // connections being opened
	stopped bool
	failed  bool // a wait failed: Stop keeps dir
}

// Dir returns the temporary directory that holds the nodes' directories.
func (c *Cluster) Dir() string { return c.dir }

// Options returns the options the cluster was started with, defaults
// filled in.
func (c *Cluster) Options() Options { return c.opts }

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf("clustertest: "+format, args...)
	}
}

// withWait bounds ctx by Options.WaitTimeout when it has no deadline.
func (c *Cluster) withWait(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.WaitTimeout)
}

func lookBin(explicit, env, def string) (string, error) {
	name := explicit
	if name == "" {
		name = os.Getenv(env)
	}
	if name == "" {
		name = def
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrServerNotFound, name, err)
	}
	return p, nil
}

// Start starts a cluster of Options.Primaries primaries with
// Options.Replicas replicas each, and returns when it is healthy (see
// WaitHealthy). On error everything it started is stopped again. The error
// wraps ErrServerNotFound when the binaries are missing.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts = opts.withDefaults()
	server, err := lookBin(opts.ServerBin, "REDIS_SERVER", "redis-server")
	if err != nil {
		return nil, err
	}
	cli, err := lookBin(opts.CLIBin, "REDIS_CLI", "redis-cli")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "clustertest-*")
	if err != nil {
		return nil, fmt.Errorf("clustertest: %w", err)
	}
	c := &Cluster{
		opts:      opts,
		serverBin: server,
		cliBin:    cli,
		dir:       dir,
		ports:     map[int]bool{},
		clients:   map[*Node]rueidis.Client{},
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	ctx, cancel := c.withWait(ctx)
	defer cancel()
	begin := time.Now()

	total := opts.Primaries * (1 + opts.Replicas)
	nodes := make([]*Node, total)
	errs := make([]error, total)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = c.spawnNode(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Nodes() lists the nodes in the order given to redis-cli: primaries
	// first.
	c.mu.Lock()
	c.nodes = slices.Clone(nodes)
	c.mu.Unlock()
	c.logf("%d nodes up in %v", total, time.Since(begin).Round(time.Millisecond))

	if opts.Primaries >= 3 {
		err = c.createWithCLI(ctx, nodes)
	} else {
		err = c.createByHand(ctx, nodes)
	}
	if err != nil {
		return nil, err
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return nil, err // WaitHealthy's error describes every node
	}
	c.logf("cluster %dx%d healthy in %v (dir %s)", opts.Primaries, opts.Replicas, time.Since(begin).Round(time.Millisecond), dir)
	return c, nil
}

func (c *Cluster) createWithCLI(ctx context.Context, nodes []*Node) error {
	args := []string{"--cluster", "create"}
	for _, n := range nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(c.opts.Replicas), "--cluster-yes")
	// redis-cli waits for the join without a limit; bound it.
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	out, err := runCommand(cctx, c.cliBin, args, c.dir, c.checkAlive)
	if err != nil {
		var lines []string
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Trim(l, ".") != "" {
				lines = append(lines, l)
			}
		}
		return fmt.Errorf("clustertest: redis-cli --cluster create: %w\n%s%s", err, tail(strings.Join(lines, "\n"), 20), c.diagnose(ctx))
	}
	return nil
}

// createTimeout bounds redis-cli --cluster create.
const createTimeout = 30 * time.Second

// diagnose describes every node for errors: pid and state, its cluster
// state and slot counts (CLUSTER INFO), its CLUSTER NODES (flags such as
// fail?, fail, handshake, noaddr), its bus links when its state is not ok
// (CLUSTER LINKS) and the tail of its server log. It marks the cluster as
// failed, so that Stop keeps its directory. It is only called on
// failure; each query is bounded by a second, even when ctx has ended.
func (c *Cluster) diagnose(ctx context.Context) string {
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n(the directory %s, with every node's full redis.log, is kept after Stop)", c.dir)
	for _, n := range c.Nodes() {
		exited := ""
		n.mu.Lock()
		if n.proc != nil && n.proc.exited() {
			exited = fmt.Sprintf(" (process exited: %v)", n.proc.err)
		}
		n.mu.Unlock()
		fmt.Fprintf(&b, "\n--- %s pid %d %v%s ---\n", n, n.PID(), n.getState(), exited)
		if n.getState() == stateRunning {
			qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			info, ok := c.clusterInfoSummary(qctx, n)
			b.WriteString(info)
			b.WriteString("\n")
			s, err := c.doString(qctx, n, "CLUSTER", "NODES")
			if err != nil {
				s = err.Error()
			}
			b.WriteString(strings.TrimSpace(s))
			b.WriteString("\n")
			if !ok {
				// Which of its links carry traffic, for a node whose
				// view is not ok.
				b.WriteString(c.linksSummary(qctx, n))
			}
			cancel()
		}
		fmt.Fprintf(&b, "--- log tail of %s (%s) ---\n", n, n.LogPath())
		b.WriteString(n.LogTail(diagnoseLogLines))
		b.WriteString("\n")
	}
	return b.String()
}

// clusterInfoSummary returns the CLUSTER INFO fields of n that tell why a
// node says cluster_state:fail, on one line: an unassigned slot
// (slots_assigned), a failing owner (slots_fail) or a node that sees itself
// in a minority (slots_pfail, cluster_size); and whether its state is ok.
func (c *Cluster) clusterInfoSummary(ctx context.Context, n *Node) (string, bool) {
	s, err := c.doString(ctx, n, "CLUSTER", "INFO")
	if err != nil {
		return err.Error(), false
	}
	fields := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	var parts []string
	for _, k := range []string{"cluster_state", "cluster_slots_assigned", "cluster_slots_ok",
		"cluster_slots_pfail", "cluster_slots_fail", "cluster_known_nodes", "cluster_size",
		"cluster_current_epoch", "cluster_my_epoch"} {
		parts = append(parts, k+":"+fields[k])
	}
	return strings.Join(parts, " "), fields["cluster_state"] == "ok"
}

// linksSummary describes n's cluster bus links (CLUSTER LINKS): direction,
// peer, age, event handlers and unsent bytes.
func (c *Cluster) linksSummary(ctx context.Context, n *Node) string {
	m, err := c.Do(ctx, n, "CLUSTER", "LINKS")
	if err != nil {
		return "CLUSTER LINKS: " + err.Error() + "\n"
	}
	links, err := m.ToArray()
	if err != nil {
		return "CLUSTER LINKS: " + err.Error() + "\n"
	}
	var b strings.Builder
	now := time.Now().UnixMilli()
	for _, l := range links {
		f, err := l.AsMap()
		if err != nil {
			fmt.Fprintf(&b, "link: %v\n", err)
			continue
		}
		str := func(k string) string { m := f[k]; v, _ := m.ToString(); return v }
		num := func(k string) int64 { m := f[k]; v, _ := m.AsInt64(); return v }
		node := str("node")
		if len(node) > 8 {
			node = node[:8]
		}
		fmt.Fprintf(&b, "link %-4s %s age=%dms events=%q unsent=%d\n", str("direction"), node,
			now-num("create-time"), str("events"), num("send-buffer-used"))
	}
	return b.String()
}

// diagnoseLogLines is the number of server log lines per node in diagnose.
const diagnoseLogLines = 15

// createByHand builds a cluster the way redis-cli does, for fewer than 3
// primaries: slots, config epochs, MEET, REPLICATE.
func (c *Cluster) createByHand(ctx context.Context, nodes []*Node) error {
	p := c.opts.Primaries
	for i := 0; i < p; i++ {
		lo, hi := i*NumSlots/p, (i+1)*NumSlots/p-1
		if _, err := c.Do(ctx, nodes[i], "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return fmt.Errorf("clustertest: ADDSLOTSRANGE on %s: %w", nodes[i], err)
		}
	}
	for i, n := range nodes {
		if _, err := c.Do(ctx, n, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return fmt.Errorf("clustertest: SET-CONFIG-EPOCH on %s: %w", n, err)
		}
	}
	for _, n := range nodes[1:] {
		if err := c.meet(ctx, n, nodes[0]); err != nil {
			return err
		}
	}
	for i, n := range nodes[p:] {
		if err := c.replicate(ctx, n, nodes[i%p]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) meet(ctx context.Context, n, other *Node) error {
	_, err := c.Do(ctx, n, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(other.Port), strconv.Itoa(other.Port+10000))
	if err != nil {
		return fmt.Errorf("clustertest: CLUSTER MEET %s -> %s: %w", n, other, err)
	}
	return nil
}

// replicate waits until n knows primary, then makes it a replica of it.
func (c *Cluster) replicate(ctx context.Context, n, primary *Node) error {
	var last error
	for {
		_, err := c.Do(ctx, n, "CLUSTER", "REPLICATE", primary.ID)
		if err == nil {
			return nil
		}
		last = err
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("clustertest: CLUSTER REPLICATE %s on %s: %w (last error: %v)", primary, n, err, last)
		}
	}
}

// Stop stops exactly the processes the cluster started (SIGKILL by pid,
// reaped), closes every connection, and removes the temporary directory
// unless Options.KeepDir or a wait of the helpers failed. It can be called
// more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	clients := c.clients
	c.clients = map[*Node]rueidis.Client{}
	keep := c.opts.KeepDir || c.failed
	nodes := append(append([]*Node(nil), c.nodes...), c.removed...)
	c.mu.Unlock()

	for _, cl := range clients {
		cl.Close()
	}
	var errs []error
	for _, n := range nodes {
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p != nil {
			if err := p.kill(); err != nil {
				errs = append(errs, fmt.Errorf("clustertest: stop %s: %w", n, err))
			}
		}
	}
	// Dials still running see stopped and close what they opened.
	c.dials.Wait()
	if keep {
		c.logf("kept %s", c.dir)
	} else if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("clustertest: %w", err))
	}
	return errors.Join(errs...)
}

// Nodes returns every node the cluster manages: those started by Start and
// AddNode, killed and paused ones included, removed ones excluded.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// liveNodes returns the running (not killed, paused or removed) nodes.
func (c *Cluster) liveNodes() []*Node {
	var live []*Node
	for _, n := range c.Nodes() {
		if n.getState() == stateRunning {
			live = append(live, n)
		}
	}
	return live
}

// NodeByID returns the managed node with that ID, or nil.
func (c *Cluster) NodeByID(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// NodeByAddr returns the managed node with that address, or nil.
func (c *Cluster) NodeByAddr(addr string) *Node {
	for _, n := range c.Nodes() {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Addrs returns the addresses of the running nodes, a convenient seed list
// for clients.
func (c *Cluster) Addrs() []string {
	var addrs []string
	for _, n := range c.liveNodes() {
		addrs = append(addrs, n.Addr)
	}
	return addrs
}

// client returns n's connection, opening it on first use. Opening honours
// ctx; a dial abandoned because of ctx finishes in the background and is
// waited for by Stop.
func (c *Cluster) client(ctx context.Context, n *Node) (rueidis.Client, error) {
	if n == nil {
		return nil, fmt.Errorf("%w: nil node", ErrNotManaged)
	}
	if st := n.getState(); st == stateKilled || st == stateRemoved {
		return nil, fmt.Errorf("%w: %s is %v", ErrNodeDown, n, st)
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil, ErrStopped
	}
	if cl, ok := c.clients[n]; ok {
		c.mu.Unlock()
		return cl, nil
	}
	c.dials.Add(1)
	c.mu.Unlock()

	type result struct {
		cl  rueidis.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer c.dials.Done()
		cl, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress:       []string{n.Addr},
			ForceSingleClient: true,
			DisableCache:      true,
			DisableRetry:      true,
		})
		if err != nil {
			done <- result{err: fmt.Errorf("clustertest: connect %s: %w", n, err)}
			return
		}
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			cl.Close()
			done <- result{err: ErrStopped}
			return
		}
		if old, ok := c.clients[n]; ok {
			c.mu.Unlock()
			cl.Close()
			done <- result{cl: old}
			return
		}
		c.clients[n] = cl
		c.mu.Unlock()
		done <- result{cl: cl}
	}()
	select {
	case r := <-done:
		return r.cl, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("clustertest: connect %s: %w", n, ctx.Err())
	}
}

func (c *Cluster) closeClient(n *Node) {
	c.mu.Lock()
	cl, ok := c.clients[n]
	delete(c.clients, n)
	c.mu.Unlock()
	if ok {
		cl.Close()
	}
}

// Do sends one command to one node and returns its reply. A reply that is
// a Redis error is returned as the error as well (a *rueidis.RedisError,
// use rueidis.IsRedisErr). The connection is opened on first use and
// reused; it does not follow redirections. Each node has one pipelined
// connection, so a blocking command (BLPOP ...) holds it and must end
// within rueidis' default ConnWriteTimeout (10s).
func (c *Cluster) Do(ctx context.Context, n *Node, args ...string) (rueidis.RedisMessage, error) {
	if len(args) == 0 || args[0] == "" {
		return rueidis.RedisMessage{}, errors.New("clustertest: Do: no command")
	}
	if strings.HasSuffix(strings.ToUpper(args[0]), "SUBSCRIBE") {
		return rueidis.RedisMessage{}, errors.New("clustertest: Do: subscribe commands are not supported")
	}
	cl, err := c.client(ctx, n)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	return cl.Do(ctx, cl.B().Arbitrary(args...).Build()).ToMessage()
}

// doString is Do for commands with a string reply.
func (c *Cluster) doString(ctx context.Context, n *Node, args ...string) (string, error) {
	m, err := c.Do(ctx, n, args...)
	if err != nil {
		return "", fmt.Errorf("clustertest: %s on %s: %w", strings.Join(args, " "), n, err)
	}
	s, err := m.ToString()
	if err != nil {
		return "", fmt.Errorf("clustertest: %s on %s: %w", strings.Join(args, " "), n, err)
	}
	// RESP3 verbatim strings (CLUSTER NODES, CLUSTER INFO, INFO) arrive
	// with their "txt:" format prefix; none of our replies starts with it
	// otherwise.
	return strings.TrimPrefix(s, "txt:"), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sortNodesByPort(ns []*Node) {
	sort.Slice(ns, func(i, j int) bool { return ns[i].Port < ns[j].Port })
}
