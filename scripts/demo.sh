#!/usr/bin/env bash
# The library's main job, end to end: starts a local Redis Cluster on
# 127.0.0.1, routes traffic through slotrouter while slots move and a
# primary dies, plans a rebalance and applies it under load, and stops
# everything it started. Flags are passed to cmd/slotdemo (see: go run
# ./cmd/slotdemo -h).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/need-redis.sh
. scripts/need-redis.sh
need_redis
exec go run ./cmd/slotdemo "$@"
