package router_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
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

// BenchmarkPickConn measures what a GET's first attempt does before it
// is sent (the table's decision, the node and breaker pick, the
// connection lookup), from one goroutine and from 64.
func BenchmarkPickConn(b *testing.B) {
	cl := clustertest.Need(b, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:pick:%d", i)
		if err := router.PickConn(ctx, c, "GET", keys[i]); err != nil { // dials every primary
			b.Fatal(err)
		}
	}
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
