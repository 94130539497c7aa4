// Package bench compares slotrouter with the leading Go Redis Cluster
// clients, go-redis (github.com/redis/go-redis/v9) and rueidis
// (github.com/redis/rueidis), on a real local cluster.
//
// It is a nested module so that the peer clients never enter the
// library's go.mod. Everything lives in the test files:
//
//   - benchmarks (bench_test.go, slot_test.go) whose sub-benchmarks are
//     named client=slotrouter, client=go-redis and client=rueidis, so that
//     "benchstat -col /client" shows them side by side;
//   - behaviour comparisons (reshard_test.go, availability_test.go) that
//     run every client through the same slot migration and the same
//     failovers (kill -9, SIGSTOP) and report the errors each one surfaced
//     to its caller; the full availability scenarios are opt-in
//     (SLOTROUTER_SCENARIOS=1), a short smoke version always runs.
//   - the rueidis ecosystem over slotrouter's rueidis face
//     (compat_test.go: go-redis's API through rueidiscompat; lock_test.go:
//     rueidislock built with router.RueidisBuilder, through a kill -9
//     failover); BenchmarkGet with SLOTROUTER_BENCH_CLIENTS naming
//     slotrouter-face compares the face too.
//
// The cluster is started by internal/clustertest (127.0.0.1 only). See
// README.md for how to run the benchmarks and the results.
package bench
