package plan_test

import (
	"fmt"
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

// scaleLayout is the layout of the at-scale benchmarks: n primaries, the
// first 90% holding the slots as `redis-cli --cluster create` splits them
// (capped at one slot each when there are more nodes than slots), the
// last 10% empty, as after adding nodes. Rebalancing it moves slots from
// thousands of donors to hundreds of receivers.
func scaleLayout(n int) *plan.Layout {
	holders := n - n/10
	l := &plan.Layout{}
	for i, r := range scaleRanges(holders) {
		l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i), Slots: r})
	}
	return addEmpty(l, n-holders)
}

// scaleRanges splits the slots over n nodes like createRanges, giving
// nodes beyond the 16384th nothing.
func scaleRanges(n int) []plan.Ranges {
	out := make([]plan.Ranges, n)
	k := min(n, slots.Count)
	for i, r := range createRanges(k) {
		out[i] = plan.Ranges{r}
	}
	return out
}

// scaleFragmented is n primaries, 90% of them holding slots dealt in
// short random runs, 10% empty.
func scaleFragmented(n int) *plan.Layout {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	l := &plan.Layout{}
	for i := 0; i < n; i++ {
		l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i)})
	}
	holders := n - n/10
	for s := 0; s < slots.Count; {
		e := min(slots.Count-1, s+r.IntN(8))
		k := r.IntN(holders)
		l.Nodes[k].Slots = append(l.Nodes[k].Slots, slots.Range{Start: slots.Slot(s), End: slots.Slot(e)})
		s = e + 1
	}
	return l
}

// BenchmarkScale plans rebalance, add and remove on 1,000 to 10,000
// primaries: time and memory must grow about linearly with the nodes.
// onehold is the worst case for batches: one node holds every slot and
// gives to all the others, one move per batch. validate and marshal check
// and encode the onehold plan.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 3000, 10000} {
		bench := func(op string, f func(b *testing.B)) {
			b.Run(fmt.Sprintf("nodes=%d/op=%s", n, op), f)
		}
		rebalance := func(l *plan.Layout) func(b *testing.B) {
			return func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p, err := plan.Rebalance(l, plan.Options{})
					require.NoError(b, err)
					require.NotZero(b, p.Summary.SlotsMoved)
				}
			}
		}
		bench("rebalance", rebalance(scaleLayout(n)))
		bench("fragmented", rebalance(scaleFragmented(n)))
		bench("onehold", rebalance(addEmpty(CreateLayout(1), n-1)))
		bench("add", func(b *testing.B) {
			full := scaleLayout(n)
			l := &plan.Layout{Nodes: full.Nodes[:n-n/10]}
			add := full.Nodes[n-n/10:]
			b.ReportAllocs()
			for b.Loop() {
				p, err := plan.AddNodes(l, add)
				require.NoError(b, err)
				require.NotZero(b, p.Summary.SlotsMoved)
			}
		})
		bench("remove", func(b *testing.B) {
			l := &plan.Layout{}
			for i, r := range scaleRanges(n) {
				l.Nodes = append(l.Nodes, plan.Node{ID: nodeID(i), Slots: r})
			}
			var ids []string
			for i := n - n/10; i < n; i++ {
				ids = append(ids, nodeID(i))
			}
			b.ReportAllocs()
			for b.Loop() {
				p, err := plan.RemoveNodes(l, ids)
				require.NoError(b, err)
				require.NotZero(b, p.Summary.SlotsMoved)
			}
		})
		bench("check", func(b *testing.B) {
			in := checkInput(n)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := plan.Check(in)
				require.NoError(b, err)
				require.Equal(b, n, rep.Nodes)
			}
		})
		bench("score", func(b *testing.B) {
			l := replicatedLayout(n)
			b.ReportAllocs()
			for b.Loop() {
				_, err := plan.ScoreLayout(l)
				require.NoError(b, err)
			}
		})
		bench("validate", func(b *testing.B) {
			p, err := plan.Rebalance(addEmpty(CreateLayout(1), n-1), plan.Options{})
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				require.NoError(b, p.Validate())
			}
		})
		bench("marshal", func(b *testing.B) {
			p, err := plan.Rebalance(addEmpty(CreateLayout(1), n-1), plan.Options{})
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				_, err := p.Marshal()
				require.NoError(b, err)
			}
		})
	}
}

// replicatedLayout is n nodes, half primaries holding the slots, half
// their replicas, on n/4 hosts (so some replicas share a host).
func replicatedLayout(n int) *plan.Layout {
	l := &plan.Layout{}
	half := n / 2
	rs := scaleRanges(half)
	for i := range n {
		nd := plan.Node{ID: nodeID(i), Host: fmt.Sprintf("h%d", i%max(1, n/4))}
		if i < half {
			nd.Slots = rs[i]
		} else {
			nd.Role, nd.Primary = plan.RoleReplica, nodeID(i-half)
		}
		l.Nodes = append(l.Nodes, nd)
	}
	return l
}

// checkInput is what one node of replicatedLayout(n) reports.
func checkInput(n int) plan.CheckInput {
	var in plan.CheckInput
	for _, nd := range replicatedLayout(n).Nodes {
		r := plan.NodeReport{Reporter: nodeID(0), ID: nd.ID, Host: nd.Host, Slots: nd.Slots, Flags: []string{"master"}}
		if nd.IsReplica() {
			r.Flags, r.Primary = []string{"slave"}, nd.Primary
		}
		in.Reports = append(in.Reports, r)
	}
	return in
}
