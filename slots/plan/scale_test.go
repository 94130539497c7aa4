package plan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// cancelAt is a context that cancels itself on the at-th call of Err, so
// that a test cancels a planner in the middle of its work, at a point that
// does not depend on timing. It records when it cancelled, and the longest
// time between two calls of Err (the longest a cancel from elsewhere could
// wait to be seen).
type cancelAt struct {
	context.Context
	cancel context.CancelFunc
	calls  atomic.Int64
	at     int64
	mu     sync.Mutex
	when   time.Time
	last   time.Time
	gap    time.Duration
}

func newCancelAt(at int64) *cancelAt {
	ctx, cancel := context.WithCancel(context.Background())
	return &cancelAt{Context: ctx, cancel: cancel, at: at}
}

func (c *cancelAt) Err() error {
	now := time.Now()
	c.mu.Lock()
	if !c.last.IsZero() {
		c.gap = max(c.gap, now.Sub(c.last))
	}
	c.last = now
	c.mu.Unlock()
	if c.calls.Add(1) == c.at {
		c.mu.Lock()
		c.when = now
		c.mu.Unlock()
		c.cancel()
	}
	return c.Context.Err()
}

func (c *cancelAt) cancelled() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.when, !c.when.IsZero()
}

// TestCancelDuringPlan cancels each long planner in the middle of a large
// plan (at its first, middle and last look at ctx) and checks that it
// returns ctx's error promptly. The bound asserted is generous (1 s: the
// machine is shared); the measured worst case is logged.
func TestCancelDuringPlan(t *testing.T) {
	frag := scaleFragmented(3000)
	spread := scaleLayout(10000)
	onehold := addEmpty(CreateLayout(1), 9999)
	big, err := plan.Rebalance(onehold, plan.Options{})
	require.NoError(t, err)
	loaded := scaleFragmented(1000)
	per := make([]float64, slots.Count)
	for i := range per {
		per[i] = float64(i % 97)
	}
	per[77] = 1e6
	loaded.Loads = plan.LoadsOf(per)
	var placeNodes []plan.Node
	for i := range 60 {
		placeNodes = append(placeNodes, plan.Node{ID: nodeID(i), Host: nodeID(i % 9), Zone: nodeID(i % 4)})
	}
	repairLayout := &plan.Layout{}
	for i := range 60 {
		n := plan.Node{ID: nodeID(i), Host: nodeID(i % 5)}
		if i >= 20 {
			n.Role, n.Primary = plan.RoleReplica, nodeID(i%20)
		}
		repairLayout.Nodes = append(repairLayout.Nodes, n)
	}
	removeIDs := make([]string, 0, 1000)
	for i := range 1000 {
		removeIDs = append(removeIDs, nodeID(i))
	}
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"rebalance fragmented 3000", func(ctx context.Context) error {
			_, err := plan.RebalanceContext(ctx, frag, plan.Options{})
			return err
		}},
		{"rebalance onehold 10000", func(ctx context.Context) error {
			_, err := plan.RebalanceContext(ctx, onehold, plan.Options{})
			return err
		}},
		{"add 1000 to 9000", func(ctx context.Context) error {
			_, err := plan.AddNodesContext(ctx, &plan.Layout{Nodes: spread.Nodes[:9000]}, spread.Nodes[9000:])
			return err
		}},
		{"remove 1000 of 10000", func(ctx context.Context) error {
			_, err := plan.RemoveNodesContext(ctx, spread, removeIDs)
			return err
		}},
		{"reshard 10000", func(ctx context.Context) error {
			_, err := plan.ReshardContext(ctx, spread, plan.ReshardRequest{Target: nodeID(9999), Slots: 2000})
			return err
		}},
		{"validate 9999 batches", func(ctx context.Context) error { return big.ValidateContext(ctx) }},
		{"rebalance-load 1000", func(ctx context.Context) error {
			_, err := plan.RebalanceLoadContext(ctx, loaded, plan.LoadOptions{})
			return err
		}},
		{"place 60", func(ctx context.Context) error {
			_, err := plan.PlaceContext(ctx, plan.PlaceRequest{Nodes: placeNodes, Primaries: 20})
			return err
		}},
		{"repair 60", func(ctx context.Context) error {
			_, err := plan.RepairContext(ctx, repairLayout)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// How often the planner looks at ctx when nothing cancels it.
			count := newCancelAt(-1)
			require.NoError(t, tc.run(count))
			looks := count.calls.Load()
			require.Greater(t, looks, int64(1), "the planner never looks at ctx")
			count.mu.Lock()
			gap := count.gap
			count.mu.Unlock()
			var worst time.Duration
			for _, at := range []int64{1, (looks + 1) / 2, looks} {
				ctx := newCancelAt(at)
				err := tc.run(ctx)
				returned := time.Now()
				when, ok := ctx.cancelled()
				require.True(t, ok, "cancel at look %d of %d did not happen", at, looks)
				require.ErrorIs(t, err, context.Canceled, "cancel at look %d of %d", at, looks)
				worst = max(worst, returned.Sub(when))
			}
			t.Logf("%d looks at ctx, at most %v apart; worst time from cancel to return %v", looks, gap, worst)
			// The gap is wall-clock time on a shared machine (scheduling
			// and GC count), so it is reported, not asserted.
			assert.Less(t, worst, time.Second)
		})
	}
}

