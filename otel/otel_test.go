package slotrouterotel_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	slotrouterotel "github.com/slotrouter/slotrouter/otel"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// The tests in this file feed the instrumentation the calls the client
// makes, without a server.

// replyErr returns the error rueidis gives for the error reply msg.
func replyErr(msg string) error {
	m := mock.RedisError(msg)
	return m.Error()
}

func TestNewAndApply(t *testing.T) {
	// The zero Options use the global (no-op) providers.
	in, err := slotrouterotel.New(slotrouterotel.Options{})
	require.NoError(t, err)
	require.Error(t, in.Apply(nil))
	var zero *slotrouterotel.Instrumentation
	require.Error(t, zero.Apply(&router.Options{}))
	require.Error(t, new(slotrouterotel.Instrumentation).Apply(&router.Options{}))

	var opts router.Options
	require.NoError(t, in.Apply(&opts))
	assert.Equal(t, in.Tracer(), opts.Tracer)
	assert.Equal(t, in.Observer(), opts.Observer)
	assert.Equal(t, in.TopologyObserver(), opts.Topology.Observer)
	_, ok := opts.Observer.(router.EventObserver)
	assert.True(t, ok, "the Observer is an EventObserver")
	_, ok = opts.Observer.(router.PanicObserver)
	assert.True(t, ok, "the Observer is a PanicObserver")
}

// countingTracer is a router.Tracer that counts its calls and marks the
// context it returns.
type countingTracer struct{ starts, attempts, ends int }

type markKey struct{}

func (c *countingTracer) StartCommand(ctx context.Context, _ router.CommandStart) context.Context {
	c.starts++
	return context.WithValue(ctx, markKey{}, true)
}

func (c *countingTracer) EndAttempt(ctx context.Context, _ router.Attempt) {
	if ctx.Value(markKey{}) != nil {
		c.attempts++
	}
}

func (c *countingTracer) EndCommand(ctx context.Context, _ router.CommandEnd) {
	if ctx.Value(markKey{}) != nil {
		c.ends++
	}
}

type countingTopo struct{ n int }

func (c *countingTopo) OnRefresh(topology.RefreshEvent) { c.n++ }

// TestApplyKeepsExisting: the tracer and observers already set still get
// every call, and so does the instrumentation.
func TestApplyKeepsExisting(t *testing.T) {
	rec := newRecorder(t)
	var (
		tr       countingTracer
		counters router.Counters
		topo     countingTopo
	)
	opts := router.Options{Tracer: &tr, Observer: &counters}
	opts.Topology.Observer = &topo
	require.NoError(t, rec.Apply(&opts))

	ctx := opts.Tracer.StartCommand(context.Background(), router.CommandStart{Name: "GET", Batch: 1, Start: time.Now()})
	assert.True(t, trace.SpanFromContext(ctx).SpanContext().IsValid(), "our span is in the context")
	opts.Tracer.EndAttempt(ctx, router.Attempt{Name: "GET", Addr: "127.0.0.1:7000", Number: 1})
	opts.Tracer.EndCommand(ctx, router.CommandEnd{Name: "GET", Addr: "127.0.0.1:7000", Attempts: 1})
	assert.Equal(t, countingTracer{starts: 1, attempts: 1, ends: 1}, tr)
	assert.Len(t, rec.spansNamed("GET"), 1)

	opts.Observer.OnRedirect(router.RedirectEvent{Kind: retry.KindMoved, From: "127.0.0.1:7000", To: "127.0.0.1:7001"})
	opts.Observer.OnRetry(router.RetryEvent{Cause: retry.KindTryAgain, Addr: "127.0.0.1:7000", Attempt: 2})
	opts.Observer.(router.EventObserver).OnEvent(router.Event{Kind: router.EventStall, Addr: "127.0.0.1:7000"})
	opts.Observer.(router.PanicObserver).OnPanic(router.PanicEvent{Err: router.ErrPanic})
	moved, _, retries := counters.Total()
	assert.Equal(t, int64(1), moved)
	assert.Equal(t, int64(1), retries)
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.redirects"))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.retries"))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.stalls"))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.panics"))

	opts.Topology.Observer.OnRefresh(topology.RefreshEvent{Cause: topology.CauseTrigger})
	assert.Equal(t, 1, topo.n)
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.topology.refreshes"))
}

