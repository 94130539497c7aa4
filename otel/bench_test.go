package slotrouterotel_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	slotrouterotel "github.com/slotrouter/slotrouter/otel"
	"github.com/slotrouter/slotrouter/router"
)

// BenchmarkTracer measures what the Tracer adds to one command answered
// at the first attempt: with the global no-op providers, and with the
// SDK's (every span sampled, no exporter; a manual metric reader).
func BenchmarkTracer(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	for _, bc := range []struct {
		name string
		opts slotrouterotel.Options
	}{
		{"providers=noop", slotrouterotel.Options{}},
		{"providers=sdk", slotrouterotel.Options{TracerProvider: tp, MeterProvider: mp}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in, err := slotrouterotel.New(bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			tr := in.Tracer()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				cctx := tr.StartCommand(ctx, router.CommandStart{Name: "GET", Slot: 866, Batch: 1, Start: start})
				tr.EndAttempt(cctx, router.Attempt{Name: "GET", Addr: "127.0.0.1:7000", Number: 1, Start: start})
				tr.EndCommand(cctx, router.CommandEnd{Name: "GET", Addr: "127.0.0.1:7000", Duration: time.Millisecond, Attempts: 1})
			}
		})
	}
}
