package router_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// ExampleNew connects to a cluster, writes and reads a key, and shows
// the errors a caller may want to tell apart.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{
		Seeds:      []string{"127.0.0.1:7000", "127.0.0.1:7001"},
		ReadPolicy: router.PreferReplica,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Do(ctx, "SET", "user:42:name", "Ada"); err != nil {
		log.Fatal(err)
	}
	msg, err := c.Do(ctx, "GET", "user:42:name")
	switch {
	case rueidis.IsRedisNil(err):
		fmt.Println("no such key")
	case err != nil:
		log.Fatal(err)
	default:
		name, _ := msg.ToString()
		fmt.Println(name)
	}

	_, err = c.Do(ctx, "INCR", "visits")
	if errors.Is(err, router.ErrUnknownOutcome) {
		// The connection broke after INCR was sent: it may have been
		// counted. The client never sends it again by itself.
		fmt.Println("visit may or may not have been counted")
	}
	// An idempotent write is retried after a connection error.
	_, _ = c.DoCmd(ctx, router.Idempotent("SET", "user:42:name", "Ada"))

	// Many commands, one pipeline per node; a MULTI block stays together.
	res := c.DoMulti(ctx,
		router.C("MULTI"),
		router.C("INCR", "{user:42}:logins"),
		router.C("SET", "{user:42}:last", "now"),
		router.C("EXEC"),
		router.C("GET", "user:7:name"),
	)
	for _, r := range res {
		if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
			log.Print(r.Err)
		}
	}
}

// ExampleRoute decides where commands go in a topology snapshot, without
// any I/O.
func ExampleRoute() {
	snap, err := topology.NewSnapshot([]topology.Shard{
		{
			Primary:  &topology.Node{ID: "a", Addr: "10.0.0.1:6379"},
			Replicas: []*topology.Node{{ID: "a2", Addr: "10.0.0.4:6379", Health: topology.HealthOnline}},
			Ranges:   []slots.Range{{Start: 0, End: 8191}},
		},
		{
			Primary: &topology.Node{ID: "b", Addr: "10.0.0.2:6379"},
			Ranges:  []slots.Range{{Start: 8192, End: 16383}},
		},
	}, topology.SnapshotOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, args := range [][]string{
		{"SET", "user:3", "Ada"},
		{"GET", "user:3"},
		{"MGET", "{user:3}:a", "{user:3}:b"},
		{"GET", "session:9"},
	} {
		slot, node, err := router.Route(snap, nil, router.PreferReplica, args...)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(args[0], args[1], "→ slot", slot, "on", node.Addr())
	}
	_, _, err = router.Route(snap, nil, router.ReadPrimary, "MGET", "user:1", "user:2")
	fmt.Println(errors.Is(err, router.ErrCrossSlot))
	// Output:
	// SET user:3 → slot 2648 on 10.0.0.1:6379
	// GET user:3 → slot 2648 on 10.0.0.4:6379
	// MGET {user:3}:a → slot 2648 on 10.0.0.4:6379
	// GET session:9 → slot 9684 on 10.0.0.2:6379
	// true
}

// ExampleClient_Rueidis uses the client through rueidis's typed builder:
// the same routing, redirects, failover waits and safe retries as Do,
// for code and libraries written against rueidis.Client.
func ExampleClient_Rueidis() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: []string{"127.0.0.1:7000"}})
	if err != nil {
		log.Fatal(err)
	}
	rc := c.Rueidis() // closing rc closes c too
	defer rc.Close()

	if err := rc.Do(ctx, rc.B().Set().Key("user:42:name").Value("Ada").Build()).Error(); err != nil {
		log.Fatal(err)
	}
	name, err := rc.Do(ctx, rc.B().Get().Key("user:42:name").Build()).ToString()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(name)

	// A command whose keys hash to different slots is refused before
	// anything is sent (never a panic), unless its command tips let the
	// client split it per slot (MGET, DEL, EXISTS...; see
	// Options.StrictCrossSlot).
	err = rc.Do(ctx, rc.B().Rename().Key("user:1").Newkey("user:2").Build()).Error()
	var cs *router.CrossSlotError
	if errors.As(err, &cs) {
		fmt.Println("cross-slot:", cs)
	}
}

// ExampleRueidisBuilder hands the client to a library that builds its
// own rueidis.Client (rueidislock, rueidisaside...): the options the
// library asks for (client-side caching, tracking, invalidation hooks)
// are merged into every node's connection.
func ExampleRueidisBuilder() {
	builder := router.RueidisBuilder(router.Options{Seeds: []string{"127.0.0.1:7000"}})
	// e.g. rueidislock.NewLocker(rueidislock.LockerOption{ClientBuilder: builder, ...})
	rc, err := builder(rueidis.ClientOption{DisableCache: true})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	fmt.Println(rc.Mode())
}
