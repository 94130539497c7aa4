package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
)

var cluster *clustertest.Cluster

// TestMain starts one small cluster for TestFromRouter and checks for
// leaked goroutines.
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster)
}

// TestFromRouter runs a mixed load with pipelines through router.Client
// against a real cluster: no errors, and every key reads back its last
// acknowledged value.
func TestFromRouter(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()[:1]})
	require.NoError(t, err)
	defer c.Close()
	rc := FromRouter(c)
	w, err := ParseWorkload("mixed-40-40-20")
	require.NoError(t, err)
	l, err := Start(ctx, rc, Options{Workload: w, Workers: 2, Keys: 1000, Pipeline: 8, KeyPrefix: "loadgen:test:"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { s := l.Snapshot(); return s.Ops >= 3000 }, 30*time.Second, time.Millisecond)
	s, err := l.Stop()
	require.NoError(t, err)
	assert.Zero(t, s.Errors, "first: %v", s.FirstError)
	assert.Positive(t, s.OK[Set])
	assert.Positive(t, s.OK[Incr])
	assert.Positive(t, s.PipelineLatency.Count())
	assert.Positive(t, s.Latency.Quantile(0.5))
	v, err := l.Verify(ctx, rc)
	require.NoError(t, err)
	assert.Positive(t, v.Checked)
	assert.Zero(t, v.Wrong, v.FirstWrong)
	assert.Panics(t, func() { FromRouter(nil) })
}
