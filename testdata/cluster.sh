#!/usr/bin/env bash
# cluster.sh: a local Redis Cluster on 127.0.0.1 for humans (demos, slotctl,
# poking around). Tests use the Go package internal/clustertest instead.
#
#   testdata/cluster.sh start [primaries] [replicas] [baseport]
#       default 3 primaries, 0 replicas, ports 30001.. (bus ports +10000)
#   testdata/cluster.sh stop      kill exactly the recorded pids
#   testdata/cluster.sh status    pids, roles, cluster_state
#
# Everything lives in ${TMPDIR:-/tmp}/slotrouter-cluster/<port>/ (redis.conf,
# redis.log, nodes.conf, redis.pid). Environment: REDIS_SERVER, REDIS_CLI
# (binaries), NODE_TIMEOUT (cluster-node-timeout in ms, default 1500).
set -euo pipefail

BASE_DIR="${TMPDIR:-/tmp}/slotrouter-cluster"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
NODE_TIMEOUT="${NODE_TIMEOUT:-1500}"
HOST=127.0.0.1

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^[^#]/{/^#/p;}' "$0" | sed 's/^# \{0,1\}//'
}

is_uint() {
	[[ "$1" =~ ^[0-9]+$ ]]
}

cli() {
	local port="$1"
	shift
	"$REDIS_CLI" -h "$HOST" -p "$port" "$@"
}

