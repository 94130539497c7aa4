package bench_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// cluster is the shared three-primary cluster of the benchmarks and of
// TestReshardCompare; nil only when redis-server is missing and
// REQUIRE_CLUSTER is not set.
var cluster *clustertest.Cluster

// TestMain starts a three-primary cluster on loopback ports, runs the
// tests and benchmarks, stops the cluster and checks with goleak that
// every client (ours and the peers) released its goroutines on Close.
//
// Two peer goroutines of rueidis's cluster client are ignored (v1.0.79;
// slotrouter uses rueidis single-node clients only): after a topology
// refresh that drops connections, (*clusterClient)._refresh closes the
// dropped ones from a goroutine that sleeps 5 s first; and a lazy refresh
// is scheduled by (*call).DelayDo (singleflight.go) from a goroutine that
// sleeps up to about a second first. Neither watches Close, so either can
// outlive the client briefly. One of go-redis (v9.23.0) is ignored too:
// once as many dials to a node failed as the pool has connections,
// (*ConnPool).tryDial (internal/pool/pool.go) probes the node every second
// until a dial succeeds or the pool is closed, checking only between
// probes, so it can outlive Close by about a second (seen after the
// availability scenarios, whose last run ends with the cluster stopped).
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}
