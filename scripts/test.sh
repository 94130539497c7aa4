#!/usr/bin/env bash
# The whole test suite: formatting, vet, and every package's tests with the
# race detector against real local Redis Cluster nodes (127.0.0.1 only).
# Installs redis-server from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "test.sh: redis-server not found; installing Debian's redis-server package" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: need root (or sudo apt-get install -y redis-server) to install redis-server" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

# A missing server is a failure, not a skip.
export REQUIRE_CLUSTER=1
go test -race -count=1 -timeout 15m "$@" ./...
