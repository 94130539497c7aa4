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

# A missing server is a failure, not a skip.
export REQUIRE_CLUSTER=1
go test -race -count=1 -timeout 15m "$@" ./...
# The peer comparisons (a nested module, so peers stay out of go.mod).
(cd bench && go test -race -count=1 -timeout 10m "$@" ./...)
