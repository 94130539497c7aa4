package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPaired: ratios are taken within a round (marked, or started by a
// client met again), against the base client, for the unit asked.
func TestPaired(t *testing.T) {
	in := `goos: linux
# round 1
BenchmarkMixed/goroutines=64/client=slotrouter-2   	  400000	      110 ns/op	      220 cpu-ns/op
BenchmarkMixed/goroutines=64/client=rueidis-2      	  400000	      100 ns/op	      200 cpu-ns/op
BenchmarkGet/client=rueidis-2                      	  400000	      50 ns/op
# round 2
BenchmarkMixed/goroutines=64/client=rueidis-2      	  400000	      200 ns/op	      400 cpu-ns/op
BenchmarkMixed/goroutines=64/client=slotrouter-2   	  400000	      180 ns/op	      360 cpu-ns/op
BenchmarkMixed/goroutines=64/client=rueidis-2      	  400000	      10 ns/op	      10 cpu-ns/op
BenchmarkMixed/goroutines=64/client=slotrouter-2   	  400000	      12 ns/op	      12 cpu-ns/op
BenchmarkSlot/len=8-2                              	  400000	      1 ns/op
`
	var rs rounds
	require.NoError(t, rs.read(strings.NewReader(in), "ns/op"))
	require.Len(t, rs.list, 3, "two marked rounds, a third started by rueidis met again")
	out, err := rs.report("rueidis")
	require.NoError(t, err)
	// ratios 1.1, 0.9, 1.2: median 1.1, slower in 2 of 3
	assert.Contains(t, out, "BenchmarkMixed/goroutines=64")
	assert.Regexp(t, `slotrouter\s+3\s+1\.100\s+\[0\.900, 1\.200\]\s+2/3`, out)
	assert.NotContains(t, out, "BenchmarkGet", "no other client to compare in BenchmarkGet")
	assert.NotContains(t, out, "BenchmarkSlot")

	rs = rounds{}
	require.NoError(t, rs.read(strings.NewReader(in), "cpu-ns/op"))
	out, err = rs.report("slotrouter")
	require.NoError(t, err)
	assert.Regexp(t, `rueidis\s+3\s+0\.909`, out)

	_, err = rs.report("go-redis")
	assert.ErrorContains(t, err, "no round measured go-redis")

	rs = rounds{}
	err = rs.read(strings.NewReader("BenchmarkX/client=a-2 1 zz ns/op\n"), "ns/op")
	assert.ErrorContains(t, err, "invalid syntax")
}

// TestPairedClientInside: a client element followed by others
// (TestReshardThroughput's lines) is taken out of the benchmark's name,
// which keeps the elements after it.
func TestPairedClientInside(t *testing.T) {
	in := `BenchmarkReshard/client=control/move=there 1 0.80 during/before 100 lost-ops
BenchmarkReshard/client=control/move=back 1 0.90 during/before 100 lost-ops
BenchmarkReshard/client=slotrouter/move=there 1 0.88 during/before 100 lost-ops
BenchmarkReshard/client=slotrouter/move=back 1 0.90 during/before 100 lost-ops
BenchmarkReshard/client=control/move=there 1 0.50 during/before 100 lost-ops
BenchmarkReshard/client=slotrouter/move=there 1 0.60 during/before 100 lost-ops
`
	var rs rounds
	require.NoError(t, rs.read(strings.NewReader(in), "during/before"))
	require.Len(t, rs.list, 2, "the second round starts with control met again")
	out, err := rs.report("control")
	require.NoError(t, err)
	// there: 1.1 and 1.2; back: 1.0
	assert.Regexp(t, `BenchmarkReshard/move=there\s+slotrouter\s+2\s+1\.150`, out)
	assert.Regexp(t, `BenchmarkReshard/move=back\s+slotrouter\s+1\s+1\.000`, out)
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	lo, hi := bootstrapMedian([]float64{1, 1, 1}, 100)
	assert.Equal(t, 1.0, lo)
	assert.Equal(t, 1.0, hi)
}
