#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are on PATH, installing Debian's
# redis-server package when they are missing (needs root). Sourced by the
# other scripts; also runnable on its own.
need_redis() {
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
		return 0
	fi
	echo "redis-server not found; installing Debian's redis-server package" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "need root to install it: sudo apt-get install -y redis-server" >&2
		return 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	need_redis
fi
