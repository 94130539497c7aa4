package router_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/router"
)

// followLog is an EventObserver that logs subscriptions that followed
// their slot or node.
type followLog struct{}

func (followLog) OnRedirect(router.RedirectEvent) {}
func (followLog) OnRetry(router.RetryEvent)       {}
func (followLog) OnEvent(e router.Event) {
	if e.Kind == router.EventResubscribed {
		log.Printf("subscription moved to %s (slot %d): %v", e.Addr, e.Slot, e.Err)
	}
}

// ExampleClient_Rueidis_receive subscribes to a sharded channel through
// the rueidis face: Receive keeps receiving when the channel's slot is
// resharded or its shard fails over, and the observer hears of it.
func ExampleClient_Rueidis_receive() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := router.New(ctx, router.Options{
		Seeds:    []string{"127.0.0.1:7000"},
		Observer: followLog{},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rc := c.Rueidis()

	go func() {
		// SPUBLISH is routed by its channel.
		for i := range 3 {
			rc.Do(ctx, rc.B().Spublish().Channel("{orders}:eu").Message(fmt.Sprint(i)).Build())
			time.Sleep(100 * time.Millisecond)
		}
		// The caller's own unsubscribe ends Receive with nil.
		rc.Do(ctx, rc.B().Sunsubscribe().Channel("{orders}:eu", "{orders}:us").Build())
	}()
	err = rc.Receive(ctx, rc.B().Ssubscribe().Channel("{orders}:eu", "{orders}:us").Build(), func(m rueidis.PubSubMessage) {
		fmt.Println(m.Channel, m.Message)
	})
	switch {
	case err == nil: // unsubscribed
	case errors.Is(err, rueidis.ErrClosing): // the client was closed
	case errors.Is(err, router.ErrCrossSlot): // channels of different slots
	default:
		log.Print(err) // ctx ended, or no node to subscribe on
	}
}
