package slotrouterotel_test

import (
	"testing"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// cluster is the shared cluster of the live tests (three primaries, no
// replicas); nil only when redis-server is missing and REQUIRE_CLUSTER is
// not set, and then the live tests are skipped.
var cluster *clustertest.Cluster

// TestMain starts the cluster on loopback ports, runs the tests, stops it
// and checks with goleak that nothing leaked (clustertest.Main does).
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster)
}
