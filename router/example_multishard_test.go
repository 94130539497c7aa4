package router_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/slotrouter/slotrouter/router"
)

// ExampleClient_Do_multiShard runs commands whose keys live on different
// shards: the client splits them per slot as their Redis command tips
// allow, and fans keyless ones out to every primary.
func ExampleClient_Do_multiShard() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: []string{"127.0.0.1:7000"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// One MSET and one MGET, whatever the slots of the keys: one part
	// per slot, the replies in the order of the keys.
	if _, err := c.Do(ctx, "MSET", "user:1", "Ada", "user:2", "Grace"); err != nil {
		log.Fatal(err)
	}
	msg, err := c.Do(ctx, "MGET", "user:2", "user:1", "user:3")
	var mse *router.MultiShardError
	switch {
	case errors.As(err, &mse):
		// No partial answer: the failed parts name their keys.
		for _, p := range mse.Failed {
			log.Printf("keys %q: %v", p.Keys, p.Err)
		}
	case err != nil:
		log.Fatal(err)
	default:
		names, _ := msg.ToArray()
		fmt.Println(len(names)) // 3: "Grace", "Ada", nil
	}
	// Counts are summed over the parts.
	n, _ := c.Do(ctx, "DEL", "user:1", "user:2")
	deleted, _ := n.AsInt64()
	fmt.Println(deleted)

	// DBSIZE (request_policy all_shards, response_policy agg_sum): the
	// number of keys of the whole cluster.
	total, _ := c.Do(ctx, "DBSIZE")
	size, _ := total.AsInt64()
	fmt.Println(size)

	// MSETNX is never split: all its keys or none needs one slot.
	_, err = c.Do(ctx, "MSETNX", "user:1", "x", "user:2", "y")
	fmt.Println(errors.Is(err, router.ErrCrossSlot))
}
