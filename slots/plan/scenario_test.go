package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func TestCreateLayoutMatchesRedisCli(t *testing.T) {
	// The well-known 3-master split.
	assert.Equal(t, "0-5460 5461-10922 10923-16383", slots.FormatRanges(createRanges(3), " "))
	for _, n := range []int{1, 3, 4, 6, 7, 100, 1000} {
		rs := createRanges(n)
		total := 0
		for i, r := range rs {
			require.True(t, r.Valid())
			l := r.Len()
			assert.True(t, l == 16384/n || l == 16384/n+1, "n=%d master %d has %d", n, i, l)
			total += l
		}
		assert.Equal(t, 16384, total)
	}
}

func TestScenarioAddOneTo100(t *testing.T) {
	l := addEmpty(CreateLayout(100), 1)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.Equal(t, 162, p.Summary.SlotsMoved)
	after := applyPlan(t, l, p)
	cnt := counts(after, 101)
	for i, c := range cnt {
		assert.True(t, c == 162 || c == 163, "node %d has %d", i, c)
	}
	// redis-cli: 184 slots, the new node ends 13.6% above the rest.
	moved, cli := plan.RedisCLIRebalance(ownerOf(t, l), ones(101))
	assert.Equal(t, 184, moved)
	assert.Equal(t, 184, counts(cli, 101)[100])
	ours, theirs := sum(rangesPerNode(after, 101)), sum(rangesPerNode(cli, 101))
	t.Logf("100->101: moved 162 (redis-cli 184); ranges %d (redis-cli %d); new node ranges %d (redis-cli %d)",
		ours, theirs, rangesPerNode(after, 101)[100], rangesPerNode(cli, 101)[100])
	assert.Less(t, ours, theirs)
	// The new node receives from all 100 donors; a block can join at most
	// two of them (one's top end and the next one's bottom end), so 50 is
	// a lower bound; the planner reaches 52 (redis-cli: 100).
	assert.GreaterOrEqual(t, rangesPerNode(after, 101)[100], 50)
	assert.LessOrEqual(t, rangesPerNode(after, 101)[100], 52)
}

func TestScenario3To6(t *testing.T) {
	l := addEmpty(CreateLayout(3), 3)
	p, err := plan.AddNodes(CreateLayout(3), l.Nodes[3:])
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	assert.Equal(t, 8191, p.Summary.SlotsMoved)
	moved, cli := plan.RedisCLIRebalance(ownerOf(t, l), ones(6))
	assert.Equal(t, 8194, moved)
	after := applyPlan(t, l, p)
	r := rangesPerNode(after, 6)
	t.Logf("3->6: moved 8191 (redis-cli 8194); ranges %v = %d (redis-cli %v = %d)", r, sum(r), rangesPerNode(cli, 6), sum(rangesPerNode(cli, 6)))
	assert.Equal(t, []int{1, 1, 1, 1, 1, 1}, r)
}

func TestScenarioDrain(t *testing.T) {
	for _, tc := range []struct {
		from, to    int
		want, naive int
	}{{4, 3, 4096, 6827}, {6, 4, 5461, 8191}} {
		l := CreateLayout(tc.from)
		var ids []string
		for i := tc.to; i < tc.from; i++ {
			ids = append(ids, nodeID(i))
		}
		p, err := plan.RemoveNodes(l, ids)
		require.NoError(t, err)
		require.NoError(t, p.Validate())
		assert.Equal(t, tc.want, p.Summary.SlotsMoved, "%d->%d", tc.from, tc.to)
		after := applyPlan(t, l, p)
		c := counts(after, tc.from)
		for i := tc.to; i < tc.from; i++ {
			assert.Zero(t, c[i])
		}
		// What operators do: drain each removed node into one remaining
		// node with reshard, then run redis-cli rebalance.
		o := ownerOf(t, l)
		for i := tc.to; i < tc.from; i++ {
			for s := range o {
				if o[s] == i {
					o[s] = i - tc.to
				}
			}
		}
		second, cli := plan.RedisCLIRebalance(o, append(ones(tc.to), make([]float64, tc.from-tc.to)...))
		assert.Equal(t, tc.naive, c2(tc.from, tc.to, l)+second)
		r := rangesPerNode(after, tc.from)
		t.Logf("%d->%d: moved %d (drain+rebalance %d); ranges %v = %d (drain+rebalance %d)", tc.from, tc.to, p.Summary.SlotsMoved, tc.naive, r, sum(r), sum(rangesPerNode(cli, tc.from)))
	}
}

// c2 is the number of slots the removed nodes own.
func c2(from, to int, l *plan.Layout) int {
	n := 0
	for i := to; i < from; i++ {
		n += l.Nodes[i].Slots.Len()
	}
	return n
}

func counts(owner []int, n int) []int {
	c := make([]int, n)
	for _, o := range owner {
		c[o]++
	}
	return c
}
