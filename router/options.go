package router

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/wire"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/topology"
)

// Defaults of Options.
const (
	// DefaultDialTimeout bounds dialing a node and its handshake.
	DefaultDialTimeout = 5 * time.Second
	// DefaultFailoverWait is the default Options.FailoverWait: Redis's
	// default cluster-node-timeout.
	DefaultFailoverWait = 15 * time.Second
	// DefaultStallTimeout is the default Options.StallTimeout.
	DefaultStallTimeout = time.Second
	// PollInterval is how often the topology is refreshed while a command
	// waits for a failover, or a node's calls have stalled.
	PollInterval = 150 * time.Millisecond
)

// Options configures New. The zero value of every field means its
// default; only Seeds is required.
type Options struct {
	// Seeds are "host:port" addresses of some cluster nodes, asked for the
	// topology at start and whenever no known node answers.
	Seeds []string

	// Username and Password authenticate every connection (AUTH / HELLO
	// AUTH). Empty means no authentication.
	Username string
	Password string

	// TLSConfig, when not nil, makes every connection use TLS.
	TLSConfig *tls.Config

	// DialTimeout bounds dialing a node, handshake included (default
	// DefaultDialTimeout).
	DialTimeout time.Duration

	// CommandTimeout is rueidis's ConnWriteTimeout: the read/write deadline
	// of each connection, which detects an unresponsive node (default:
	// rueidis's default). It does not bound blocking commands; the
	// context of each call does.
	CommandTimeout time.Duration

	// ReadPolicy chooses the node that serves read-only commands (default
	// ReadPrimary).
	ReadPolicy ReadPolicy

	// MaxReplicaLag excludes, under PreferReplica and Nearest, replicas
	// whose replication offset is more than MaxReplicaLag bytes behind
	// their primary's, as the topology last saw them (offsets come with
	// every refresh). Zero means no cap; negative is refused.
	MaxReplicaLag int64

	// FailoverWait bounds how long a command waits for its slot to have a
	// reachable primary again — the node's breaker is open, dials are
	// refused, the cluster answers CLUSTERDOWN, or the node is flagged
	// failed — before it fails (default DefaultFailoverWait, Redis's
	// default cluster-node-timeout, so that a failover on a default
	// cluster is waited out whenever the caller's deadline allows; the
	// caller's context bounds it too). Meanwhile the topology is polled
	// every PollInterval and the command goes as soon as a new owner
	// appears. A negative value turns the wait off: such commands fail
	// fast (after the retry limits).
	FailoverWait time.Duration

	// StallTimeout is how long calls to a node may go without any reply
	// (while some are in flight) before the node is suspected frozen and
	// the topology is refreshed (default DefaultStallTimeout). When the
	// refresh shows the node replaced by a promotion, its connections are
	// cut: its reads in flight are sent again to the new owner, its writes
	// in flight end with ErrUnknownOutcome. Do and DoCmd calls count
	// (not blocking commands, not DoMulti pipelines). Negative turns the
	// detector off.
	StallTimeout time.Duration

	// Limits bounds the redirect hops (default 16) and attempts (default
	// 5) of one command.
	Limits retry.Limits

	// Backoff is the exponential backoff with full jitter used after
	// TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN and connection errors.
	Backoff retry.Backoff

	// Breaker configures the circuit breaker kept for every node.
	Breaker retry.BreakerOptions

	// RetryBudget, when not nil, caps the retries (not the redirects) to a
	// fraction of recent traffic (see retry.Budget), so that retries cannot
	// multiply the load on a struggling cluster. Nil: no budget, only
	// Limits.
	RetryBudget *retry.BudgetOptions

	// MapAddr maps every address the cluster announces (topology replies,
	// MOVED and ASK targets) to the address to dial; nil dials them as
	// announced. See topology.AddrMapper. It must be fast and safe for
	// concurrent use; "" means "as announced".
	MapAddr func(announced string) string

	// Observer receives redirect and retry events (nil: none); see also
	// EventObserver and PanicObserver.
	Observer Observer

	// Tracer follows every command and attempt (nil: none): what tracing
	// and metrics integrations use (see Tracer and the otel module).
	Tracer Tracer

	// Logger, when not nil, logs topology changes (slots moved,
	// failovers, nodes added or removed) at Info, and breakers opening and
	// failover waits at Warn; nothing per command. Nil is silent. A
	// panic in it is recovered and reported to the PanicObserver.
	Logger *slog.Logger

	// Table is the command table used to find keys (default: DefaultTable,
	// extended with what the cluster's COMMAND reply says unless
	// NoLearn is set).
	Table *command.Table

	// NoLearn keeps Table as given: New does not ask a node for COMMAND.
	NoLearn bool

	// StrictCrossSlot refuses every command whose keys hash to different
	// slots with a *CrossSlotError, as Redis Cluster itself does. By
	// default the commands whose Redis command tips say a cluster client
	// may split them (request_policy multi_shard: MGET, MSET, DEL,
	// UNLINK, EXISTS, TOUCH..., never MSETNX) are split per slot and
	// their replies merged. Keyless commands whose tip is all_shards or
	// all_nodes (DBSIZE, KEYS, SCRIPT FLUSH...) go to every primary
	// (every node) with the tip's aggregation whatever this option says.
	// See "Multi-shard commands" in the package documentation.
	StrictCrossSlot bool

	// ClientSideCaching turns on server-assisted client-side caching for
	// DoCache and DoMultiCache of the rueidis face (Client.Rueidis):
	// every connection to a primary runs RESP3 CLIENT TRACKING
	// (ClientOption.ClientTrackingOptions, OnInvalidations,
	// CacheSizeEachConn and NewCacheStoreFn apply; a user's store is
	// wrapped, not replaced) and DoCache answers from the cache of the
	// slot's primary's connection. The entries of a slot are dropped when
	// the topology shows its node lost it (reshard, failover), when the
	// node answers MOVED for it, and all of a connection's when it drops
	// (EventCacheDropped reports each). Replies that are not the slot
	// primary's own (MOVED, ASK, TRYAGAIN, connection errors) are read
	// again through Do's loop and returned uncached. Replicas and the
	// topology's connections are never tracked. False: DoCache and
	// DoMultiCache are Do and DoMulti. RueidisBuilder sets it from the
	// ClientOption it is given (!DisableCache).
	ClientSideCaching bool

	// ReplyLimits bounds what a node may announce in one reply (string
	// length, element count, nesting): a node that exceeds them, or sends
	// a reply nobody asked for, has its connection closed with an error
	// wrapping ErrProtocol, instead of crashing the process inside
	// rueidis. Zero fields mean the defaults (512 MiB strings, 16,777,216
	// elements, depth 1024); negative ones are refused by New.
	ReplyLimits topology.ReplyLimits

	// NoWriteYield makes every connection write as rueidis does. By
	// default, a connection that callers share (commands in flight)
	// yields the processor once after each write (runtime.Gosched), so
	// that callers whose replies just arrived queue their next commands
	// before rueidis's writer looks for more, and one write carries
	// several: rueidis flushes whenever its queue is empty, which under
	// load is about one system call per command. Measured on 2 cores:
	// 0.67 writes per command instead of 1.0 and 0.88 of rueidis's time
	// per call at 16 goroutines, 0.32 writes and 0.67 of the time at 64
	// (bench/README.md, "Twelfth run"). A caller alone on its connection
	// never yields. When a yield takes longer than a few milliseconds
	// (goroutines that do not block saturate the processors, and the
	// writer waited for its turn), that connection stops yielding for a
	// second, so that the 99th percentile latency stays within a few
	// hundredths of rueidis's (BenchmarkMixedBusyCPU). During a live
	// reshard on a machine whose cores the servers share, the share of
	// throughput kept is lower (0.77-0.85 against 0.84-0.92 without the
	// yield), at about 1.5 times the throughput during the move; a
	// yielding client that never meets the moving slots keeps the same
	// share, so that is the machine's limit, not the redirects'. Set
	// NoWriteYield where the share matters more than the throughput.
	NoWriteYield bool

	// ClientOption is the template for every rueidis connection, for
	// settings this struct does not name (ClientName, BlockingPoolSize,
	// DialCtxFn, ...). InitAddress is set per node; ForceSingleClient and
	// DisableRetry are forced on, DisableCache is !ClientSideCaching (and
	// always on for replicas and the topology's connections), and every connection is
	// guarded by ReplyLimits. (A caller's deadline is never handed to
	// rueidis as a deadline on the shared connection: see Do.) Username, Password,
	// TLSConfig, DialTimeout and CommandTimeout above override it when set.
	// Two kinds of connection carry little and get smaller buffers and
	// rings than ReadBufferEachConn, WriteBufferEachConn and
	// RingScaleEachConn (or rueidis's defaults, 0.5 MiB, 0.5 MiB, 10)
	// give the others: the topology's (64 KiB, 4 KiB, 4), and a node's
	// connection for the reads with a deadline of a caller alone on it
	// (64 KiB, 16 KiB, 2; none with AlwaysPipelining: those reads then
	// share the pipeline); smaller values given here are kept.
	ClientOption rueidis.ClientOption

	// Topology tunes the topology refresher (MinInterval, Period,
	// NodesPerRefresh, Observer...). Seeds, ClientOption and MapAddr are
	// set from this struct.
	Topology topology.Options
}

