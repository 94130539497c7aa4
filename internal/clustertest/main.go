package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// RequireEnv is the environment variable that, when "1", turns a missing
// redis-server into a failure instead of skipped tests.
const RequireEnv = "REQUIRE_CLUSTER"

// StartTimeout bounds each of Main's (at most two) attempts to start the
// cluster.
const StartTimeout = 60 * time.Second

// Main is a whole TestMain: it starts a cluster with opts, stores it in *c,
// runs the tests, stops the cluster, checks for leaked goroutines with
// goleak.Find(leakOpts...) and exits with the tests' code (1 when they
// passed but goroutines leaked or the cluster could not be stopped).
//
// When redis-server or redis-cli cannot be found it prints a message and,
// if the environment variable REQUIRE_CLUSTER is "1", exits with status 1;
// otherwise it runs the tests with *c == nil so that Need skips those that
// need a cluster. Any other start failure is retried once, then exits with
// status 1.
//
// On SIGINT or SIGTERM the cluster is stopped before the process exits.
// Without Options.Logf, CLUSTERTEST_VERBOSE=1 logs progress to stderr.
func Main(m *testing.M, opts Options, c **Cluster, leakOpts ...goleak.Option) {
	os.Exit(runMain(m, opts, c, leakOpts))
}

func runMain(m *testing.M, opts Options, c **Cluster, leakOpts []goleak.Option) int {
	if opts.Logf == nil && os.Getenv("CLUSTERTEST_VERBOSE") == "1" {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		}
	}
	*c = nil
	start := func() (*Cluster, error) {
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		return Start(ctx, opts)
	}
	cl, err := start()
	if err != nil && !errors.Is(err, ErrServerNotFound) {
		// One more try on fresh ports: other test binaries start clusters
		// on the same machine at the same time.
		fmt.Fprintf(os.Stderr, "clustertest: starting the cluster failed, trying once more: %v\n", err)
		cl, err = start()
	}
	switch {
	case errors.Is(err, ErrServerNotFound):
		if os.Getenv(RequireEnv) == "1" {
			fmt.Fprintf(os.Stderr, "%v (required by %s=1)\n", err, RequireEnv)
			return 1
		}
		fmt.Fprintf(os.Stderr, "%v; tests that need a Redis Cluster are skipped (set %s=1 to fail instead)\n", err, RequireEnv)
		return leakCheck(m.Run(), leakOpts)
	case err != nil:
		fmt.Fprintf(os.Stderr, "cannot start the cluster: %v\n", err)
		return 1
	}
	*c = cl

	sigs := make(chan os.Signal, 1)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer close(watchDone)
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "clustertest: %v: stopping the cluster\n", sig)
			_ = cl.Stop()
			os.Exit(1)
		case <-stopWatch:
		}
	}()

	code := m.Run()

	signal.Stop(sigs)
	close(stopWatch)
	<-watchDone
	if err := cl.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return leakCheck(code, leakOpts)
}

func leakCheck(code int, leakOpts []goleak.Option) int {
	if err := goleak.Find(leakOpts...); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: goleak: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Need returns c, or skips the test with a clear message when c is nil
// (Main found no redis-server and REQUIRE_CLUSTER is not "1"). With
// REQUIRE_CLUSTER=1 a nil c fails the test instead.
func Need(t testing.TB, c *Cluster) *Cluster {
	t.Helper()
	if c != nil {
		return c
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("clustertest: no local Redis Cluster, but %s=1 (was the cluster started with clustertest.Main?)", RequireEnv)
	}
	t.Skipf("clustertest: no local Redis Cluster (redis-server/redis-cli not found: install the Debian package redis-server or set REDIS_SERVER and REDIS_CLI); set %s=1 to make this a failure", RequireEnv)
	return nil
}
