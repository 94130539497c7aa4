package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/migrate"
)

// TestPrintAfterApply: the slots given back to a target that dropped
// them, the nodes not told the new owners, and the replicas to restart,
// are named after a run; nothing is said when there are none.
func TestPrintAfterApply(t *testing.T) {
	var b bytes.Buffer
	printAfterApply(&b, &migrate.Result{})
	assert.Empty(t, b.String())
	printAfterApply(&b, &migrate.Result{
		Reclaimed: 2,
		Untold:    []string{"c1", "c2"},
		Restart: []migrate.Restart{
			{Replica: "r1", Addr: "127.0.0.1:7003", Primary: "b1", Version: "7.0.15"},
			{Replica: "r2", Addr: "127.0.0.1:7004", Primary: "b2", Version: "7.2.3"},
		},
	})
	assert.Equal(t, "2 slots were dropped by their new owner after the move (a stale cluster message) and given back to it: check their keys, which that node may have deleted (the JSON progress names them: event \"reclaimed\")\n"+
		"not told the new owners (unreachable; they learn them by gossip): c1, c2\n"+
		"restart these replicas, one at a time, before the next failover: on Redis 7.0.13-7.0.15 and 7.2.0-7.2.3 a replica of a primary that imported slots may lose one of them when it is promoted (redis/redis#12564, fixed in 7.2.4):\n"+
		"  127.0.0.1:7003 r1 (replica of b1, Redis 7.0.15)\n"+
		"  127.0.0.1:7004 r2 (replica of b2, Redis 7.2.3)\n", b.String())
}

// TestProgressNamesUntoldNode: the JSON progress line of an
// EventOthersFailed names the primary that was not told (Event.Node): its
// error alone does not when the node was skipped (migrate.ErrSkipped).
func TestProgressNamesUntoldNode(t *testing.T) {
	var b bytes.Buffer
	pr := &applyProgress{w: &b, json: true, redact: func(s string) string { return s }, pairs: map[string]bool{}}
	pr.observe(migrate.Event{Kind: migrate.EventOthersFailed, Step: migrate.StepNodeOthers, Node: "c1", Slot: 7, Slots: 1, Err: migrate.ErrSkipped})
	var l map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &l), b.String())
	assert.Equal(t, "others-failed", l["event"])
	assert.Equal(t, "c1", l["node"], b.String())
}
