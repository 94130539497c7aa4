package router_test

import (
	"testing"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// cluster is the real local Redis Cluster the server-backed tests ask;
// nil only when redis-server is missing and REQUIRE_CLUSTER is not set.
var cluster *clustertest.Cluster

// TestMain starts a three-primary cluster on loopback ports, runs the
// tests, stops the cluster and checks for leaked goroutines.
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster)
}
