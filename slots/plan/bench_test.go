package plan_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// fragmented1000: 1000 primaries, 900 holding slots dealt in short random
// runs, 100 empty.
func fragmented1000() *plan.Layout {
	r := rand.New(rand.NewPCG(99, 100))
	l := &plan.Layout{}
	for i := 0; i < 1000; i++ {
		l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i)})
	}
	for s := 0; s < slots.Count; {
		e := min(slots.Count-1, s+r.IntN(8))
		k := r.IntN(900)
		l.Nodes[k].Slots = append(l.Nodes[k].Slots, slots.Range{Start: slots.Slot(s), End: slots.Slot(e)})
		s = e + 1
	}
	return l
}

func BenchmarkRebalance1000Fragmented(b *testing.B) {
	l := fragmented1000()
	b.ReportAllocs()
	for b.Loop() {
		p, err := plan.Rebalance(l, plan.Options{})
		require.NoError(b, err)
		if p.Summary.SlotsMoved == 0 {
			b.Fatal("nothing moved")
		}
	}
}

func BenchmarkRebalance1000Add100(b *testing.B) {
	l := addEmpty(CreateLayout(900), 100)
	b.ReportAllocs()
	for b.Loop() {
		_, err := plan.Rebalance(l, plan.Options{})
		require.NoError(b, err)
	}
}

func BenchmarkRebalanceLoad1000(b *testing.B) {
	l := fragmented1000()
	r := rand.New(rand.NewPCG(1, 1))
	per := make([]float64, slots.Count)
	for i := range per {
		per[i] = float64(int(r.ExpFloat64() * 1000))
	}
	l.Loads = plan.LoadsOf(per)
	b.ReportAllocs()
	for b.Loop() {
		_, err := plan.RebalanceLoad(l, plan.LoadOptions{})
		require.NoError(b, err)
	}
}

func BenchmarkPlace100(b *testing.B) {
	var nodes []plan.Node
	for i := 0; i < 100; i++ {
		nodes = append(nodes, plan.Node{ID: nodeID(i), Host: nodeID(i % 7), Zone: nodeID(i % 3)})
	}
	for b.Loop() {
		_, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: 25})
		require.NoError(b, err)
	}
}

func BenchmarkValidate1000(b *testing.B) {
	p, err := plan.Rebalance(fragmented1000(), plan.Options{})
	require.NoError(b, err)
	for b.Loop() {
		require.NoError(b, p.Validate())
	}
}