// TestSpanOfRedirectedCommand: a GET redirected once by MOVED, then
// answered: one CLIENT span with a "redirect" event, the node of the last
// attempt, and one duration point without error.type.
func TestSpanOfRedirectedCommand(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	start := time.Now()
	ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "GET", Slot: 866, Batch: 1, Start: start})
	tr.EndAttempt(ctx, router.Attempt{
		Name: "GET", Addr: "127.0.0.1:7000", Number: 1, Start: start, Duration: time.Millisecond,
		Outcome: router.OutcomeRedirect, Kind: retry.KindMoved, Err: replyErr("MOVED 866 127.0.0.1:7001"),
	})
	tr.EndAttempt(ctx, router.Attempt{
		Name: "GET", Addr: "127.0.0.1:7001", Replica: true, Number: 2, Start: start.Add(time.Millisecond), Duration: time.Millisecond,
	})
	tr.EndCommand(ctx, router.CommandEnd{Name: "GET", Addr: "127.0.0.1:7001", Duration: 3 * time.Millisecond, Attempts: 2})

	spans := rec.spansNamed("GET")
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, trace.SpanKindClient, s.SpanKind())
	assert.Equal(t, codes.Unset, s.Status().Code)
	assert.Equal(t, start, s.StartTime())
	a := attrs(s.Attributes())
	assert.Equal(t, "redis", a["db.system.name"].AsString())
	assert.Equal(t, "GET", a["db.operation.name"].AsString())
	assert.Equal(t, "127.0.0.1", a["server.address"].AsString())
	assert.Equal(t, int64(7001), a["server.port"].AsInt64())
	assert.Equal(t, int64(2), a["slotrouter.attempts"].AsInt64())
	assert.True(t, a["slotrouter.replica"].AsBool())
	assert.NotContains(t, a, attribute.Key("error.type"))
	assert.NotContains(t, a, attribute.Key("db.operation.batch.size"))

	require.Len(t, s.Events(), 1)
	ev := s.Events()[0]
	assert.Equal(t, "redirect", ev.Name)
	assert.Equal(t, start.Add(time.Millisecond), ev.Time)
	ea := attrs(ev.Attributes)
	assert.Equal(t, "MOVED", ea["slotrouter.redirect.kind"].AsString())
	assert.Equal(t, "127.0.0.1:7001", ea["slotrouter.redirect.target"].AsString())
	assert.Equal(t, "127.0.0.1", ea["server.address"].AsString())
	assert.Equal(t, int64(7000), ea["server.port"].AsInt64())
	assert.Equal(t, int64(1), ea["slotrouter.attempt"].AsInt64())

	points := rec.durations(t, attribute.String("db.operation.name", "GET"))
	require.Len(t, points, 1)
	p := points[0]
	assert.Equal(t, uint64(1), p.Count)
	assert.InDelta(t, 0.003, p.Sum, 1e-9)
	v, _ := p.Attributes.Value("server.port")
	assert.Equal(t, int64(7001), v.AsInt64())
	assert.False(t, p.Attributes.HasValue("error.type"))
	assert.Equal(t, []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}, p.Bounds)
}

