package loadgen_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"

	"github.com/slotrouter/slotrouter/internal/loadgen"
)

// ExampleRun runs a SET-only workload for a moment against an in-memory
// stand-in for a server and reads every key back. With a cluster, pass
// loadgen.FromRouter(client) instead.
func ExampleRun() {
	var mu sync.Mutex
	kv := map[string]string{}
	server := loadgen.DoFunc(func(_ context.Context, args ...string) (rueidis.RedisMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		switch args[0] {
		case "SET":
			kv[args[1]] = args[2]
			return mock.RedisString("OK"), nil
		case "GET":
			if v, ok := kv[args[1]]; ok {
				return mock.RedisString(v), nil
			}
			return mock.RedisNil(), rueidis.Nil
		}
		return rueidis.RedisMessage{}, fmt.Errorf("unexpected %s", args[0])
	})
	w, _ := loadgen.ParseWorkload("set")
	ctx := context.Background()
	l, err := loadgen.Start(ctx, server, loadgen.Options{Workload: w, Workers: 2, Keys: 100, Duration: 50 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-l.Done()
	s, err := l.Stop()
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := l.Verify(ctx, server)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ran:", s.Ops > 0, "errors:", s.Errors, "p99 measured:", s.Latency.Quantile(0.99) > 0)
	fmt.Println("read back wrong:", v.Wrong)
	// Output:
	// ran: true errors: 0 p99 measured: true
	// read back wrong: 0
}
