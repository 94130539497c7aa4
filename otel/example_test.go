package slotrouterotel_test

import (
	"context"
	"fmt"
	"log"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	slotrouterotel "github.com/slotrouter/slotrouter/otel"
	"github.com/slotrouter/slotrouter/router"
)

// Example wires the instrumentation to a TracerProvider and a
// MeterProvider, and into the options of a client.
func Example() {
	// A real program gives the providers exporters:
	// sdktrace.WithBatcher(exporter), sdkmetric.WithReader(
	// sdkmetric.NewPeriodicReader(exporter)).
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	}()

	in, err := slotrouterotel.New(slotrouterotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		log.Fatal(err)
	}
	opts := router.Options{Seeds: []string{"127.0.0.1:7000"}}
	// Sets opts.Tracer, opts.Observer and opts.Topology.Observer, keeping
	// any already set.
	if err := in.Apply(&opts); err != nil {
		log.Fatal(err)
	}
	// Then router.New(ctx, opts): every command is a span and a
	// db.client.operation.duration measurement (see Example_client).
	fmt.Println(opts.Tracer != nil, opts.Observer != nil, opts.Topology.Observer != nil)

	// Output: true true true
}

// Example_client traces the commands of a client with the global
// providers (set by otel.SetTracerProvider and otel.SetMeterProvider). It
// needs a cluster at 127.0.0.1:7000, so it is compiled, not run.
func Example_client() {
	in, err := slotrouterotel.New(slotrouterotel.Options{})
	if err != nil {
		log.Fatal(err)
	}
	opts := router.Options{Seeds: []string{"127.0.0.1:7000"}}
	if err := in.Apply(&opts); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := router.New(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// A CLIENT span "SET" (db.system.name "redis", db.operation.name "SET",
	// server.address and server.port of the node that answered), a child
	// of any span in ctx.
	if _, err := c.Do(ctx, "SET", "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
}
