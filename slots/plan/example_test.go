package plan_test

import (
	"fmt"

	"github.com/slotrouter/slotrouter/slots/plan"
)

func ExampleRebalance() {
	l, err := plan.ParseLayout([]byte(`{"nodes":[
		{"id":"a","slots":["0-5460"]},
		{"id":"b","slots":["5461-10922"]},
		{"id":"c","slots":["10923-16383"]},
		{"id":"d"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := plan.Rebalance(l, plan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range p.Moves {
		fmt.Println(m.Source, "->", m.Target, m.Ranges[0], m.Slots)
	}
	fmt.Println("moved", p.Summary.SlotsMoved, "in", p.Summary.Batches, "batches")
	// Output:
	// a -> d 4096-5460 1365
	// b -> d 9557-10922 1366
	// c -> d 10923-12287 1365
	// moved 4096 in 3 batches
}

func ExampleRemoveNodes() {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 4095}}},
		{ID: "b", Slots: plan.Ranges{{Start: 4096, End: 8191}}},
		{ID: "c", Slots: plan.Ranges{{Start: 8192, End: 12287}}},
		{ID: "d", Slots: plan.Ranges{{Start: 12288, End: 16383}}},
	}}
	p, err := plan.RemoveNodes(l, []string{"d"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("moved", p.Summary.SlotsMoved)
	for _, id := range []string{"a", "b", "c", "d"} {
		fmt.Println(id, p.Final()[id])
	}
	// Output:
	// moved 4096
	// a [0-4095 15018-16383]
	// b [4096-8191 13653-15017]
	// c [8192-13652]
	// d []
}

func ExampleReshard() {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 8191}}},
		{ID: "b", Slots: plan.Ranges{{Start: 8192, End: 16383}}},
		{ID: "c"},
	}}
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: "c", Slots: 11})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Summary.SlotsMoved, p.Final()["c"])
	// Output:
	// 11 [8186-8196]
}

func ExamplePlace() {
	nodes := []plan.Node{
		{ID: "a", Host: "big"}, {ID: "b", Host: "big"}, {ID: "c", Host: "big"}, {ID: "d", Host: "big"},
		{ID: "e", Host: "h2"}, {ID: "f", Host: "h2"},
		{ID: "g", Host: "h3"}, {ID: "h", Host: "h3"},
	}
	pl, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("primaries", pl.Primaries, "score", pl.Score.Total)
	for _, v := range pl.Score.Violations {
		fmt.Println(v.Kind, v.Weight, v.Nodes)
	}
	// Output:
	// primaries [e g] score 4
	// replicas-same-host 2 [a c]
	// replicas-same-host 2 [b d]
}

func ExampleCheck() {
	// What two nodes say in CLUSTER NODES: each lists both; 10.0.0.1 has
	// slot 100 migrating to 10.0.0.2, which does not import it; slots
	// 16001-16383 have no owner.
	var reports []plan.NodeReport
	for _, reporter := range []string{"A", "B"} {
		a := plan.NodeReport{Reporter: reporter, ID: "A", Addr: "10.0.0.1:7000", Flags: []string{"master"}, Slots: plan.Ranges{{Start: 0, End: 8191}}}
		b := plan.NodeReport{Reporter: reporter, ID: "B", Addr: "10.0.0.2:7000", Flags: []string{"master"}, Slots: plan.Ranges{{Start: 8192, End: 16000}}}
		if reporter == "A" {
			a.Flags = append(a.Flags, "myself")
			a.Migrating = []plan.SlotPeer{{Slot: 100, Node: "B"}}
		} else {
			b.Flags = append(b.Flags, "myself")
		}
		reports = append(reports, a, b)
	}
	rep, err := plan.Check(plan.CheckInput{Reports: reports})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", rep.OK)
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Code, f.Message)
	}
	// Output:
	// ok: false
	// error open-slot slot 100 is open: A is migrating it to B, but B is not importing it
	// error uncovered 383 slots (16001-16383) are served by no node
	// info no-replica primary A serves slots but has no replica
	// info no-replica primary B serves slots but has no replica
}

func ExampleRebalanceLoad() {
	// Two primaries own half the slots each, but slot 0 alone carries as
	// much load as all the others together.
	l := &plan.Layout{
		Nodes: []plan.Node{
			{ID: "a", Slots: plan.Ranges{{Start: 0, End: 8191}}},
			{ID: "b", Slots: plan.Ranges{{Start: 8192, End: 16383}}},
		},
		Loads: plan.Loads{"0": 16383, "1-16383": 1},
	}
	p, err := plan.RebalanceLoad(l, plan.LoadOptions{Tolerance: 0.01})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Summary.Load
	fmt.Printf("moved %d slots; a %.0f, b %.0f (fair %.0f); within: %v\n",
		p.Summary.SlotsMoved, s.Nodes["a"].After, s.Nodes["b"].After, s.Nodes["a"].Fair, s.Within)
	// Output:
	// moved 8069 slots; a 16505, b 16261 (fair 16383); within: true
}

func ExampleRepair() {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Host: "h0", Slots: plan.Ranges{{Start: 0, End: 8191}}},
		{ID: "a1", Host: "h0", Role: plan.RoleReplica, Primary: "a"},
		{ID: "b", Host: "h1", Slots: plan.Ranges{{Start: 8192, End: 16383}}},
		{ID: "b1", Host: "h2", Role: plan.RoleReplica, Primary: "b"},
	}}
	rp, err := plan.Repair(l)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("score", rp.Before.Total, "->", rp.After.Total)
	for _, c := range rp.Changes {
		fmt.Printf("on %s: CLUSTER REPLICATE %s (was %s)\n", c.Replica, c.Primary, c.From)
	}
	// Output:
	// score 10000 -> 0
	// on a1: CLUSTER REPLICATE b (was a)
	// on b1: CLUSTER REPLICATE a (was b)
}

func ExampleRedisCLIBaseline() {
	// Three primaries as redis-cli --cluster create splits the slots, and
	// three empty ones to fill.
	l, err := plan.ParseLayout([]byte(`{"version": 1, "nodes": [
		{"id": "a", "addr": "127.0.0.1:30001", "slots": ["0-5460"]},
		{"id": "b", "addr": "127.0.0.1:30002", "slots": ["5461-10922"]},
		{"id": "c", "addr": "127.0.0.1:30003", "slots": ["10923-16383"]},
		{"id": "d", "addr": "127.0.0.1:30004"},
		{"id": "e", "addr": "127.0.0.1:30005"},
		{"id": "f", "addr": "127.0.0.1:30006"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	cliMoved, _ := plan.RedisCLIBaseline(l)
	p, err := plan.Rebalance(l, plan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("redis-cli moves", cliMoved, "slots; the plan moves", p.Summary.SlotsMoved)
	// Output: redis-cli moves 8194 slots; the plan moves 8191
}
