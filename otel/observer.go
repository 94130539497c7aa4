package slotrouterotel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// observer is the router.Observer of an Instrumentation. The events carry
// no context: the measurements are made with context.Background().
type observer Instrumentation

var (
	_ router.Observer      = (*observer)(nil)
	_ router.EventObserver = (*observer)(nil)
	_ router.PanicObserver = (*observer)(nil)
)

// OnRedirect counts a redirect, by kind and by the node that sent it.
func (o *observer) OnRedirect(e router.RedirectEvent) {
	if !o.redirects.Enabled(context.Background()) {
		return
	}
	attrs := appendAddr([]attribute.KeyValue{redirectKindKey.String(kindName(e.Kind))}, e.From)
	o.redirects.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

// OnRetry counts a retry, by cause and by the node that answered.
func (o *observer) OnRetry(e router.RetryEvent) {
	if !o.retries.Enabled(context.Background()) {
		return
	}
	attrs := appendAddr([]attribute.KeyValue{retryCauseKey.String(kindName(e.Cause))}, e.Addr)
	o.retries.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}

// OnEvent counts the client's availability events.
func (o *observer) OnEvent(e router.Event) {
	ctx := context.Background()
	switch e.Kind {
	case router.EventBreaker:
		attrs := appendAddr([]attribute.KeyValue{breakerStateKey.String(stateName(e.To))}, e.Addr)
		o.breakers.Add(ctx, 1, metric.WithAttributes(attrs...))
	case router.EventFailoverWaitEnd:
		outcome := "ok"
		if e.Err != nil {
			outcome, _ = errorType(e.Err)
		}
		o.failoverWaits.Add(ctx, 1, metric.WithAttributes(outcomeKey.String(outcome)))
	case router.EventFallbackRead:
		o.fallbackReads.Add(ctx, 1, metric.WithAttributes(appendAddr(nil, e.Addr)...))
	case router.EventStall:
		o.stalls.Add(ctx, 1, metric.WithAttributes(appendAddr(nil, e.Addr)...))
	case router.EventConnsCut:
		o.connsCut.Add(ctx, 1, metric.WithAttributes(appendAddr(nil, e.Addr)...))
	}
}

// OnPanic counts a panic the client recovered.
func (o *observer) OnPanic(e router.PanicEvent) {
	o.panics.Add(context.Background(), 1, metric.WithAttributes(appendAddr(nil, e.Addr)...))
}

// stateName names a breaker state the way metric attribute values usually
// are: "closed", "open", "half_open".
func stateName(s retry.State) string {
	switch s {
	case retry.Closed:
		return "closed"
	case retry.Open:
		return "open"
	case retry.HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// topoObserver is the topology.Observer of an Instrumentation.
type topoObserver Instrumentation

var _ topology.Observer = (*topoObserver)(nil)

// OnRefresh counts a refresh attempt, by cause and outcome.
func (o *topoObserver) OnRefresh(e topology.RefreshEvent) {
	outcome := "ok"
	switch {
	case e.Err != nil:
		outcome = "error"
	case e.Skipped:
		outcome = "skipped"
	}
	o.refreshes.Add(context.Background(), 1, metric.WithAttributes(
		refreshCauseKey.String(e.Cause.String()), outcomeKey.String(outcome)))
}
