package slotrouterotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	slotrouterotel "github.com/slotrouter/slotrouter/otel"
)

// nilTracerProvider returns a nil Tracer; nilMeterProvider a nil Meter.
type nilTracerProvider struct{ tracenoop.TracerProvider }

func (nilTracerProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return nil }

type nilMeterProvider struct{ metricnoop.MeterProvider }

func (nilMeterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return nil }

// TestNewNilProviders: a nil provider behind a non-nil interface (a
// *sdktrace.TracerProvider or *sdkmetric.MeterProvider variable never
// set), or a provider that hands out a nil Tracer or Meter, is refused by
// New with an error, not a panic in the caller (nor later, in the
// client's callbacks).
func TestNewNilProviders(t *testing.T) {
	var tp *sdktrace.TracerProvider
	var mp *sdkmetric.MeterProvider
	for name, opts := range map[string]slotrouterotel.Options{
		"nil *sdktrace.TracerProvider": {TracerProvider: tp},
		"nil *sdkmetric.MeterProvider": {MeterProvider: mp},
		"nil Tracer":                   {TracerProvider: nilTracerProvider{}},
		"nil Meter":                    {MeterProvider: nilMeterProvider{}},
	} {
		t.Run(name, func(t *testing.T) {
			var in *slotrouterotel.Instrumentation
			var err error
			require.NotPanics(t, func() { in, err = slotrouterotel.New(opts) })
			require.Error(t, err)
			require.Nil(t, in)
		})
	}
	// A shut-down SDK provider is fine: it hands out no-op tracers.
	sdk := sdktrace.NewTracerProvider()
	require.NoError(t, sdk.Shutdown(context.Background()))
	_, err := slotrouterotel.New(slotrouterotel.Options{TracerProvider: sdk})
	require.NoError(t, err)
}
