package router_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestHandlesFollowCalls checks that after calls to every primary the
// client's node table is the current snapshot's and holds every
// primary's state (the hot path then hashes no address).
func TestHandlesFollowCalls(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newLiveClient(t, cl, router.Options{})
	for i := range 200 { // keys over every primary
		_, err := c.Do(ctx, "GET", fmt.Sprintf("handles:%d", i))
		if err != nil && !isNil(err) {
			require.NoError(t, err)
		}
	}
	assert.True(t, router.HandlesCurrent(c))
}

// benchClient returns a client of the shared cluster, closed when b
// ends, with a connection to every primary, the keys the benchmarks
// use, and a context for their setup.
func benchClient(b *testing.B) (context.Context, *router.Client, []string) {
	cl := clustertest.Need(b, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	b.Cleanup(cancel)
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:pick:%d", i)
		if err := router.PickConn(ctx, c, "GET", keys[i]); err != nil { // dials every primary
			b.Fatal(err)
		}
	}
	return ctx, c, keys
}

// BenchmarkPickConn measures what a GET's first attempt does before it
// is sent (the table's decision, the node and breaker pick, the
// connection lookup), from one goroutine and from 64.
func BenchmarkPickConn(b *testing.B) {
	ctx, c, keys := benchClient(b)
	b.Run("goroutines=1", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := router.PickConn(ctx, c, "GET", keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("goroutines=64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := router.PickConn(ctx, c, "GET", keys[i%len(keys)]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

// BenchmarkDoOverhead is what Client.Do costs of its own for a GET with a
// deadline (each goroutine's context has one, made once), and from one
// goroutine without one (no-deadline: a lone read with a deadline takes
// another path, a connection of its own): every connection
// answers at once without sending (router.SetInstant), so the transport's
// cost is left out; "slotrouter-face" is the same GET through the rueidis
// face (Client.Rueidis). "minimal" is the least a router on rueidis's
// single-node clients does for the same call (the slot, a table of
// clients by slot, the command built, Do), on the same instant clients.
func BenchmarkDoOverhead(b *testing.B) {
	ctx, c, keys := benchClient(b)
	var by [slots.Count]rueidis.Client
	if err := c.Rueidis().Do(ctx, c.Rueidis().B().Set().Key(keys[0]).Value("value-0123456789").Build()).Error(); err != nil {
		b.Fatal(err)
	}
	reply := c.Rueidis().Do(ctx, c.Rueidis().B().Get().Key(keys[0]).Build())
	if err := reply.Error(); err != nil {
		b.Fatal(err)
	}
	router.SetInstant(c, reply)
	for _, k := range keys {
		sl, _, err := c.Route("GET", k)
		if err != nil {
			b.Fatal(err)
		}
		by[sl] = router.NodeClient(c, "GET", k)
	}
	run := func(b *testing.B, do func(ctx context.Context, key string) error) {
		serial := func(b *testing.B, ctx context.Context) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := do(ctx, keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		}
		b.Run("goroutines=1", func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			serial(b, ctx)
		})
		b.Run("goroutines=1/no-deadline", func(b *testing.B) { serial(b, context.Background()) })
		b.Run("goroutines=64", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				i := 0
				for pb.Next() {
					if err := do(ctx, keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i += 7
				}
			})
		})
	}
	b.Run("client=slotrouter", func(b *testing.B) {
		run(b, func(ctx context.Context, key string) error {
			m, err := c.Do(ctx, "GET", key)
			if err != nil {
				return err
			}
			_, err = m.ToString()
			return err
		})
	})
	face := c.Rueidis()
	b.Run("client=slotrouter-face", func(b *testing.B) {
		run(b, func(ctx context.Context, key string) error {
			_, err := face.Do(ctx, face.B().Get().Key(key).Build()).ToString()
			return err
		})
	})
	b.Run("client=minimal", func(b *testing.B) {
		run(b, func(ctx context.Context, key string) error {
			nc := by[slots.Of(key)]
			_, err := nc.Do(ctx, nc.B().Arbitrary("GET", key).Build()).ToString()
			return err
		})
	})
}
