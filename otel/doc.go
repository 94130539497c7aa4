// Package slotrouterotel reports what a slotrouter client does with
// OpenTelemetry: one CLIENT span and one duration measurement per command,
// span events for its redirects and retries, and counters for the
// client's availability events and topology refreshes.
//
// It is a nested module (github.com/slotrouter/slotrouter/otel, with its own
// go.mod) so that the OpenTelemetry modules never enter the library's
// go.mod. The package is named slotrouterotel, not otel, so that it does not
// clash with go.opentelemetry.io/otel, which programs that use it import as
// well.
//
// # Wiring
//
// New builds an Instrumentation from a TracerProvider and a MeterProvider
// (nil: the global ones). Its Tracer goes in router.Options.Tracer, its
// Observer in router.Options.Observer and its TopologyObserver in
// router.Options.Topology.Observer; Apply does all three, keeping the
// observers and tracer already set.
//
// # Spans
//
// Every Do, DoCmd and DoMulti call is one span, following the stable
// OpenTelemetry database semantic conventions and the Redis ones:
//
//   - kind CLIENT; name: the command's name as the application gave it
//     (db.operation.name, not case-normalised, as the conventions
//     recommend) when the client's command table knows the command, else
//     "_OTHER" (router.OtherCommand: names made up at run time would make
//     a metric series each), "PIPELINE" for DoMulti;
//   - db.system.name "redis" and db.operation.name, set when the span
//     starts; db.operation.batch.size for a DoMulti of 0 or 2+ commands;
//   - server.address and server.port: the node of the last attempt (the
//     node that answered, or the one that failed), set at the end; none
//     for DoMulti, whose commands may go to several nodes. In a cluster
//     the node is what is worth knowing, so it is used rather than the
//     configured seeds (the Redis conventions' server.address note assumes
//     one configured endpoint); network.peer.* would repeat it and is not
//     set;
//   - slotrouter.attempts: the attempts made (redirects included; for
//     DoMulti, those of all its commands); slotrouter.replica: true when
//     the command (for DoMulti: any of its commands) was served by a
//     replica;
//   - on failure, status Error with the error's text, error.type (below),
//     and db.response.status_code when the command ended with an error
//     reply (its prefix: "WRONGTYPE", "ERR", "NOSCRIPT"...). A DoMulti span
//     never fails: each command's error is in its Result.
//
// Attempts that do not end the command (for DoMulti: one of its
// commands) are span events, timed at the end of the attempt, with
// slotrouter.attempt (its number) and the server.address and server.port
// of the node asked:
//
//   - "redirect": a MOVED or ASK reply was followed
//     (slotrouter.redirect.kind "MOVED" or "ASK", slotrouter.redirect.target:
//     the address it named);
//   - "retry": the command is tried again (slotrouter.retry.cause: the
//     error's retry.Kind, e.g. "TRYAGAIN", "conn");
//   - "failover_wait": the slot's primary was unreachable and the command
//     waits for a failover (slotrouter.retry.cause).
//
// # error.type
//
// error.type is, in this order: the error reply's prefix ("WRONGTYPE",
// "MOVED" when the redirect limit ran out...); "unknown_outcome" for
// router.ErrUnknownOutcome; "breaker_open" for retry.ErrOpen; "no_primary"
// for router.ErrNoPrimary (a failover wait that gave up); "timeout" for
// context.DeadlineExceeded and network timeouts; "canceled" for
// context.Canceled; "closed" for router.ErrClosed; "no_node" for
// router.ErrNoNode; "cross_slot" for router.ErrCrossSlot; "bad_command" for
// router.ErrBadCommand; "panic" for router.ErrPanic; "protocol" for
// router.ErrProtocol; else the Go type of the error (after fmt.Errorf
// wrappers, as semconv.ErrorType does), or "_OTHER" for an anonymous one
// (errors.New).
//
// # Metrics
//
// All instruments come from one Meter named
// "github.com/slotrouter/slotrouter/otel". Addresses are split into
// server.address and server.port.
//
//   - db.client.operation.duration (histogram, s): every Do, DoCmd and
//     DoMulti call, from its start to its return, with db.system.name,
//     db.operation.name, server.address, server.port (not for DoMulti)
//     and, on failure,
//     error.type and db.response.status_code. Bucket boundaries are the
//     conventions' advice: 1 ms to 10 s.
//   - slotrouter.unknown_outcomes ({command}): commands (DoMulti's
//     included) that ended with router.ErrUnknownOutcome, by
//     db.operation.name and node. Counted by the Tracer.
//   - slotrouter.redirects ({redirect}): MOVED and ASK replies followed,
//     by slotrouter.redirect.kind and the node that sent them.
//   - slotrouter.retries ({retry}): retries that are not redirects, by
//     slotrouter.retry.cause and the node that answered with the error.
//   - slotrouter.breaker.transitions ({transition}): circuit breaker
//     changes, by slotrouter.breaker.state (the new state: "closed",
//     "open", "half_open") and node.
//   - slotrouter.failover_waits ({wait}): failover waits that ended, by
//     slotrouter.outcome ("ok" when the command then succeeded, else the
//     error.type of its error).
//   - slotrouter.fallback_reads ({read}): reads sent to a replica because
//     the primary was unreachable, by the replica.
//   - slotrouter.stalls ({stall}): nodes whose calls stopped completing.
//   - slotrouter.conns_cut ({event}): connections cut after a stalled node
//     was replaced by a promotion.
//   - slotrouter.panics ({panic}): panics the client recovered.
//   - slotrouter.topology.refreshes ({refresh}): topology refresh
//     attempts, by slotrouter.refresh.cause ("initial", "trigger",
//     "periodic"...) and slotrouter.outcome ("ok", "skipped": the
//     periodic probe found nothing changed, "error").
//
// Every callback only adds to instruments and spans: none blocks, none
// calls the client.
package slotrouterotel
