package command_test

import (
	"fmt"

	"github.com/slotrouter/slotrouter/router/command"
)

// ExampleTable_TipsOf reads the command tips that tell a cluster client
// how to run a command across shards.
func ExampleTable_TipsOf() {
	t := command.DefaultTable()
	for _, args := range [][]string{
		{"MGET", "a", "b"},
		{"DEL", "a", "b"},
		{"DBSIZE"},
		{"SCRIPT", "LOAD", "return 1"},
		{"GET", "a"},
	} {
		tips := t.TipsOf(args)
		fmt.Printf("%s: request %q, response %q\n", args[0], tips.Request, tips.Response)
	}
	// Output:
	// MGET: request "multi_shard", response ""
	// DEL: request "multi_shard", response "agg_sum"
	// DBSIZE: request "all_shards", response "agg_sum"
	// SCRIPT: request "all_nodes", response "all_succeeded"
	// GET: request "", response ""
}