// check refuses options that make no sense, naming the field.
func (o *Options) check() error {
	switch {
	case !o.ReadPolicy.valid():
		return fmt.Errorf("router.Options.ReadPolicy: unknown policy %d", o.ReadPolicy)
	case o.MaxReplicaLag < 0:
		return fmt.Errorf("router.Options.MaxReplicaLag: %d is negative", o.MaxReplicaLag)
	case o.DialTimeout < 0:
		return fmt.Errorf("router.Options.DialTimeout: %v is negative", o.DialTimeout)
	case o.CommandTimeout < 0:
		return fmt.Errorf("router.Options.CommandTimeout: %v is negative", o.CommandTimeout)
	case len(o.Seeds) == 0:
		return fmt.Errorf("router.Options.Seeds: %w", topology.ErrNoSeeds)
	}
	checks := []error{
		o.ReplyLimits.Check("router.Options.ReplyLimits"),
		o.Limits.Check("router.Options.Limits"),
		o.Backoff.Check("router.Options.Backoff"),
		o.Breaker.Check("router.Options.Breaker"),
		o.Topology.Check("router.Options.Topology"),
	}
	if o.RetryBudget != nil {
		checks = append(checks, o.RetryBudget.Check("router.Options.RetryBudget"))
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// clientOption returns the rueidis template with the fields of o applied.
func (o *Options) clientOption() rueidis.ClientOption {
	co := o.ClientOption
	if o.Username != "" {
		co.Username = o.Username
	}
	if o.Password != "" {
		co.Password = o.Password
	}
	if o.TLSConfig != nil {
		co.TLSConfig = o.TLSConfig
	}
	switch {
	case o.DialTimeout > 0:
		co.Dialer.Timeout = o.DialTimeout
	case co.Dialer.Timeout <= 0:
		co.Dialer.Timeout = DefaultDialTimeout
	}
	if o.CommandTimeout > 0 {
		co.ConnWriteTimeout = o.CommandTimeout
	}
	if co.PipelineMultiplex == 0 {
		// One pipeline per node, as rueidis's cluster client has by
		// default (its single-node client would open log2(GOMAXPROCS)).
		co.PipelineMultiplex = -1
	}
	co.InitAddress = nil
	if o.NoWriteYield {
		co.DialCtxFn = wire.DialerNoYield(co.DialCtxFn, o.ReplyLimits)
	} else {
		co.DialCtxFn = wire.Dialer(co.DialCtxFn, o.ReplyLimits)
	}
	co.ForceSingleClient = true
	co.DisableCache = !o.ClientSideCaching
	co.DisableRetry = true
	co.ReplicaOnly = false
	co.SendToReplicas = nil
	return co
}
