package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestHugeWeights: weights are finite and >= 0 one by one, but two of
// 1e308 add up to +Inf; the layout is refused (ErrInvalidLayout) instead
// of giving negative targets and a plan that moves nothing. Weights that
// are merely large (1e300) keep their ratio. Before, ParseLayout took
// it, Targets returned
// -9223372036854767616 for both nodes and Rebalance moved 0 slots.
func TestHugeWeights(t *testing.T) {
	_, err := plan.ParseLayout([]byte(`{"nodes":[{"id":"a","weight":1e308,"slots":["0-16383"]},{"id":"b","weight":1e308}]}`))
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
	huge := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Weight: plan.Weight(1e308), Slots: plan.Ranges{{Start: 0, End: 16383}}},
		{ID: "b", Weight: plan.Weight(1e308)},
	}}
	_, err = plan.Targets(huge)
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
	_, err = plan.Rebalance(huge, plan.Options{})
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)

	l, err := plan.ParseLayout([]byte(`{"nodes":[{"id":"a","weight":1e300,"slots":["0-16383"]},{"id":"b","weight":1e300}]}`))
	require.NoError(t, err)
	m, err := plan.Targets(l)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"a": 8192, "b": 8192}, m)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	assert.Equal(t, 8192, p.Summary.SlotsMoved)
}

// TestNilInputs: RedisCLIBaseline and a nil *Plan's Validate refuse nil
// instead of panicking (as a nil *Layout's Validate does).
func TestNilInputs(t *testing.T) {
	assert.NotPanics(t, func() {
		moved, ranges := plan.RedisCLIBaseline(nil)
		assert.Zero(t, moved)
		assert.Zero(t, ranges)
	})
	var p *plan.Plan
	assert.NotPanics(t, func() { assert.ErrorIs(t, p.Validate(), plan.ErrInvalidPlan) })
}
