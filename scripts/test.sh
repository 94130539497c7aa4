#!/usr/bin/env bash
# The whole test suite: formatting, vet, and every package's tests with the
# race detector against real local Redis Cluster nodes (127.0.0.1 only).
# Installs redis-server from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/need-redis.sh
. scripts/need-redis.sh
need_redis
redis-server --version

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
(cd bench && go vet ./...)
(cd otel && go vet ./...)

# go.mod and go.sum must be what "go mod tidy" makes them (every module).
for mod in . bench otel; do
	if ! (cd "$mod" && go mod tidy -diff >/dev/null); then
		echo "test.sh: go mod tidy would change $mod/go.mod or go.sum:" >&2
		(cd "$mod" && go mod tidy -diff) >&2 || true
		exit 1
	fi
done

# A missing server is a failure, not a skip.
export REQUIRE_CLUSTER=1
# One package at a time (-p 1): the packages start real clusters whose
# failure detection is Redis's own node timeout (1.5 s in clustertest);
# two packages' clusters at once on a 2-core machine starve each other's
# gossip, and a cluster can then stay in cluster_state:fail after a
# failover test (seen once: internal/clustertest's
# TestPausePrimaryFailsOver while the router package ran beside it).
go test -race -count=1 -p 1 -timeout 20m "$@" ./...
# Allocation counts, which are exact only without -race (sync.Pool drops
# items under the race detector).
go test -count=1 -timeout 5m -run 'TestDoAllocations|TestRouteDoesNotAllocate' ./router
(cd bench && go test -count=1 -timeout 5m -run 'TestAllocationsNotAboveRueidis' .)
# The component benchmarks and the diagnostic clients, once each, so that
# they keep working (their figures come from longer runs: bench/README.md).
go test -count=1 -timeout 5m -run '^$' -bench 'BenchmarkDoOverhead|BenchmarkPickConn' -benchtime 1x ./router
go test -count=1 -timeout 5m -run '^$' -bench 'BenchmarkGuardConcurrent' -benchtime 1x ./internal/wire
(cd bench && SLOTROUTER_BENCH_CLIENTS=rueidis-nodes,rueidis-nodes-sr go test -count=1 -timeout 5m -run '^$' -bench 'BenchmarkGet$|BenchmarkMixed' -benchtime 1x .)
(cd bench && SLOTROUTER_BENCH_CLIENTS=rueidis,slotrouter,slotrouter-face,rueidis-nodes-sr go test -count=1 -timeout 5m -run '^$' -bench 'BenchmarkMem' -benchtime 1x .)
# The peer comparisons (a nested module, so peers stay out of go.mod).
(cd bench && go test -race -count=1 -timeout 10m "$@" ./...)
# The OpenTelemetry integration (a nested module, so OTel stays out of go.mod).
(cd otel && go test -race -count=1 -timeout 5m "$@" ./...)
