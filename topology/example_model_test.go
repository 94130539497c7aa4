package topology_test

import (
	"fmt"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

func ExampleSnapshot_Lookup() {
	node := func(id string, port int) *topology.Node {
		return &topology.Node{ID: id, Endpoint: "127.0.0.1", Port: port}
	}
	s, err := topology.NewSnapshot([]topology.Shard{
		{Primary: node("a", 7000), Replicas: []*topology.Node{node("a1", 7003)}, Ranges: []slots.Range{{Start: 0, End: 8191}}},
		{Primary: node("b", 7001), Ranges: []slots.Range{{Start: 8192, End: 16383}}},
	}, topology.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
	slot := slots.Of("user:{42}:cart")
	shard, ok := s.Lookup(slot)
	fmt.Println(slot, ok, shard.Primary.Addr, len(shard.Replicas))

	// A MOVED redirect patches a new snapshot at once.
	moved, res := s.ApplyMoved(slot, "127.0.0.1:7001")
	p, _ := moved.Primary(slot)
	fmt.Println(res.Kind, p.ID, moved.Version())
	// Output:
	// 8000 true 127.0.0.1:7000 1
	// to-primary b 2
}

func ExampleParseNodes() {
	text := `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
`
	v, err := topology.ParseNodes(text, "127.0.0.1:30001")
	if err != nil {
		panic(err)
	}
	for _, sh := range v.Shards {
		fmt.Println(sh.Primary.Addr, "epoch", sh.Primary.ConfigEpoch, slots.FormatRanges(sh.Ranges, ","), "replicas", len(sh.Replicas))
	}
	for _, f := range v.Facts {
		for _, m := range f.Migrating {
			fmt.Println(f.Addr, "migrating", m.Slot, "to", m.NodeID[:8])
		}
		for _, m := range f.Importing {
			fmt.Println(f.Addr, "importing", m.Slot, "from", m.NodeID[:8])
		}
	}
	// Output:
	// 127.0.0.1:30002 epoch 2 5461-10922 replicas 0
	// 127.0.0.1:30001 epoch 1 0-5460 replicas 1
	// 127.0.0.1:30002 migrating 5461 to e7d1eecc
	// 127.0.0.1:30001 importing 5461 from 67ed2db8
}

func ExampleReconcile() {
	n := func(id string, port int, epoch uint64) *topology.Node {
		return &topology.Node{ID: id, Endpoint: "127.0.0.1", Port: port, ConfigEpoch: epoch, EpochKnown: true}
	}
	all := []slots.Range{{Start: 0, End: 16383}}
	// Two nodes still believe the old owner (epoch 3); one knows the new one (epoch 5).
	stale := topology.View{Answered: "127.0.0.1:7000", Shards: []topology.Shard{{Primary: n("old", 7000, 3), Ranges: all}}}
	fresh := topology.View{Answered: "127.0.0.1:7001", Shards: []topology.Shard{{Primary: n("new", 7001, 5), Ranges: all}}}
	s, err := topology.Reconcile(nil, []topology.View{stale, stale, fresh}, topology.ReconcileOptions{})
	if err != nil {
		panic(err)
	}
	p, _ := s.Primary(0)
	fmt.Println(p.ID, s.Entry(0).Epoch)
	// Output: new 5
}
