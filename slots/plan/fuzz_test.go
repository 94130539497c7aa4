package plan_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots/plan"
)

// FuzzParsePlan: plans come from files and users; no input may panic, and
// whatever parses must survive a Marshal/ParsePlan round trip unchanged.
func FuzzParsePlan(f *testing.F) {
	p, err := plan.Rebalance(addEmpty(CreateLayout(2), 1), plan.Options{})
	require.NoError(f, err)
	b, err := p.Marshal()
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"version":1,"kind":"rebalance","before":{},"moves":[],"batches":[],"after":[],"summary":{"slots_moved":0,"moves":0,"batches":0,"ranges_before":0,"ranges_after":0,"max_ranges_after":0}}`))
	f.Add([]byte(`{"version":1,"kind":"reshard","before":{"a":["0-16383"],"b":[]},"moves":[{"source":"a","target":"b","ranges":["0-9"],"slots":10}],"batches":[[0]],"after":[{"a":["10-16383"],"b":["0-9"]}],"summary":{"slots_moved":10}}`))
	f.Add([]byte(`{"version":1,"kind":"reshard","before":{"a":["0-16383"]},"moves":[{"source":"a","target":"a","ranges":["9-0"],"slots":-1}],"batches":[[0,0,-1]],"after":null}`))
	f.Add([]byte(`{"version":2,"kind":"reshard","kind":"rebalance","moves":[{"source":"a","Source":"b"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.ParsePlan(data)
		if err != nil {
			require.ErrorIs(t, err, plan.ErrInvalidPlan)
			return
		}
		b, err := p.Marshal()
		require.NoError(t, err)
		q, err := plan.ParsePlan(b)
		require.NoError(t, err, "%s", b)
		b2, err := q.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(b), string(b2))
	})
}

// FuzzParseLayout: layouts come from files and users too; whatever parses
// either plans (a valid plan) or fails with one of the package's errors.
func FuzzParseLayout(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"id":"a","slots":["0-8191"]},{"id":"b","slots":"8192-16383"},{"id":"c","weight":2}]}`))
	f.Add([]byte(`{"nodes":[{"id":"a","slots":["0-16383"],"weight":0},{"id":"b"}],"loads":{"0-99":5,"7":1e9}}`))
	f.Add([]byte(`{"nodes":[{"id":"a","slots":[1,2,3]},{"id":"r","role":"replica","primary":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := plan.ParseLayout(data)
		if err != nil {
			require.ErrorIs(t, err, plan.ErrInvalidLayout)
			return
		}
		if len(l.Nodes) > 64 {
			return
		}
		p, err := plan.Rebalance(l, plan.Options{})
		requirePlanOrPackageError(t, p, err)
		if len(l.Loads) > 0 {
			p, err := plan.RebalanceLoad(l, plan.LoadOptions{})
			requirePlanOrPackageError(t, p, err)
		}
	})
}

// requirePlanOrPackageError requires a valid plan, or an error that
// wraps one of the package's errors.
func requirePlanOrPackageError(t *testing.T, p *plan.Plan, err error) {
	t.Helper()
	if err == nil {
		require.NoError(t, p.Validate())
		return
	}
	for _, e := range []error{plan.ErrInvalidLayout, plan.ErrUncovered, plan.ErrImpossible, plan.ErrInvalidLoads} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("error wraps none of the package's errors: %v", err)
}
