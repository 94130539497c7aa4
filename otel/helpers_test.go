package slotrouterotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	slotrouterotel "github.com/slotrouter/slotrouter/otel"
)

// recorder is an Instrumentation whose spans and measurements stay in
// memory.
type recorder struct {
	*slotrouterotel.Instrumentation
	tp     *sdktrace.TracerProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

// newRecorder makes an Instrumentation on in-memory SDK providers, shut
// down at the end of the test.
func newRecorder(t *testing.T) *recorder {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		ctx := context.Background()
		require.NoError(t, tp.Shutdown(ctx))
		require.NoError(t, mp.Shutdown(ctx))
	})
	in, err := slotrouterotel.New(slotrouterotel.Options{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err)
	return &recorder{Instrumentation: in, tp: tp, spans: sr, reader: reader}
}

// metrics collects the measurements so far.
func (r *recorder) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	out := make(map[string]metricdata.Aggregation)
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, slotrouterotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// count returns the sum of the counter name over the points whose
// attributes include every one of want.
func (r *recorder) count(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	data, ok := r.metrics(t)[name]
	if !ok {
		return 0
	}
	sum, ok := data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", name, data)
	require.True(t, sum.IsMonotonic, name)
	var n int64
	for _, p := range sum.DataPoints {
		if hasAll(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// durations returns the points of db.client.operation.duration whose
// attributes include every one of want.
func (r *recorder) durations(t *testing.T, want ...attribute.KeyValue) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	data, ok := r.metrics(t)["db.client.operation.duration"]
	if !ok {
		return nil
	}
	h, ok := data.(metricdata.Histogram[float64])
	require.True(t, ok, "db.client.operation.duration is a %T", data)
	var out []metricdata.HistogramDataPoint[float64]
	for _, p := range h.DataPoints {
		if hasAll(p.Attributes, want) {
			out = append(out, p)
		}
	}
	return out
}

// spansNamed returns the ended spans called name.
func (r *recorder) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// attrs returns a span's attributes as a map.
func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