# node_dirs prints the node directories, one per line, sorted by port.
node_dirs() {
	local d
	[[ -d "$BASE_DIR" ]] || return 0
	for d in "$BASE_DIR"/*/; do
		[[ -f "${d}redis.conf" ]] && echo "${d%/}"
	done | sort -V
}

# pid_alive PIDFILE: true when the recorded pid is a running redis-server.
pid_alive() {
	local pidfile="$1" pid
	[[ -f "$pidfile" ]] || return 1
	pid="$(<"$pidfile")"
	is_uint "$pid" || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'redis-server'
}

write_config() {
	local port="$1" dir="$2"
	cat >"$dir/redis.conf" <<EOF
port $port
bind $HOST
daemonize yes
pidfile "$dir/redis.pid"
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout $NODE_TIMEOUT
appendonly no
save ""
repl-diskless-sync yes
repl-diskless-sync-delay 0
enable-debug-command local
logfile "$dir/redis.log"
dir "$dir"
EOF
}

port_in_use() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

wait_ping() {
	local port="$1" i
	for ((i = 0; i < 200; i++)); do
		if [[ "$(cli "$port" ping 2>/dev/null)" == "PONG" ]]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

wait_ok() {
	local i port ok
	for ((i = 0; i < 600; i++)); do
		ok=1
		for port in "$@"; do
			if ! cli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
				ok=0
				break
			fi
		done
		((ok)) && return 0
		sleep 0.1
	done
	return 1
}

start() {
	local primaries="${1:-3}" replicas="${2:-0}" base="${3:-30001}"
	if ! is_uint "$primaries" || ((primaries < 1)); then
		die "primaries must be a positive integer"
	fi
	is_uint "$replicas" || die "replicas must be a non-negative integer"
	if ! is_uint "$base" || ((base < 1024 || base > 55535)); then
		die "baseport must be in [1024, 55535]"
	fi
	command -v "$REDIS_SERVER" >/dev/null || die "$REDIS_SERVER not found (install the Debian package redis-server)"
	command -v "$REDIS_CLI" >/dev/null || die "$REDIS_CLI not found"

	local dir
	while read -r dir; do
		pid_alive "$dir/redis.pid" && die "a cluster is running in $BASE_DIR; run '$0 stop' first"
	done < <(node_dirs)
	rm -rf "$BASE_DIR"
	mkdir -p "$BASE_DIR"

	local total=$((primaries * (1 + replicas))) i port
	local -a ports=()
	((base + total - 1 + 10000 <= 65535)) || die "baseport too high for $total nodes"
	for ((i = 0; i < total; i++)); do
		port=$((base + i))
		if port_in_use "$port" || port_in_use $((port + 10000)); then
			die "port $port or $((port + 10000)) is in use on $HOST; choose another baseport"
		fi
	done
	for ((i = 0; i < total; i++)); do
		port=$((base + i))
		dir="$BASE_DIR/$port"
		mkdir -p "$dir"
		write_config "$port" "$dir"
		"$REDIS_SERVER" "$dir/redis.conf" || die "redis-server on port $port did not start; see $dir/redis.log"
		ports+=("$port")
	done
	for port in "${ports[@]}"; do
		if ! wait_ping "$port"; then
			tail -n 20 "$BASE_DIR/$port/redis.log" >&2 || true
			die "node on port $port did not answer; '$0 stop' cleans up"
		fi
		pid_alive "$BASE_DIR/$port/redis.pid" || die "no pid recorded for port $port"
	done

	if ((primaries >= 3)); then
		local -a addrs=()
		for port in "${ports[@]}"; do
			addrs+=("$HOST:$port")
		done
		"$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes >"$BASE_DIR/create.log" 2>&1 ||
			{ cat "$BASE_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
	else
		# redis-cli wants at least 3 primaries: build small clusters by hand.
		local lo hi id
		for ((i = 0; i < primaries; i++)); do
			lo=$((i * 16384 / primaries))
			hi=$(((i + 1) * 16384 / primaries - 1))
			cli "${ports[i]}" cluster addslotsrange "$lo" "$hi" >/dev/null
		done
		for ((i = 0; i < total; i++)); do
			cli "${ports[i]}" cluster set-config-epoch $((i + 1)) >/dev/null
			((i == 0)) || cli "${ports[i]}" cluster meet "$HOST" "${ports[0]}" >/dev/null
		done
		for ((i = primaries; i < total; i++)); do
			id="$(cli "${ports[$(((i - primaries) % primaries))]}" cluster myid)"
			local tries=0
			until [[ "$(cli "${ports[i]}" cluster replicate "$id" 2>&1)" == "OK" ]]; do
				((++tries < 200)) || die "port ${ports[i]} could not replicate $id"
				sleep 0.05
			done
		done
	fi
	wait_ok "${ports[@]}" || die "cluster did not reach cluster_state:ok"

	echo "cluster up in $BASE_DIR ($primaries primaries, $replicas replicas each):"
	for port in "${ports[@]}"; do
		echo "  $HOST:$port  pid $(<"$BASE_DIR/$port/redis.pid")  $(role "$port")"
	done
	local seeds
	seeds="$(printf '%s,' "${ports[@]/#/$HOST:}")"
	echo "seeds: ${seeds%,}"
}

role() {
	local port="$1" r
	r="$(cli "$port" role 2>/dev/null | head -n 1)" || true
	echo "${r:-down}"
}

stop() {
	local dir pid any=0 i
	while read -r dir; do
		if pid_alive "$dir/redis.pid"; then
			pid="$(<"$dir/redis.pid")"
			kill "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				[[ -e "/proc/$pid" ]] || break
				sleep 0.1
			done
			if [[ -e "/proc/$pid" ]]; then
				kill -9 "$pid" 2>/dev/null || true
			fi
			echo "stopped pid $pid ($(basename "$dir"))"
			any=1
		fi
		rm -f "$dir/redis.pid"
	done < <(node_dirs)
	((any)) || echo "no running node recorded in $BASE_DIR"
}

status() {
	local dir port pid state
	if [[ -z "$(node_dirs)" ]]; then
		echo "no cluster in $BASE_DIR"
		return 0
	fi
	while read -r dir; do
		port="$(basename "$dir")"
		if pid_alive "$dir/redis.pid"; then
			pid="$(<"$dir/redis.pid")"
			state="$(cli "$port" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')"
			echo "$HOST:$port  pid $pid  $(role "$port")  cluster_state:${state:-?}"
		else
			echo "$HOST:$port  not running"
		fi
	done < <(node_dirs)
}

case "${1:-}" in
start)
	shift
	start "$@"
	;;
stop) stop ;;
status) status ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
