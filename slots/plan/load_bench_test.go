package plan_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// BenchmarkRebalanceLoad1000Hot: 1000 primaries, one slot carrying 1% of
// all load (ten fair shares): no layout is within the tolerance, so every
// phase runs.
func BenchmarkRebalanceLoad1000Hot(b *testing.B) {
	l := fragmented1000()
	r := rand.New(rand.NewPCG(1, 1))
	per := make([]float64, slots.Count)
	tot := 0.0
	for i := range per {
		per[i] = float64(int(r.ExpFloat64() * 1000))
		tot += per[i]
	}
	per[77] = tot / 100
	l.Loads = plan.LoadsOf(per)
	b.ReportAllocs()
	for b.Loop() {
		p, err := plan.RebalanceLoad(l, plan.LoadOptions{})
		require.NoError(b, err)
		require.False(b, p.Summary.Load.Within)
	}
}