// TestRetryAndWaitEvents: retried attempts and failover waits are span
// events naming their cause.
func TestRetryAndWaitEvents(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "set", Batch: 1})
	tr.EndAttempt(ctx, router.Attempt{Name: "set", Addr: "127.0.0.1:7000", Number: 1,
		Outcome: router.OutcomeRetry, Kind: retry.KindTryAgain, Err: replyErr("TRYAGAIN Multiple keys request during rehashing of slot")})
	tr.EndAttempt(ctx, router.Attempt{Name: "set", Addr: "127.0.0.1:7000", Number: 2,
		Outcome: router.OutcomeWait, Kind: retry.KindConn, Err: errors.New("connection refused")})
	tr.EndAttempt(ctx, router.Attempt{Name: "set", Addr: "127.0.0.1:7002", Number: 3})
	tr.EndCommand(ctx, router.CommandEnd{Name: "set", Addr: "127.0.0.1:7002", Attempts: 3})

	spans := rec.spansNamed("set") // as the application gave it
	require.Len(t, spans, 1)
	evs := spans[0].Events()
	require.Len(t, evs, 2)
	assert.Equal(t, "retry", evs[0].Name)
	assert.Equal(t, "TRYAGAIN", attrs(evs[0].Attributes)["slotrouter.retry.cause"].AsString())
	assert.Equal(t, "failover_wait", evs[1].Name)
	assert.Equal(t, "conn", attrs(evs[1].Attributes)["slotrouter.retry.cause"].AsString())
	assert.Equal(t, int64(2), attrs(evs[1].Attributes)["slotrouter.attempt"].AsInt64())
}

func TestPipelineBatchSize(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	for _, n := range []int{3, 1, 0} {
		ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "PIPELINE", Slot: router.NoSlot, Batch: n})
		tr.EndCommand(ctx, router.CommandEnd{Name: "PIPELINE", Attempts: 1})
	}
	spans := rec.spansNamed("PIPELINE")
	require.Len(t, spans, 3)
	assert.Equal(t, int64(3), attrs(spans[0].Attributes())["db.operation.batch.size"].AsInt64())
	assert.NotContains(t, attrs(spans[1].Attributes()), attribute.Key("db.operation.batch.size"),
		"a batch of one is not a batch")
	assert.Equal(t, int64(0), attrs(spans[2].Attributes())["db.operation.batch.size"].AsInt64())
}

// netTimeout is a net.Error that timed out.
type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

// typedErr is an error type with a name.
type typedErr struct{}

func (typedErr) Error() string { return "typed" }

// TestErrorType: how error.type and db.response.status_code are chosen,
// and that the span fails and the duration point carries them.
func TestErrorType(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		errType string
		status  string
	}{
		{"reply", replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), "WRONGTYPE", "WRONGTYPE"},
		{"exhausted", &retry.ExhaustedError{Last: replyErr("TRYAGAIN Multiple keys")}, "TRYAGAIN", "TRYAGAIN"},
		{"unknown", &router.UnknownOutcomeError{Addr: "127.0.0.1:7000", Command: "SET", Err: context.DeadlineExceeded}, "unknown_outcome", ""},
		{"wait", &router.FailoverWaitError{Addr: "127.0.0.1:7000", Err: replyErr("CLUSTERDOWN The cluster is down")}, "no_primary", ""},
		{"breaker", &router.NodeError{Addr: "127.0.0.1:7000", Err: retry.ErrOpen}, "breaker_open", ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout", ""},
		{"canceled", context.Canceled, "canceled", ""},
		{"net timeout", fmt.Errorf("read: %w", netTimeout{}), "timeout", ""},
		{"closed", router.ErrClosed, "closed", ""},
		{"cross slot", &router.CrossSlotError{}, "cross_slot", ""},
		{"bad command", fmt.Errorf("%w: empty", router.ErrBadCommand), "bad_command", ""},
		{"typed", fmt.Errorf("w: %w", typedErr{}), "github.com/slotrouter/slotrouter/otel_test.typedErr", ""},
		{"anonymous", errors.New("something"), "_OTHER", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			tr := rec.Tracer()
			ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "CMD", Batch: 1})
			tr.EndCommand(ctx, router.CommandEnd{Name: "CMD", Addr: "127.0.0.1:7000", Attempts: 1, Err: tt.err})
			spans := rec.spansNamed("CMD")
			require.Len(t, spans, 1)
			assert.Equal(t, codes.Error, spans[0].Status().Code)
			assert.Equal(t, tt.err.Error(), spans[0].Status().Description)
			a := attrs(spans[0].Attributes())
			assert.Equal(t, tt.errType, a["error.type"].AsString())
			if tt.status == "" {
				assert.NotContains(t, a, attribute.Key("db.response.status_code"))
			} else {
				assert.Equal(t, tt.status, a["db.response.status_code"].AsString())
			}
			points := rec.durations(t, attribute.String("error.type", tt.errType))
			require.Len(t, points, 1)
		})
	}
}

