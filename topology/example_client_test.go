package topology_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// ExampleNew shows how a client keeps the slot map of a cluster: New does
// the first refresh, Current is what the hot path reads (one atomic load),
// Trigger and ApplyMoved are what it calls when the cluster says something
// changed. (It needs a running cluster, so it has no output to check.)
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	events := make(chan topology.RefreshEvent, 64)
	r, err := topology.New(ctx, topology.Options{
		Seeds:  []string{"127.0.0.1:7000", "127.0.0.1:7001"},
		Period: time.Minute, // NoPeriodicRefresh turns it off
		Observer: topology.ObserverFunc(func(e topology.RefreshEvent) {
			select { // never block the refresher
			case events <- e:
			default:
			}
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// The hot path: no lock, no I/O.
	slot := slots.Of("user:{42}:cart")
	if p, ok := r.Current().Primary(slot); ok {
		fmt.Println("slot", slot, "is served by", p.Addr)
	}

	// A MOVED redirect: patch the map at once (the result names the
	// dialable address), a refresh follows when the target was unknown.
	res := r.ApplyMoved(slot, "127.0.0.1:7002")
	if res.To != nil {
		fmt.Println("go to", res.To.Addr)
	}

	// A connection error or CLUSTERDOWN: ask for a refresh; this never
	// blocks, and a thousand callers cause one fetch.
	r.Trigger("connection refused by 127.0.0.1:7001")

	// At start, or in a tool: refresh synchronously.
	if err := r.Refresh(ctx); err != nil {
		log.Print(err)
	}
	for {
		select {
		case e := <-events:
			fmt.Println(e.Cause, e.Reason, e.Asked, e.Duration, e.Err, len(e.Changes.Moved))
		default:
			return
		}
	}
}

// ExampleOptions_mapAddr maps the addresses a cluster announces (here a
// cluster behind a port-forward: announced ports 7000-7005 are reachable
// on 127.0.0.1 at 17000-17005) to dialable ones. The hook applies to
// every address: topology replies and MOVED/ASK targets.
func ExampleOptions_mapAddr() {
	hook := func(announced string) string {
		_, port, err := net.SplitHostPort(announced)
		if err != nil {
			return announced
		}
		return net.JoinHostPort("127.0.0.1", "1"+port)
	}
	opts := topology.Options{
		Seeds:   []string{"127.0.0.1:17000"}, // seeds are dialed as given
		MapAddr: hook,
	}
	fmt.Println(opts.MapAddr("10.0.0.5:7003"))
	// Output: 127.0.0.1:17003
}
