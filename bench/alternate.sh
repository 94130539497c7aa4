#!/bin/sh
# alternate.sh PATTERN CLIENT...: ROUNDS rounds (default 20) of the
# benchmarks matching PATTERN; in each round every client runs once, in
# a process of its own, in a random order, with -test.benchtime
# BENCHTIME (default 400000x). A line "# round N" starts each round, for
# cmd/paired; benchstat reads the output too. A client written NAME+again
# runs NAME once more under the label NAME-again: an A/A control, which
# shows what difference this machine makes between two runs of the same
# client.
#
#   ./alternate.sh 'BenchmarkMixed/goroutines=64$' rueidis rueidis+again slotrouter > t.txt
#   go run ./cmd/paired -base rueidis t.txt
#   benchstat -col '/client@(rueidis rueidis-again slotrouter)' t.txt
set -eu
pattern=${1:?usage: alternate.sh PATTERN CLIENT...}
shift
[ $# -gt 0 ] || { echo "usage: alternate.sh PATTERN CLIENT..." >&2; exit 2; }
rounds=${ROUNDS:-20}
benchtime=${BENCHTIME:-400000x}
cd "$(dirname "$0")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" .
i=1
while [ "$i" -le "$rounds" ]; do
	echo "# round $i"
	for c in $(printf '%s\n' "$@" | shuf); do
		name=${c%+again}
		label=$name
		[ "$name" = "$c" ] || label=$name-again
		SLOTROUTER_BENCH_CLIENTS=$name "$dir/bench.test" -test.run '^$' -test.bench "$pattern" \
			-test.benchmem -test.benchtime "$benchtime" >"$dir/out" 2>&1 || { cat "$dir/out" >&2; exit 1; }
		grep '^Benchmark' "$dir/out" | sed "s|/client=$name-\([0-9][0-9]*\)\([[:space:]]\)|/client=$label-\1\2|"
	done
	i=$((i + 1))
done
