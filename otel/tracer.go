package slotrouterotel

import (
	"context"
	"net"
	"strconv"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
)

// Attribute keys of this package (the others are the semantic
// conventions').
const (
	attemptKey        = attribute.Key("slotrouter.attempt")
	attemptsKey       = attribute.Key("slotrouter.attempts")
	replicaKey        = attribute.Key("slotrouter.replica")
	redirectKindKey   = attribute.Key("slotrouter.redirect.kind")
	redirectTargetKey = attribute.Key("slotrouter.redirect.target")
	retryCauseKey     = attribute.Key("slotrouter.retry.cause")
	breakerStateKey   = attribute.Key("slotrouter.breaker.state")
	outcomeKey        = attribute.Key("slotrouter.outcome")
	refreshCauseKey   = attribute.Key("slotrouter.refresh.cause")
)

// pipelineName is the command name the router gives a DoMulti batch.
const pipelineName = "PIPELINE"

// tracer is the router.Tracer of an Instrumentation.
type tracer Instrumentation

var _ router.Tracer = (*tracer)(nil)

// StartCommand starts the command's CLIENT span.
func (t *tracer) StartCommand(ctx context.Context, c router.CommandStart) context.Context {
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.DBSystemNameRedis, semconv.DBOperationName(c.Name))
	if c.Name == pipelineName && c.Batch != 1 {
		attrs = append(attrs, semconv.DBOperationBatchSize(c.Batch))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if !c.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(c.Start))
	}
	name := c.Name
	if name == "" {
		name = "redis" // db.system.name, the conventions' last resort
	}
	ctx, span := t.tracer.Start(ctx, name, opts...)
	if !span.IsRecording() {
		// Nothing to add to it, and End does nothing.
		return ctx
	}
	// Kept under a key of ours too, so that EndAttempt and EndCommand
	// touch only this span, never one of the caller's (or of another
	// Tracer started after this one).
	return context.WithValue(ctx, spanKey{}, span)
}

// spanKey is the context key of the command's span.
type spanKey struct{}

// commandSpan returns the span StartCommand started (nil when there is
// none).
func commandSpan(ctx context.Context) trace.Span {
	span, _ := ctx.Value(spanKey{}).(trace.Span)
	return span
}

// EndAttempt adds a span event for an attempt that did not end the
// command (redirect, retry, failover wait), records whether a replica
// served the last one, and counts unknown outcomes.
func (t *tracer) EndAttempt(ctx context.Context, a router.Attempt) {
	if a.Outcome == router.OutcomeUnknown && t.unknownOutcomes.Enabled(ctx) {
		// Counted per attempt, not per call: DoMulti's commands end
		// with their own errors, which EndCommand does not see.
		attrs := appendAddr([]attribute.KeyValue{semconv.DBOperationName(a.Name)}, a.Addr)
		t.unknownOutcomes.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
	span := commandSpan(ctx)
	if span == nil || !span.IsRecording() {
		return
	}
	var name string
	attrs := make([]attribute.KeyValue, 0, 5)
	switch a.Outcome {
	case router.OutcomeRedirect:
		name = "redirect"
		attrs = append(attrs, redirectKindKey.String(kindName(a.Kind)))
		if target := redirectTarget(a.Err); target != "" {
			attrs = append(attrs, redirectTargetKey.String(target))
		}
	case router.OutcomeRetry:
		name = "retry"
		attrs = append(attrs, retryCauseKey.String(kindName(a.Kind)))
	case router.OutcomeWait:
		name = "failover_wait"
		attrs = append(attrs, retryCauseKey.String(kindName(a.Kind)))
	default:
		if a.Replica {
			span.SetAttributes(replicaKey.Bool(true))
		}
		return
	}
	attrs = append(attrs, attemptKey.Int(a.Number))
	attrs = appendAddr(attrs, a.Addr)
	opts := []trace.EventOption{trace.WithAttributes(attrs...)}
	if !a.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(a.Start.Add(a.Duration)))
	}
	span.AddEvent(name, opts...)
}

// EndCommand ends the span, and records the command's duration.
func (t *tracer) EndCommand(ctx context.Context, e router.CommandEnd) {
	span := commandSpan(ctx)
	measure := t.duration.Enabled(ctx)
	if span == nil && !measure {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, semconv.DBSystemNameRedis, semconv.DBOperationName(e.Name))
	attrs = appendAddr(attrs, e.Addr)
	err := e.Err
	if rueidis.IsRedisNil(err) {
		err = nil // a nil reply is a reply
	}
	if err != nil {
		errType, status := errorType(err)
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		if status != "" {
			attrs = append(attrs, semconv.DBResponseStatusCode(status))
		}
	}
	if measure {
		t.duration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(attrs...))
	}
	if span == nil {
		return
	}
	// attrs[0] and [1] were set when the span started.
	attrs = append(attrs[2:], attemptsKey.Int(e.Attempts))
	span.SetAttributes(attrs...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// appendAddr appends server.address and server.port of "host:port".
func appendAddr(attrs []attribute.KeyValue, addr string) []attribute.KeyValue {
	if addr == "" {
		return attrs
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return append(attrs, semconv.ServerAddress(addr))
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// kindName names a retry.Kind: the reply's prefix for server replies
// ("MOVED", "TRYAGAIN"), "conn", "canceled" or "other" for the rest.
func kindName(k retry.Kind) string {
	switch k {
	case retry.KindNone:
		return "none"
	case retry.KindConn:
		return "conn"
	case retry.KindCanceled:
		return "canceled"
	case retry.KindOther:
		return "other"
	}
	return k.String()
}
