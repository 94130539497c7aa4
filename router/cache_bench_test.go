package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/router"
)

// BenchmarkDoCacheHit measures a cached GET served from memory: the
// router's face (slot-indexed store over a byte-bounded LRU) against
// rueidis's own cluster client (its built-in store), on the shared
// cluster.
func BenchmarkDoCacheHit(b *testing.B) {
	cl := cluster
	if cl == nil {
		b.Skip("no cluster")
	}
	ctx := context.Background()
	run := func(b *testing.B, rc rueidis.Client) {
		k := "bench:cache:" + b.Name()
		if err := rc.Do(ctx, rc.B().Set().Key(k).Value("value").Build()).Error(); err != nil {
			b.Fatal(err)
		}
		if err := rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).Error(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			msg, err := rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).ToMessage()
			if err != nil || !msg.IsCacheHit() {
				b.Fatal("not a cache hit", err)
			}
		}
	}
	b.Run("slotrouter", func(b *testing.B) {
		c, err := router.New(ctx, router.Options{Seeds: cl.Addrs(), ClientSideCaching: true})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, c.Rueidis())
	})
	b.Run("rueidis", func(b *testing.B) {
		rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs()})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		run(b, rc)
	})
}