// TestUnknownOutcomeCounted: unknown outcomes are counted per attempt,
// so that those of DoMulti's commands count too.
func TestUnknownOutcomeCounted(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	uerr := &router.UnknownOutcomeError{Addr: "127.0.0.1:7000", Command: "INCR", Err: context.DeadlineExceeded}
	ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "PIPELINE", Batch: 2})
	tr.EndAttempt(ctx, router.Attempt{Name: "INCR", Addr: "127.0.0.1:7000", Number: 1,
		Outcome: router.OutcomeUnknown, Kind: retry.KindCanceled, Err: uerr})
	tr.EndAttempt(ctx, router.Attempt{Name: "GET", Addr: "127.0.0.1:7001", Number: 1})
	tr.EndCommand(ctx, router.CommandEnd{Name: "PIPELINE", Attempts: 2})
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.unknown_outcomes",
		attribute.String("db.operation.name", "INCR"), attribute.Int("server.port", 7000)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.unknown_outcomes"))
	spans := rec.spansNamed("PIPELINE")
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Unset, spans[0].Status().Code, "DoMulti's commands fail alone")
	assert.Empty(t, spans[0].Events())
}

// TestNilReplyIsNoError: a nil reply (GET of a missing key) is a reply.
func TestNilReplyIsNoError(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "GET", Batch: 1})
	m := mock.RedisNil()
	nilErr := m.Error()
	require.Error(t, nilErr)
	tr.EndCommand(ctx, router.CommandEnd{Name: "GET", Addr: "127.0.0.1:7000", Attempts: 1, Err: nilErr})
	spans := rec.spansNamed("GET")
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Unset, spans[0].Status().Code)
	assert.NotContains(t, attrs(spans[0].Attributes()), attribute.Key("error.type"))
}

// TestObserverCounters: every event the client reports is counted with
// its attributes.
func TestObserverCounters(t *testing.T) {
	rec := newRecorder(t)
	obs := rec.Observer()
	eo := obs.(router.EventObserver)
	const a, b = "127.0.0.1:7000", "127.0.0.1:7001"
	node := func(addr string) attribute.KeyValue {
		if addr == a {
			return attribute.Int("server.port", 7000)
		}
		return attribute.Int("server.port", 7001)
	}

	obs.OnRedirect(router.RedirectEvent{Kind: retry.KindMoved, Slot: 1, From: a, To: b})
	obs.OnRedirect(router.RedirectEvent{Kind: retry.KindMoved, Slot: 2, From: a, To: b})
	obs.OnRedirect(router.RedirectEvent{Kind: retry.KindAsk, Slot: 3, From: b, To: a})
	obs.OnRetry(router.RetryEvent{Cause: retry.KindConn, Addr: a, Attempt: 2})
	obs.OnRetry(router.RetryEvent{Cause: retry.KindLoading, Addr: b, Attempt: 2})
	eo.OnEvent(router.Event{Kind: router.EventBreaker, Addr: a, From: retry.Closed, To: retry.Open})
	eo.OnEvent(router.Event{Kind: router.EventBreaker, Addr: a, From: retry.Open, To: retry.HalfOpen})
	eo.OnEvent(router.Event{Kind: router.EventBreaker, Addr: a, From: retry.HalfOpen, To: retry.Closed})
	eo.OnEvent(router.Event{Kind: router.EventFailoverWaitBegin, Addr: a, Err: retry.ErrOpen})
	eo.OnEvent(router.Event{Kind: router.EventFailoverWaitEnd, Addr: a, Duration: time.Second})
	eo.OnEvent(router.Event{Kind: router.EventFailoverWaitEnd, Addr: a, Err: &router.FailoverWaitError{Addr: a}})
	eo.OnEvent(router.Event{Kind: router.EventFallbackRead, Addr: b})
	eo.OnEvent(router.Event{Kind: router.EventConnsCut, Addr: a})

	assert.Equal(t, int64(2), rec.count(t, "slotrouter.redirects", attribute.String("slotrouter.redirect.kind", "MOVED"), node(a)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.redirects", attribute.String("slotrouter.redirect.kind", "ASK"), node(b)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.retries", attribute.String("slotrouter.retry.cause", "conn"), node(a)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.retries", attribute.String("slotrouter.retry.cause", "LOADING"), node(b)))
	for _, s := range []string{"open", "half_open", "closed"} {
		assert.Equal(t, int64(1), rec.count(t, "slotrouter.breaker.transitions", attribute.String("slotrouter.breaker.state", s), node(a)), s)
	}
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.failover_waits", attribute.String("slotrouter.outcome", "ok")))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.failover_waits", attribute.String("slotrouter.outcome", "no_primary")))
	assert.Equal(t, int64(2), rec.count(t, "slotrouter.failover_waits"), "a wait's begin is not counted")
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.fallback_reads", node(b)))
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.conns_cut", node(a)))

	topo := rec.TopologyObserver()
	topo.OnRefresh(topology.RefreshEvent{Cause: topology.CauseInitial})
	topo.OnRefresh(topology.RefreshEvent{Cause: topology.CausePeriodic, Probed: true, Skipped: true})
	topo.OnRefresh(topology.RefreshEvent{Cause: topology.CauseTrigger, Err: topology.ErrNoNodeAnswered})
	for cause, outcome := range map[string]string{"initial": "ok", "periodic": "skipped", "trigger": "error"} {
		assert.Equal(t, int64(1), rec.count(t, "slotrouter.topology.refreshes",
			attribute.String("slotrouter.refresh.cause", cause), attribute.String("slotrouter.outcome", outcome)), cause)
	}
}

