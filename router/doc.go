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
// over connections in READONLY mode. Do sends one command, DoMulti many
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
// error wrapping ErrPanic, reported to a PanicObserver.
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
// SPUBLISH is routed by its channel. Beyond rueidis, a subscription
// follows its node: a dropped connection (a node killed, failed over,
// gone), and for SSUBSCRIBE a slot that moved — the server's own
// SUNSUBSCRIBE after a reshard or a failover (told from the caller's own
// by asking the node whether it still serves the slot), a MOVED reply —
// make Receive subscribe again where the channels are served now,
// waiting for a new owner within ctx and Options.FailoverWait, without
// returning. A frozen node's connection fails within
// Options.CommandTimeout (rueidis's keepalive), or as soon as the
// client's other traffic shows its failover (its connections are cut). Once the server confirms the new subscription an
// EventResubscribed (new node, slot, cause) is reported: every message
// published after it is delivered; messages published while no node
// held the subscription are lost, as pub/sub's at-most-once delivery
// allows.
//
// # Node-level commands
//
// DoPrimaries sends a command to every primary (DBSIZE, INFO, SCRIPT
// LOAD...); DBSize, Scan and FlushAll are built on it. Node gives the
// rueidis client of one node.
package router
