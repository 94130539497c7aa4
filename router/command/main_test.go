package command_test

import (
	"context"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// cluster is the real local Redis Cluster the server-backed tests ask
// (COMMAND, COMMAND GETKEYS, CLUSTER KEYSLOT, SPUBLISH); nil only when
// redis-server is missing and REQUIRE_CLUSTER is not set.
var cluster *clustertest.Cluster

// TestMain starts a three-primary cluster on loopback ports, runs the
// tests, stops the cluster and checks for leaked goroutines.
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster)
}

// liveCtx is a context for one live test, cancelled when it ends.
func liveCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