// TestOnlyOwnSpanEnded: EndAttempt and EndCommand given a context without
// the span StartCommand made (the caller's span only) leave the caller's
// span alone, and still record the duration.
func TestOnlyOwnSpanEnded(t *testing.T) {
	rec := newRecorder(t)
	tr := rec.Tracer()
	ctx, caller := rec.tp.Tracer("caller").Start(context.Background(), "caller")
	tr.EndAttempt(ctx, router.Attempt{Name: "GET", Addr: "127.0.0.1:7000", Number: 1,
		Outcome: router.OutcomeRetry, Kind: retry.KindConn, Err: errors.New("reset")})
	tr.EndCommand(ctx, router.CommandEnd{Name: "GET", Addr: "127.0.0.1:7000", Attempts: 1})
	assert.Empty(t, rec.spans.Ended(), "the caller's span is not ended")
	caller.End()
	require.Len(t, rec.spans.Ended(), 1)
	assert.Equal(t, "caller", rec.spans.Ended()[0].Name())
	assert.Empty(t, rec.spans.Ended()[0].Events())
	assert.Len(t, rec.durations(t, attribute.String("db.operation.name", "GET")), 1)
}

// TestSampledOut: a span that is not recorded still ends, and the
// measurements are made.
func TestSampledOut(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() {
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	})
	in, err := slotrouterotel.New(slotrouterotel.Options{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err)
	rec := &recorder{Instrumentation: in, tp: tp, spans: sr, reader: reader}
	tr := in.Tracer()
	ctx := tr.StartCommand(context.Background(), router.CommandStart{Name: "SET", Batch: 1})
	tr.EndAttempt(ctx, router.Attempt{Name: "SET", Addr: "127.0.0.1:7000", Number: 1,
		Outcome: router.OutcomeUnknown, Err: router.ErrUnknownOutcome})
	tr.EndCommand(ctx, router.CommandEnd{Name: "SET", Addr: "127.0.0.1:7000", Attempts: 1, Err: router.ErrUnknownOutcome})
	assert.Empty(t, sr.Ended())
	assert.Len(t, rec.durations(t, attribute.String("error.type", "unknown_outcome")), 1)
	assert.Equal(t, int64(1), rec.count(t, "slotrouter.unknown_outcomes"))
}
