package slotrouterotel

import (
	"context"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// teeTracer calls two tracers, a first: b starts its span from the
// context a returned, so a span of a's is the parent of b's.
type teeTracer struct{ a, b router.Tracer }

func (t teeTracer) StartCommand(ctx context.Context, c router.CommandStart) context.Context {
	if actx := t.a.StartCommand(ctx, c); actx != nil {
		ctx = actx
	}
	if bctx := t.b.StartCommand(ctx, c); bctx != nil {
		ctx = bctx
	}
	return ctx
}

func (t teeTracer) EndAttempt(ctx context.Context, a router.Attempt) {
	t.a.EndAttempt(ctx, a)
	t.b.EndAttempt(ctx, a)
}

// EndCommand ends b's span first: it was started last.
func (t teeTracer) EndCommand(ctx context.Context, e router.CommandEnd) {
	t.b.EndCommand(ctx, e)
	t.a.EndCommand(ctx, e)
}

// teeObserver calls two observers, a first; the optional interfaces are
// forwarded to those that implement them.
type teeObserver struct{ a, b router.Observer }

func (t teeObserver) OnRedirect(e router.RedirectEvent) {
	t.a.OnRedirect(e)
	t.b.OnRedirect(e)
}

func (t teeObserver) OnRetry(e router.RetryEvent) {
	t.a.OnRetry(e)
	t.b.OnRetry(e)
}

func (t teeObserver) OnEvent(e router.Event) {
	if eo, ok := t.a.(router.EventObserver); ok {
		eo.OnEvent(e)
	}
	if eo, ok := t.b.(router.EventObserver); ok {
		eo.OnEvent(e)
	}
}

func (t teeObserver) OnPanic(e router.PanicEvent) {
	if po, ok := t.a.(router.PanicObserver); ok {
		po.OnPanic(e)
	}
	if po, ok := t.b.(router.PanicObserver); ok {
		po.OnPanic(e)
	}
}

// teeTopology calls two topology observers, a first.
type teeTopology struct{ a, b topology.Observer }

func (t teeTopology) OnRefresh(e topology.RefreshEvent) {
	t.a.OnRefresh(e)
	t.b.OnRefresh(e)
}
