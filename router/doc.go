// Package router is slotrouter's cluster smart client and slot router: it
// makes a Redis Cluster (or Valkey cluster) look like one dependable
// server.
//
// # Command table
//
// What the client knows about commands lives in package router/command,
// which does no I/O and can be used without the client: a Table knows,
// for every command, where its keys are (static for the commands of
// Redis 7.0, learned from the server's COMMAND reply for the rest:
// Table.Learn) and its flags (read-only, blocking...). Table.Slot gives a
// command's slot and refuses, before anything is sent, a command whose
// keys hash to different slots (*CrossSlotError, ErrCrossSlot). This
// package keeps the names its users had before the table moved (Table,
// Command, Flags, KeySpec, KeySlot, CrossSlotError, DefaultTable,
// CheckSlot, MaxListedKeys, ErrBadCommand, ErrUnknownCommand,
// ErrCrossSlot, ErrCommandReply) as aliases of the same types and values;
// the Flag constants are command.FlagReadOnly and so on. On top of the
// table the client decides what is its own business: a command that
// would change the state of the shared connection, or the subscribe
// family, is refused (ErrBadCommand), and Route adds the topology and the
// read policy.
//
// # Client
//
// New starts a Client over a topology.Refresher. Each node is reached
// through its own rueidis single-node client (auto-pipelined, with
// rueidis's retries off so that this package decides); replica reads go
// over connections in READONLY mode. A connection that callers share
// yields the processor once after each write, so that more commands go
// in each write system call than rueidis's own client puts there
// (Options.NoWriteYield turns it off). Do sends one command, DoMulti many
// (one pipeline per node, nodes in parallel, results in the caller's
// order; MULTI ... EXEC blocks stay together), Route tells where a
// command would go without any I/O.
//
// # Redirects and retries
//
// The client runs the loop; package retry decides:
//
//   - MOVED: the slot is patched in the topology (ApplyMoved) and the
//     command goes to the target at once. A MOVED naming the node just
//     asked makes the client dial that node again.
//   - ASK: ASKING and the command are pipelined to the target, once; the
//     topology is not changed.
//   - TRYAGAIN, LOADING, MASTERDOWN: exponential backoff with full jitter
//     (Options.Backoff), never past the context's deadline: when the next
//     delay would not fit, the last error is returned.
//   - CLUSTERDOWN, and a slot's primary that cannot be reached (its
//     breaker is open, a dial was refused, the cluster flags it failed):
//     the command waits for the primary to come back or be replaced
//     (Options.FailoverWait, default 15 s, within the context), blocking
//     while the topology is polled every PollInterval, and goes as soon
//     as a new owner appears; when the wait runs out the error is a
//     *FailoverWaitError (ErrNoPrimary). FailoverWait < 0 turns this off.
//   - READONLY: the topology is refreshed and the command retried.
//   - Connection errors feed the node's circuit breaker and trigger a
//     topology refresh. A command that surely was not sent, a read-only
//     command, or one marked idempotent (Idempotent, Cmd.Idempotent) is
//     retried; any other write fails with ErrUnknownOutcome and is never
//     sent again. Under ReadPrimary nothing is ever read from a replica;
//     the other read policies may read one (see ReadPolicy).
//   - Cancellation is read from the caller's own context: an error that
//     reads as a cancellation while the caller's context is live came
//     from another caller on the same connection and is this caller's
//     connection error. A caller's deadline is never handed to rueidis
//     as a deadline on the shared connection (its synchronous path would
//     fail the connection for everybody when it passes): such a command is
//     queued, and only its caller stops waiting.
//
// # Circuit breakers
//
// Each node has a breaker (Options.Breaker). It opens on evidence about
// the node: failed dials count one each, a broken connection counts once
// for all the callers that shared it (within Options.Breaker.Window,
// default DefaultBreakerWindow), and the cluster flagging the node as
// failed trips it. A caller's own cancellation never counts. Any reply
// from the server (WRONGTYPE, NOSCRIPT, MOVED... included) closes a
// half-open breaker. A node the cluster reports healthy again, or a
// primary replaced by a promotion, has its breaker reset.
//
// # Input and hostile nodes
//
// Every entry point validates its input before anything is sent: a nil
// context, an empty command, the subscribe family (which needs a
// connection of its own) and commands that would change the state of the
// shared connection (MONITOR, QUIT, RESET, HELLO, AUTH, READONLY,
// READWRITE, CLIENT REPLY, CLIENT TRACKING) fail with an error wrapping
// ErrBadCommand. Every connection is guarded (Options.ReplyLimits): a node
// that announces a reply longer, larger or deeper than the limits, or
// sends a reply nobody asked for, has its connection closed with an error
// wrapping ErrProtocol instead of crashing the process inside rueidis.
// A panic in a goroutine the client started (a DoMulti pipeline, a
// DoPrimaries call, a dial) fails the command or node it served with an
// error wrapping ErrPanic, reported to a PanicObserver. So does a panic
// in the caller's code that rueidis's reader goroutine or the topology
// refresher runs: a dedicated connection's pub/sub hooks (they end with
// it), Receive's subscription hook (Receive returns it), a cache store
// of NewCacheStoreFn (the cached calls in progress fail with it; the
// store is not used again), an invalidation callback, the Logger and the
// topology Observer (the client's own work on a refresh is done first,
// whatever they do).
//
// Hops (MOVED/ASK, default 16) and attempts (default 5) are bounded
// (Options.Limits); when a limit is reached the error is a
// *retry.ExhaustedError wrapping the last server error. An optional
// retry budget (Options.RetryBudget) caps retries to a fraction of the
// traffic. An Observer sees every redirect and retry; Counters counts
// them.
//
// # Reads from replicas
//
// Under ReadPolicy PreferReplica, read-only commands (the server's
// "readonly" flag) go to a random online replica of the slot's shard, over
// a connection put in READONLY mode as soon as it is dialed (rueidis
// refuses ClientOption.ReplicaOnly for a single-node client). Writes, and
// MULTI blocks, always go to the primary. Replica reads may be stale.
//
// # Client-side caching
//
// With Options.ClientSideCaching (or a ClientOption without DisableCache
// given to RueidisBuilder), the connections to the primaries run RESP3
// CLIENT TRACKING (OPTIN unless ClientOption.ClientTrackingOptions says
// otherwise) and DoCache/DoMultiCache of the rueidis face answer from the
// cache of the slot's primary's connection, which the node invalidates
// when a key changes. Each connection's store (a byte-bounded LRU, or
// the user's ClientOption.NewCacheStoreFn, wrapped) indexes its keys by
// slot: when a refresh shows that a node no longer serves a slot (a
// reshard, a failover), when the node answers MOVED for it, or when a
// reply arrives after the slot moved, the node's entries of that slot are
// dropped; a dropped connection takes its whole store with it. Each drop
// is reported as EventCacheDropped. A reply that is not the slot's
// primary's own (MOVED, ASK during a migration, TRYAGAIN, CLUSTERDOWN, a
// connection error) is read again through Do's loop and returned
// uncached. Replicas are never used for cached reads.
//
// # Transactions
//
// The rueidis face's Dedicated and Dedicate (Client.Rueidis) give a
// connection of its own for WATCH, MULTI, EXEC, DISCARD and UNWATCH
// (which Do refuses on the shared connections), blocking commands and
// pub/sub hooks; rueidiscompat's go-redis Watch(fn) runs on it. As in
// rueidis's cluster client it is pinned lazily, to the primary of the
// first keyed command's slot (a keyless command sent first pins a random
// primary, whose slots only are then allowed), and is the node's own
// rueidis dedicated connection. Every later command is checked with the
// slot table before it is sent: a key of another slot is an error
// wrapping ErrPinned and a *CrossSlotError, never a panic (rueidis panics
// there). Nothing on it is redirected or retried: a MOVED or ASK reply
// (the slot moved between WATCH and EXEC) is returned as it is, because a
// transaction cannot be replayed elsewhere behind the caller's back, and
// triggers a topology refresh so that the caller's retry (a new
// Dedicated) finds the new owner; a connection error is returned too. A
// WATCH or MULTI left open is ended (UNWATCH, DISCARD) when the
// connection is given back. Calls after that fail with
// ErrDedicatedRecycled; the Client's Close closes the dedicated
// connections not given back.
//
// # Pub/sub
//
// Do refuses the subscribe family; the rueidis face (Client.Rueidis) has
// Receive, with rueidis's semantics: it calls fn for each message and
// returns nil when the subscription ends by an unsubscribe, an error that
// is rueidis.ErrClosing (and ErrClosed) when the client is closed,
// ctx.Err() when ctx ends, and the error when the subscription failed.
// SUBSCRIBE and PSUBSCRIBE go to a reachable primary (classic pub/sub is
// cluster-wide), SSUBSCRIBE to the primary of its channels' slot (the
// channels must share one: *CrossSlotError). The face's Do sends
// UNSUBSCRIBE and PUNSUBSCRIBE to every connected primary and
// SUNSUBSCRIBE to its channels' slot's primary, where Receive subscribed;
// SPUBLISH is routed by its channel, and so is PUBLISH (any node takes
// it and the cluster bus forwards it, but one node per channel keeps one
// publisher's messages in order; another primary when that one is
// unreachable). Beyond rueidis, a subscription
// follows its node: a dropped connection (a node killed, failed over,
// gone), and for SSUBSCRIBE a slot that moved — the server's own
// SUNSUBSCRIBE after a reshard or a failover (told from the caller's own,
// which the face's Do notes, and else by asking the node whether it
// still serves the slot), a MOVED reply —
// make Receive subscribe again where the channels are served now,
// waiting for a new owner within ctx and Options.FailoverWait, without
// returning (an unsubscribe sent through the face's Do meanwhile ends it,
// nil). A frozen node's connection fails within
// Options.CommandTimeout (rueidis's keepalive), or as soon as the
// client's other traffic shows its failover (its connections are cut).
// Once the server confirms the new subscription an EventResubscribed (new node, slot, cause) is reported: every message
// published after it is delivered; messages published while no node
// held the subscription are lost, as pub/sub's at-most-once delivery
// allows.
//
// Sharded subscriptions on a dedicated connection (Dedicate with
// SetPubSubHooks, as go-redis's SSubscribe through rueidiscompat makes
// them) follow their slot with the caller's help: when the subscription
// cannot stay — the server's own SUNSUBSCRIBE (kept from the caller's
// OnSubscription, told from the caller's own SUNSUBSCRIBE by what the
// caller sent), a dropped connection, a MOVED (or other redirect or
// unavailability) reply to SSUBSCRIBE, which is then returned wrapped in
// an error that is not a *rueidis.RedisError — the topology is refreshed
// and the hooks' channel yields the error. rueidiscompat then subscribes
// again on a new dedicated connection, which is pinned only once the
// topology names another primary for the slot than the one that lost it
// (polled every PollInterval, for at most Options.FailoverWait), so a
// dropped primary's new connection goes to the promoted replica, not the
// dead node, and rueidiscompat's immediate retries are paced.
// EventResubscribed is reported when the new SSUBSCRIBE is confirmed and
// the caller's hooks are set on it, whichever is last (rueidiscompat sets
// them after subscribing); every message published after it is
// delivered.
//
// # Node-level commands
//
// DoPrimaries sends a command to every primary (DBSIZE, INFO, SCRIPT
// LOAD...); DBSize, Scan and FlushAll are built on it. Node gives the
// rueidis client of one node.
//
// # Multi-shard commands (command tips)
//
// Redis 7 tells cluster clients, through the request_policy and
// response_policy tips of COMMAND (command.Tips: static for Redis 7.0,
// learned for the rest), how to run a command that does not fit one
// shard. Do, DoCmd, DoMulti and the rueidis face follow them:
//
//   - A command whose keys hash to different slots and whose
//     request_policy is multi_shard (MGET, MSET, DEL, UNLINK, EXISTS,
//     TOUCH, and learned ones such as JSON.MGET) is split per slot, each
//     key with its arguments (MSET's values) and the arguments before and
//     after the keys repeated in every part. The parts go as one DoMulti
//     batch (each follows its own redirects and retries) and the replies
//     are merged by the response policy: in the caller's key order for
//     the default (MGET, duplicates included), summed for agg_sum (DEL,
//     EXISTS...), OK only when every part said OK for all_succeeded
//     (MSET). A split command is not atomic across slots. When a part
//     fails there is no partial answer: the error is a *MultiShardError
//     (ErrMultiShard) that names the failed parts' keys and wraps their
//     errors (errors.Is(err, ErrUnknownOutcome) for a write part whose
//     outcome is unknown; the other parts were executed). The caller's
//     rueidis command is never sent as it is: the parts are built from
//     its arguments.
//   - MSETNX (multi_shard, agg_min) is not split — split, it would no
//     longer set all its keys or none — and keeps the *CrossSlotError, as
//     does every cross-slot command without a multi_shard tip (SUNION,
//     RENAME...) or whose key layout cannot be cut per key.
//   - A command without keys whose request_policy is all_shards (DBSIZE,
//     KEYS, FLUSHALL, FLUSHDB, WAIT, SCRIPT EXISTS and KILL, FUNCTION
//     LOAD, DELETE, FLUSH, RESTORE and KILL, MEMORY PURGE) goes to every
//     primary that serves slots, all_nodes (CONFIG SET, SCRIPT LOAD and
//     FLUSH, SLOWLOG, LATENCY RESET) to every primary and every replica
//     the cluster does not flag failed, in parallel over DoPrimaries'
//     machinery (one attempt per node, no redirects), over the plain
//     connection of each node. The replies are merged by the response
//     policy: agg_sum, agg_min, agg_max, agg_logical_and/or (element by
//     element for arrays: SCRIPT EXISTS), all_succeeded (the first reply
//     when all succeeded), one_succeeded (the first success: SCRIPT
//     KILL); none (KEYS, SLOWLOG GET): arrays concatenated, else the first
//     reply. A node that fails fails the command with a *MultiShardError
//     naming it (except under one_succeeded).
//   - Left to one primary, as before: PING (all_shards in Redis 7.0, but
//     a probe of the client's reach: rueidis and go-redis send it to one
//     node, and a fan-out would fail it whenever one shard is down),
//     RANDOMKEY (no merge of per-shard replies gives a uniformly random
//     key), and every command whose response_policy is special (INFO,
//     MEMORY STATS and DOCTOR, LATENCY DOCTOR..., FUNCTION STATS): their
//     per-node reports are what DoPrimaries returns. SCAN (request_policy
//     special) is Client.Scan's business.
//
// Options.StrictCrossSlot refuses every cross-slot command with a
// *CrossSlotError, as Redis Cluster does, and splits nothing. It does not
// change the fan-out of keyless commands, which are never cross-slot.
// Route, which does no I/O, always reports a cross-slot command's
// *CrossSlotError.
package router
