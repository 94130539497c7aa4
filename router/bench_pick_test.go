package router

import (
	"fmt"
	"testing"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// BenchmarkNodeFor measures the node choice of the hot path alone (the
// command already decided): the snapshot's own shard and node, read
// without a copy. It must not allocate.
func BenchmarkNodeFor(b *testing.B) {
	var shards []topology.Shard
	per := slots.Count / 3
	for i := range 3 {
		end := (i+1)*per - 1
		if i == 2 {
			end = slots.Count - 1
		}
		shards = append(shards, topology.Shard{
			Primary:  &topology.Node{ID: fmt.Sprintf("%040d", 2*i+1), Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i), Health: topology.HealthOnline},
			Replicas: []*topology.Node{{ID: fmt.Sprintf("%040d", 2*i+2), Addr: fmt.Sprintf("127.0.0.1:%d", 7003+i), Health: topology.HealthOnline}},
			Ranges:   []slots.Range{{Start: slots.Slot(i * per), End: slots.Slot(end)}},
		})
	}
	s, err := topology.NewSnapshot(shards, topology.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		policy ReadPolicy
		args   []string
	}{
		{"GET", ReadPrimary, []string{"GET", "user:42:name"}},
		{"GET/PreferReplica", PreferReplica, []string{"GET", "user:42:name"}},
		{"PING", ReadPrimary, []string{"PING"}},
	} {
		d, err := decide(command.DefaultTable(), c.args)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n, err := nodeFor(s, &d, c.policy); err != nil || n == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
