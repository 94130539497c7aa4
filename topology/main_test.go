package topology

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// cluster is the package's shared 3x1 cluster, started by TestMain. Tests
// that change it leave it healthy (every slot covered, every node agreeing)
// for the next one.
var cluster *clustertest.Cluster

// TestMain starts a real local cluster for the *_live_test.go tests and
// checks, once everything ran, that no goroutine leaked (goleak): every
// Refresher and Loader the tests created must have been closed.
func TestMain(m *testing.M) {
	opts := clustertest.Options{Primaries: 3, Replicas: 1}
	if os.Getenv("CLUSTERTEST_VERBOSE") == "1" {
		opts.Logf = func(format string, args ...any) {
			println(time.Now().Format("15:04:05.000"), " ", format, args)
		}
	}
	clustertest.Main(m, opts, &cluster)
}

// liveCtx returns a context that ends after d or with the test.
func liveCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
