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
// One peer goroutine is ignored: after a topology refresh that drops
// connections, rueidis (v1.0.79, cluster.go, (*clusterClient)._refresh)
// closes the dropped ones from a goroutine that sleeps 5 s first and does
// not watch Close, so it can outlive the client by up to 5 s. go-redis
// needs no exception.
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
}
