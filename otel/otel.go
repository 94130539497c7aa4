package slotrouterotel

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/topology"
)

// ScopeName is the instrumentation scope of the Tracer and Meter used.
const ScopeName = "github.com/slotrouter/slotrouter/otel"

// Options configures New. The zero value uses the global providers.
type Options struct {
	// TracerProvider makes the spans (nil: otel.GetTracerProvider()).
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments (nil: otel.GetMeterProvider()).
	MeterProvider metric.MeterProvider
}

// Instrumentation holds the tracer and instruments of one set of
// providers; make it with New. It is safe for concurrent use, and may
// serve any number of clients.
type Instrumentation struct {
	tracer trace.Tracer

	duration        metric.Float64Histogram
	unknownOutcomes metric.Int64Counter
	redirects       metric.Int64Counter
	retries         metric.Int64Counter
	breakers        metric.Int64Counter
	failoverWaits   metric.Int64Counter
	fallbackReads   metric.Int64Counter
	stalls          metric.Int64Counter
	connsCut        metric.Int64Counter
	panics          metric.Int64Counter
	refreshes       metric.Int64Counter
}

// durationBuckets are the bucket boundaries the semantic conventions
// advise for db.client.operation.duration, in seconds.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// New returns the instrumentation of opts' providers. It fails when the
// MeterProvider refuses an instrument, and when a provider panics (a nil
// *sdktrace.TracerProvider, say, behind a non-nil interface) or hands out
// a nil Tracer, Meter or instrument.
func New(opts Options) (in *Instrumentation, err error) {
	defer func() {
		if r := recover(); r != nil {
			in, err = nil, fmt.Errorf("slotrouterotel: a provider panicked (a nil provider behind a non-nil interface?): %v", r)
		}
	}()
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	in = &Instrumentation{
		tracer: tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
	}
	if in.tracer == nil {
		return nil, errors.New("slotrouterotel: the TracerProvider returned a nil Tracer")
	}
	m := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	if m == nil {
		return nil, errors.New("slotrouterotel: the MeterProvider returned a nil Meter")
	}
	var errs []error
	in.duration, err = m.Float64Histogram("db.client.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	if in.duration == nil {
		errs = append(errs, errors.New("the Meter returned a nil histogram"))
	}
	counter := func(dst *metric.Int64Counter, name, unit, desc string) {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		*dst = c
		errs = append(errs, err)
		if c == nil {
			errs = append(errs, fmt.Errorf("the Meter returned a nil counter %s", name))
		}
	}
	counter(&in.unknownOutcomes, "slotrouter.unknown_outcomes", "{command}",
		"Commands sent without a reply: they may or may not have been executed.")
	counter(&in.redirects, "slotrouter.redirects", "{redirect}", "MOVED and ASK replies followed.")
	counter(&in.retries, "slotrouter.retries", "{retry}", "Retries that are not redirects, by cause.")
	counter(&in.breakers, "slotrouter.breaker.transitions", "{transition}",
		"Circuit breaker state changes, by new state.")
	counter(&in.failoverWaits, "slotrouter.failover_waits", "{wait}",
		"Waits for a slot to have a reachable primary, by outcome.")
	counter(&in.fallbackReads, "slotrouter.fallback_reads", "{read}",
		"Reads sent to a replica because the primary was unreachable.")
	counter(&in.stalls, "slotrouter.stalls", "{stall}", "Nodes whose calls stopped completing.")
	counter(&in.connsCut, "slotrouter.conns_cut", "{event}",
		"Connections of a stalled node cut after it was replaced.")
	counter(&in.panics, "slotrouter.panics", "{panic}", "Panics recovered by the client.")
	counter(&in.refreshes, "slotrouter.topology.refreshes", "{refresh}",
		"Topology refresh attempts, by cause and outcome.")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("slotrouterotel: creating instruments: %w", err)
	}
	return in, nil
}

// Tracer returns the router.Tracer that makes a span and a
// db.client.operation.duration measurement of every command, and counts
// unknown outcomes. Set it as router.Options.Tracer.
func (in *Instrumentation) Tracer() router.Tracer { return (*tracer)(in) }

// Observer returns the router.Observer (also a router.EventObserver and a
// router.PanicObserver) that counts redirects, retries, breaker
// transitions, failover waits, fallback reads, stalls, cut connections and
// panics. Set it as router.Options.Observer.
func (in *Instrumentation) Observer() router.Observer { return (*observer)(in) }

// TopologyObserver returns the topology.Observer that counts refresh
// attempts. Set it as router.Options.Topology.Observer.
func (in *Instrumentation) TopologyObserver() topology.Observer { return (*topoObserver)(in) }

// Apply sets opts' Tracer, Observer and Topology.Observer to the
// instrumentation's. Those already set are kept: both receive every call
// (the one already set first).
func (in *Instrumentation) Apply(opts *router.Options) error {
	if in == nil || in.tracer == nil {
		return errors.New("slotrouterotel: Apply: Instrumentation not made by New")
	}
	if opts == nil {
		return errors.New("slotrouterotel: Apply: nil *router.Options")
	}
	if opts.Tracer == nil {
		opts.Tracer = in.Tracer()
	} else {
		opts.Tracer = teeTracer{opts.Tracer, in.Tracer()}
	}
	if opts.Observer == nil {
		opts.Observer = in.Observer()
	} else {
		opts.Observer = teeObserver{opts.Observer, in.Observer()}
	}
	if opts.Topology.Observer == nil {
		opts.Topology.Observer = in.TopologyObserver()
	} else {
		opts.Topology.Observer = teeTopology{opts.Topology.Observer, in.TopologyObserver()}
	}
	return nil
}
