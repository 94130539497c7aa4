package bench_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

// Issue 12's live-reshard scenario, opt-in (SLOTROUTER_SCENARIOS=1):
// for each client, alone on the shared cluster, 64 goroutines run 80 %
// GET / 20 % SET over the benchmark keys (every primary) for a baseline
// window, then 1,000 slots move from one primary to another under that
// load, and move back afterwards (behind the next client's back, not
// measured). It reports throughput before and during the move, errors,
// and the MOVED and ASK replies the servers sent meanwhile (INFO
// errorstats: the peers do not count them).
const (
	thrWorkers  = 64
	thrSlots    = 1000
	thrBaseline = 3 * time.Second
)

func TestReshardThroughput(t *testing.T) {
	if os.Getenv(scenariosEnv) == "" {
		t.Skip("opt-in scenario: set " + scenariosEnv + "=1")
	}
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	seed(t, cl)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	from, to := ps[0], ps[1]

	names := benchClientsOr(t, []string{"slotrouter", "slotrouter-face", "rueidis", "go-redis"})
	t.Logf("%-16s %10s %10s %6s %6s %7s %6s", "client", "before/s", "during/s", "ratio", "errors", "MOVED", "ASK")
	for _, name := range names {
		c := mustClient(t, name, cl.Addrs())
		for i := range 64 { // warm up: a connection to every primary
			_, err := c.Get(ctx, benchKeys[i*(numKeys/64)])
			require.NoError(t, err, name)
		}
		var ops, errs atomic.Int64
		var firstErr atomic.Pointer[error]
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range thrWorkers {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					case <-ctx.Done():
						return
					default:
					}
					k := benchKeys[(g*131+n*7)%numKeys]
					octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
					var err error
					if n%5 == 4 {
						err = c.Set(octx, k, value)
					} else {
						_, err = c.Get(octx, k)
					}
					ocancel()
					ops.Add(1)
					if err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, &err)
					}
				}
			})
		}
		stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopLoad() // also when a require below ends the test
		// Baseline.
		b0, t0 := ops.Load(), time.Now()
		require.NoError(t, sleepCtx(ctx, thrBaseline))
		before := float64(ops.Load()-b0) / time.Since(t0).Seconds()
		// The move, under load.
		m0, a0 := redirectsSent(t, ctx, cl)
		d0, t1 := ops.Load(), time.Now()
		moved, moveErr := cl.MoveSlots(ctx, from, to, thrSlots)
		during := float64(ops.Load()-d0) / time.Since(t1).Seconds()
		took := time.Since(t1)
		m1, a1 := redirectsSent(t, ctx, cl)
		stopLoad()
		require.NoError(t, moveErr)
		require.Len(t, moved, thrSlots)
		t.Logf("%-16s %10.0f %10.0f %6.2f %6d %7d %6d   (move took %v)", name, before, during, during/before,
			errs.Load(), m1-m0, a1-a0, took.Round(time.Millisecond))
		if e := firstErr.Load(); e != nil {
			t.Logf("%s: first error: %v", name, *e)
		}
		if strings.HasPrefix(name, "slotrouter") {
			assert.Zero(t, errs.Load(), "%s surfaces no error while slots move", name)
		}
		c.Close()
		// Back, for the next client (nobody is loading the cluster now).
		back, err := cl.SlotsOf(ctx, to)
		require.NoError(t, err)
		var list []uint16
		for _, s := range back {
			for _, m := range moved {
				if s == m {
					list = append(list, s)
					break
				}
			}
		}
		require.NoError(t, cl.MoveSlotList(ctx, to, from, list))
	}
}

// redirectsSent sums the MOVED and ASK error replies every node has sent
// (INFO errorstats).
func redirectsSent(t *testing.T, ctx context.Context, cl *clustertest.Cluster) (moved, ask int64) {
	t.Helper()
	for _, n := range cl.Nodes() {
		msg, err := cl.Do(ctx, n, "INFO", "errorstats")
		if err != nil {
			continue // a node that is down sends nothing
		}
		s, _ := msg.ToString()
		moved += errorStat(s, "MOVED")
		ask += errorStat(s, "ASK")
	}
	return moved, ask
}

// errorStat reads "errorstat_<name>:count=N" from INFO errorstats.
func errorStat(info, name string) int64 {
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "errorstat_"+name+":count=")
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, ','); i >= 0 {
			rest = rest[:i]
		}
		n, _ := strconv.ParseInt(rest, 10, 64)
		return n
	}
	return 0
}
