//go:build !race

package bench_test

// raceEnabled reports a -race build: sync.Pool drops some of what is put
// in it under the race detector, so allocation counts are not exact.
const raceEnabled = false
