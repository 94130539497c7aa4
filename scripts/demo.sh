#!/usr/bin/env bash
# The library's main job, end to end: starts a local Redis Cluster on
# 127.0.0.1, routes traffic through slotrouter while slots move and a
# primary dies, plans a rebalance, and stops everything it started.
# Flags are passed to "slotctl demo" (see: go run ./cmd/slotctl demo -h).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/need-redis.sh
. scripts/need-redis.sh
need_redis
exec go run ./cmd/slotctl demo "$@"
