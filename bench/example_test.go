package bench_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/redis/rueidis/rueidiscompat"

	"github.com/slotrouter/slotrouter/router"
)

// exampleSeeds are the seed addresses of the examples: the shared cluster
// that TestMain started (a program names its own cluster's nodes). The
// examples need it: without redis-server (which scripts/test.sh always
// provides) they get a closed loopback port and fail with "connection
// refused", rather than talk to whatever listens on a well-known port.
func exampleSeeds() []string {
	if cluster != nil {
		return cluster.Addrs()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return []string{addr}
}

// ExampleClient_Rueidis uses go-redis's API on a Redis Cluster through
// slotrouter: rueidiscompat (github.com/redis/rueidis/rueidiscompat) over
// the client's rueidis face. Every command is routed by slotrouter, with
// its redirects, failover waits and safe retries.
func ExampleClient_Rueidis() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: exampleSeeds()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rdb := rueidiscompat.NewAdapter(c.Rueidis())

	if err := rdb.Set(ctx, "example:greeting", "hello", time.Minute).Err(); err != nil {
		log.Fatal(err)
	}
	greeting, err := rdb.Get(ctx, "example:greeting").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(greeting)

	// A transaction: its keys share the hash tag {example:user:42}, so
	// one slot, one node.
	var visits *rueidiscompat.IntCmd
	if _, err := rdb.TxPipelined(ctx, func(p rueidiscompat.Pipeliner) error {
		p.HSet(ctx, "{example:user:42}:profile", "name", "Ada")
		visits = p.Incr(ctx, "{example:user:42}:visits")
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(visits.Val() > 0)

	_, err = rdb.Get(ctx, "example:missing").Result()
	fmt.Println(err == rueidiscompat.Nil)
	// Output:
	// hello
	// true
	// true
}
