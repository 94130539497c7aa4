#!/usr/bin/env bash
# bench-commits.sh OLD NEW PKG PATTERN: compares two commits on one
# package's benchmarks, round by round. It builds PKG's test binary at
# OLD and at NEW (git worktrees in a temporary directory), then runs
# ROUNDS rounds (default 30); in each, both binaries run the benchmarks
# matching PATTERN once, in processes of their own, in a random order,
# with -test.benchtime BENCHTIME (default 2000000x). A line "# round N"
# starts each round, and every benchmark's name gets /client=old or
# /client=new before its -N, for bench/cmd/paired (which pairs the two
# figures of a round) and for benchstat.
#
# NOCLUSTER=1 is for benchmarks that need no server (BenchmarkRoute):
# the binaries run with REDIS_SERVER naming no file and without
# REQUIRE_CLUSTER, so that their TestMain starts no cluster (tests that
# need one skip). A process then takes a fraction of a second instead
# of a cluster's start, and the two runs of a round are that much closer
# in time, so the machine's state changes less between them.
#
#   scripts/bench-commits.sh fb424a8 HEAD ./router 'BenchmarkRoute/(GET|SET)$' > r.txt
#   (cd bench && go run ./cmd/paired -base old ../r.txt)
#   benchstat -col '/client@(old new)' r.txt
set -euo pipefail
old=${1:?usage: bench-commits.sh OLD NEW PKG PATTERN}
new=${2:?usage: bench-commits.sh OLD NEW PKG PATTERN}
pkg=${3:?usage: bench-commits.sh OLD NEW PKG PATTERN}
pattern=${4:?usage: bench-commits.sh OLD NEW PKG PATTERN}
rounds=${ROUNDS:-30}
benchtime=${BENCHTIME:-2000000x}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
cleanup() {
	git worktree remove --force "$dir/old" 2>/dev/null || true
	git worktree remove --force "$dir/new" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
for v in old new; do
	rev=$old
	[ "$v" = new ] && rev=$new
	git worktree add --detach --quiet "$dir/$v" "$rev"
	(cd "$dir/$v" && go test -c -o "$dir/$v.test" "$pkg")
done
echo "# old: $(git rev-parse --short "$old"), new: $(git rev-parse --short "$new"), $pkg '$pattern', -test.benchtime $benchtime, NOCLUSTER=${NOCLUSTER:-}"
i=1
while [ "$i" -le "$rounds" ]; do
	echo "# round $i"
	for v in $(printf 'old\nnew\n' | shuf); do
		if [ "${NOCLUSTER:-}" = 1 ]; then
			env -u REQUIRE_CLUSTER REDIS_SERVER=/nonexistent/redis-server \
				"$dir/$v.test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
				-test.benchtime "$benchtime" >"$dir/out" 2>&1 || { cat "$dir/out" >&2; exit 1; }
		else
			"$dir/$v.test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
				-test.benchtime "$benchtime" >"$dir/out" 2>&1 || { cat "$dir/out" >&2; exit 1; }
		fi
		grep '^Benchmark' "$dir/out" | sed -E "s#^(Benchmark[^[:space:]]*)-([0-9]+)([[:space:]])#\1/client=$v-\2\3#"
	done
	i=$((i + 1))
done
