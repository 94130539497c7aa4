package bench_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
)

const (
	// failoverMaxWait bounds how long after the kill the loops wait for
	// every client to write again.
	failoverMaxWait = 15 * time.Second
	// failoverSettle is how long the loops go on once every client
	// wrote again and the failover is complete, to count late errors.
	failoverSettle = time.Second
	// failoverPace is the pause after every operation of the loops, so
	// that error counts are comparable: a client that fails fast and one
	// that retries inside the call both make at most one attempt per
	// pace (plus the call's own time).
	failoverPace = 5 * time.Millisecond
	// failoverMaxOps bounds each loop.
	failoverMaxOps = 100000
	// failoverKeys is how many keys each client works on, all on the
	// killed primary's shard.
	failoverKeys = 16
)

// failoverStats is one client's view of the failover: operations and
// errors that started after the kill, and how long after the kill the
// first read and the first write that started after it succeeded.
type failoverStats struct {
	opStats
	preKillErrs atomic.Int64
	firstRead   atomic.Int64 // nanoseconds after the kill; 0: none yet
	firstWrite  atomic.Int64
}

// since formats a firstRead/firstWrite value.
func since(ns int64) string {
	if ns == 0 {
		return "none"
	}
	return time.Duration(ns).Round(time.Millisecond).String()
}

// TestFailoverCompare starts its own cluster of 3 primaries with one
// replica each, and kills -9 the primary of the shard that holds the
// test's keys while every client runs a writer (SET) and a reader (GET)
// loop on those keys (one operation every 5 ms, each bounded by 2 s).
// For each client it reports the errors surfaced after the kill and the
// time from the kill to the first successful read and write that started
// after it; the failover itself (replica promoted, cluster healthy) is
// timed by clustertest.WaitFailover. The loops end 1 s after every client
// wrote again, or 16 s after the kill. The killed node is restarted
// (it rejoins as a replica) and every client must write once more.
//
// Asserted: no client errs before the kill, and slotrouter writes again
// within the bound. The peers' numbers are reported only. Note that
// slotrouter's reads fall back to the replica as soon as the primary's
// breaker opens (a read of possibly stale data), while go-redis and
// rueidis, with their default options, read from primaries only.
func TestFailoverCompare(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1})
	if errors.Is(err, clustertest.ErrServerNotFound) {
		clustertest.Need(t, nil) // skips, or fails under REQUIRE_CLUSTER=1
		return
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })

	const tag = "{failover}"
	primary, err := cl.OwnerOf(ctx, uint16(slots.Of(tag)))
	require.NoError(t, err)
	clients := make([]client, len(clientNames))
	keys := make([][]string, len(clientNames))
	for i, name := range clientNames {
		clients[i] = mustClient(t, name, cl.Addrs())
		for j := range failoverKeys {
			keys[i] = append(keys[i], fmt.Sprintf("%s:%s:%d", tag, name, j))
		}
		require.NoError(t, setAll(ctx, clients[i], keys[i]), name)
	}
	_, err = cl.Do(ctx, primary, "WAIT", "1", "2000") // the replica has the keys
	require.NoError(t, err)

	// killAt is the UnixNano just before the SIGKILL (0 before): an
	// operation that ends later counts as after the kill. deadAt is when
	// the process is reaped: only an operation that began later can be a
	// first success, since it cannot have been served by the old primary.
	var killAt, deadAt atomic.Int64
	stop := make(chan struct{})
	stats := make([]failoverStats, len(clientNames))
	var wg sync.WaitGroup
	for i := range clientNames {
		for _, write := range []bool{false, true} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := &stats[i]
				first := &st.firstRead
				if write {
					first = &st.firstWrite
				}
				for n := 0; n < failoverMaxOps; n++ {
					select {
					case <-stop:
						return
					case <-time.After(failoverPace):
					}
					began := time.Now().UnixNano()
					err := doOp(clients[i], write, keys[i][n%failoverKeys])
					k := killAt.Load()
					switch {
					case k == 0: // ended before the kill
						if err != nil {
							st.preKillErrs.Add(1)
						}
					default: // an operation in flight at the kill counts too
						st.record(err)
						if d := deadAt.Load(); err == nil && d != 0 && began >= d {
							first.CompareAndSwap(0, time.Now().UnixNano()-k)
						}
					}
				}
			}()
		}
	}
	stopLoops := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoops()

	time.Sleep(200 * time.Millisecond) // the loops run on a healthy cluster first
	killed := time.Now()
	killAt.Store(killed.UnixNano())
	require.NoError(t, cl.Kill(primary))
	deadAt.Store(time.Now().UnixNano())
	newPrimary, err := cl.WaitFailover(ctx, primary)
	require.NoError(t, err)
	failover := time.Since(killed)
	for time.Since(killed) < failoverMaxWait {
		all := true
		for i := range stats {
			all = all && stats[i].firstWrite.Load() != 0
		}
		if all {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(failoverSettle)
	stopLoops()

	t.Logf("killed primary %s; %s promoted, cluster healthy %v after the kill",
		primary, newPrimary, failover.Round(time.Millisecond))
	t.Logf("%-11s %6s %7s %11s %11s  %s", "client", "ops", "errors", "first read", "first write", "first errors")
	for i, name := range clientNames {
		st := &stats[i]
		t.Logf("%-11s %6d %7d %11s %11s  %s", name, st.ops.Load(), st.errs.Load(),
			since(st.firstRead.Load()), since(st.firstWrite.Load()), st.sampleText())
		assert.Zero(t, st.preKillErrs.Load(), "%s: no error before the kill", name)
	}
	assert.NotZero(t, stats[0].firstWrite.Load(), "slotrouter writes again within %v", failoverMaxWait)

	require.NoError(t, cl.Restart(ctx, primary))
	for i, name := range clientNames {
		var err error
		for range 50 { // bounded: about 5 s
			if err = doOp(clients[i], true, keys[i][0]); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.NoError(t, err, "%s writes after the old primary rejoined", name)
	}
}
