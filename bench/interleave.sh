#!/bin/sh
# interleave.sh PATTERN: runs the benchmarks matching PATTERN in ROUNDS
# rounds (default 10), each round a fresh process that runs every client
# once, in a random order (eachClient), so that the clients are measured
# alternately. (`go test -count N` runs one client's N rounds back to
# back, then the next client's: drift of this shared machine between the
# blocks then reads as a difference between the clients.) The output is
# benchstat's input; SLOTROUTER_BENCH_CLIENTS chooses the clients.
#
#   ./interleave.sh 'BenchmarkGet$|BenchmarkMixed' > t.txt
#   benchstat -filter '/client:(rueidis OR slotrouter)' -col '/client@(rueidis slotrouter)' t.txt
set -eu
pattern=${1:?usage: interleave.sh PATTERN}
rounds=${ROUNDS:-10}
cd "$(dirname "$0")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" .
i=0
while [ "$i" -lt "$rounds" ]; do
	"$dir/bench.test" -test.run '^$' -test.bench "$pattern" -test.benchmem -test.count 1
	i=$((i + 1))
done