// TestPlanContextErrors: an already cancelled ctx stops every planner, and
// a nil one is refused.
func TestPlanContextErrors(t *testing.T) {
	l := addEmpty(CreateLayout(3), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := plan.RebalanceContext(ctx, l, plan.Options{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = plan.AddNodesContext(ctx, CreateLayout(3), []plan.Node{{ID: "x"}})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = plan.RemoveNodesContext(ctx, CreateLayout(3), []string{nodeID(0)})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = plan.ReshardContext(ctx, l, plan.ReshardRequest{Target: nodeID(3), Slots: 10})
	assert.ErrorIs(t, err, context.Canceled)
	//lint:ignore SA1012 a nil context is what is being tested
	_, err = plan.RebalanceContext(nil, l, plan.Options{})
	assert.ErrorIs(t, err, plan.ErrImpossible)
	assert.Contains(t, err.Error(), "nil context")
	_, err = plan.AddNodesContext(context.Background(), nil, nil)
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
	_, err = plan.RemoveNodesContext(context.Background(), nil, nil)
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
	_, err = plan.Rebalance(nil, plan.Options{})
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
}

// allocsOf returns the allocations and bytes one call of f makes.
func allocsOf(f func()) (allocs float64, bytes uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return testing.AllocsPerRun(1, f), after.TotalAlloc - before.TotalAlloc
}

// TestPlanMemoryLinear: the memory a plan allocates, and the size of its
// JSON, grow about linearly with the nodes, also in the worst case for
// batches (one node gives to every other, one move per batch). Version 1
// of the format, and the batching before it, grew with the square: 4×
// the nodes made 16× the bytes. The bound, 8×, leaves room for noise.
func TestPlanMemoryLinear(t *testing.T) {
	type sample struct {
		allocs float64
		bytes  uint64
		json   int
	}
	measure := func(n int) sample {
		l := addEmpty(CreateLayout(1), n-1)
		var s sample
		s.allocs, s.bytes = allocsOf(func() {
			p, err := plan.Rebalance(l, plan.Options{})
			require.NoError(t, err)
			b, err := p.Marshal()
			require.NoError(t, err)
			s.json = len(b)
		})
		return s
	}
	small, large := measure(1000), measure(4000)
	t.Logf("1000 nodes: %.0f allocs, %d B allocated, %d B of JSON; 4000 nodes: %.0f allocs, %d B, %d B",
		small.allocs, small.bytes, small.json, large.allocs, large.bytes, large.json)
	assert.Less(t, large.allocs, 8*small.allocs)
	assert.Less(t, large.bytes, 8*small.bytes)
	assert.Less(t, large.json, 8*small.json)
}

// TestPlanAtScale: the plans of 10,000 primaries keep the guarantees the
// property tests check on small layouts (balanced, the minimum moved, no
// node twice in a batch, as few batches as the busiest node has moves).
func TestPlanAtScale(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *plan.Layout
		frag bool
	}{
		{"onehold", addEmpty(CreateLayout(1), 9999), false},
		{"spread", scaleLayout(10000), false},
		{"fragmented", scaleFragmented(10000), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.Rebalance(tc.l, plan.Options{})
			require.NoError(t, err)
			checkRebalance(t, tc.l, p, tc.frag)
			deg := map[string]int{}
			most := 0
			for _, m := range p.Moves {
				deg[m.Source]++
				deg[m.Target]++
				most = max(most, deg[m.Source], deg[m.Target])
			}
			assert.Len(t, p.Batches, most)
		})
	}
}

// TestAfterBatch: AfterBatch gives the layout after each batch; the last
// is the final layout; out-of-range batches are refused.
func TestAfterBatch(t *testing.T) {
	l := addEmpty(CreateLayout(2), 3)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	require.Greater(t, len(p.Batches), 1)
	owner := ownerOf(t, l)
	idx := map[string]int{}
	for i, n := range l.Nodes {
		idx[n.ID] = i
	}
	for bi, b := range p.Batches {
		for _, mi := range b {
			for _, r := range p.Moves[mi].Ranges {
				for s := int(r.Start); s <= int(r.End); s++ {
					owner[s] = idx[p.Moves[mi].Target]
				}
			}
		}
		a, err := p.AfterBatch(bi)
		require.NoError(t, err)
		require.Len(t, a, len(l.Nodes))
		for i, n := range l.Nodes {
			var want slots.Set
			for s, o := range owner {
				if o == i {
					want.Add(slots.Slot(s))
				}
			}
			assert.Equal(t, slots.FormatRanges(want.Ranges(), " "), slots.FormatRanges(a[n.ID], " "), "batch %d node %s", bi, n.ID)
		}
	}
	last, err := p.AfterBatch(len(p.Batches) - 1)
	require.NoError(t, err)
	assert.Equal(t, p.Final(), last)
	for _, bad := range []int{-1, len(p.Batches)} {
		_, err := p.AfterBatch(bad)
		assert.ErrorIs(t, err, plan.ErrInvalidPlan)
	}
}

// v1Of rewrites a version 2 plan as the version 1 document older slotctl
// wrote: "after" with the layout after every batch instead of "final".
func v1Of(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	b, err := p.Marshal()
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	doc["version"] = 1
	delete(doc, "final")
	var after []plan.Assignment
	for i := range p.Batches {
		a, err := p.AfterBatch(i)
		require.NoError(t, err)
		after = append(after, a)
	}
	if after == nil {
		after = []plan.Assignment{}
	}
	doc["after"] = after
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

// TestParsePlanVersion1: version 1 documents are still read, their
// per-batch layouts checked, and returned in the current form.
func TestParsePlanVersion1(t *testing.T) {
	p, err := plan.Rebalance(addEmpty(CreateLayout(3), 3), plan.Options{})
	require.NoError(t, err)
	old := v1Of(t, p)
	q, err := plan.ParsePlan(old)
	require.NoError(t, err)
	assert.Equal(t, p, q)
	assert.Equal(t, plan.FormatVersion, q.Version)

	// A wrong intermediate layout is caught, naming the batch.
	var doc map[string]any
	require.NoError(t, json.Unmarshal(old, &doc))
	after := doc["after"].([]any)
	after[0] = doc["before"]
	bad, err := json.Marshal(doc)
	require.NoError(t, err)
	_, err = plan.ParsePlan(bad)
	require.ErrorIs(t, err, plan.ErrInvalidPlan)
	assert.Contains(t, err.Error(), "after[0]")

	// The fields of one version are refused in the other.
	for _, tc := range []struct{ doc, want string }{
		{strings.Replace(string(old), `"version":1`, `"version":2`, 1), `"after" is a version 1 field`},
		{strings.Replace(string(old), `"after":`, `"final":{},"after":`, 1), `version 1 has no "final"`},
		{strings.Replace(string(old), `"after":`, `"afterwards":`, 1), `unknown field`},
	} {
		_, err := plan.ParsePlan([]byte(tc.doc))
		require.ErrorIs(t, err, plan.ErrInvalidPlan, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err = plan.ParsePlan([]byte(`{"version":1,"kind":"rebalance","before":{},"moves":[],"batches":[],"summary":{}}`))
	require.ErrorIs(t, err, plan.ErrInvalidPlan)
	assert.Contains(t, err.Error(), `without "after"`)

	// An empty version 1 plan.
	empty, err := plan.ParsePlan([]byte(`{"version":1,"kind":"rebalance","before":{"a":["0-16383"]},"moves":[],"batches":[],"after":[],"summary":{}}`))
	require.NoError(t, err)
	assert.Equal(t, empty.Before, empty.Final())
}

// TestParseLayoutNull: a JSON null is not a layout.
func TestParseLayoutNull(t *testing.T) {
	for _, doc := range []string{`null`, ` null `, "null\n"} {
		_, err := plan.ParseLayout([]byte(doc))
		require.ErrorIs(t, err, plan.ErrInvalidLayout, "%q", doc)
		assert.Contains(t, err.Error(), "null")
	}
	l, err := plan.ParseLayout([]byte(`{}`))
	require.NoError(t, err, "an empty object is an empty layout")
	assert.Empty(t, l.Nodes)
}

func ExamplePlan_AfterBatch() {
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 16383}}},
		{ID: "b"}, {ID: "c"},
	}}
	p, err := plan.Rebalance(l, plan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range p.Batches {
		after, err := p.AfterBatch(i)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("after batch", i, "a:", after["a"], "b:", after["b"], "c:", after["c"])
	}
	// Output:
	// after batch 0 a: [0-10922] b: [10923-16383] c: []
	// after batch 1 a: [0-5461] b: [10923-16383] c: [5462-10922]
}

// TestCheckReportVersion: the check report keeps its own version, 1; plans
// going to version 2 did not change it.
func TestCheckReportVersion(t *testing.T) {
	rep, err := plan.Check(checkInput(8))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Version)
	assert.Equal(t, plan.CheckFormatVersion, rep.Version)
}
