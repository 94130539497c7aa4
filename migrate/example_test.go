package migrate_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/slotrouter/slotrouter/migrate"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// Apply a plan written by "slotctl plan" (or plan.Rebalance …). Run it
// again after an interruption: it finishes what is left.
func ExampleApply() {
	data, err := os.ReadFile("plan.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := plan.ParsePlan(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := migrate.Apply(ctx, p, migrate.Options{
		Seeds:    []string{"127.0.0.1:7000"},
		Password: os.Getenv("REDISCLI_AUTH"),
		Observer: func(e migrate.Event) {
			if e.Kind == migrate.EventSlotsDone {
				fmt.Printf("%d slots %s -> %s\n", e.Slots, e.Source, e.Target)
			}
		},
	})
	if err != nil {
		fmt.Println(err) // names the slot, its state, and says to run again
		for _, o := range res.Open {
			fmt.Println("open:", o)
		}
		return
	}
	fmt.Printf("%d slots, %d keys moved in %v\n", res.Slots, res.Keys, res.Elapsed)
}
