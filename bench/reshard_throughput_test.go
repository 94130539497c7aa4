package bench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/internal/livelayout"
	"github.com/slotrouter/slotrouter/migrate"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// Issue 12's live-reshard scenario, opt-in (SLOTROUTER_SCENARIOS=1):
// for each client, alone on the shared cluster, 64 goroutines run 80 %
// GET / 20 % SET over the benchmark keys (every primary) for a baseline
// window, then 1,000 slots move from one primary to another under that
// load, and move back afterwards (behind the next client's back, not
// measured). It reports throughput before and during the move, errors,
// and the MOVED and ASK replies the servers sent meanwhile (INFO
// errorstats: the peers do not count them).
//
// The slots move with the test helper's MoveSlots (one slot at a time,
// every SETSLOT its own round trip, as redis-cli --cluster reshard does),
// or, with SLOTROUTER_RESHARD_TOOL=migrate, with the library's own
// executor (migrate.Apply of a plan.Reshard plan with default options:
// what `slotctl apply` runs; pipelined and parallel, so the move is
// shorter and its toll on the load heavier while it lasts). "lost" is
// the operations the move cost: the baseline rate times the move's
// time, less the operations done.
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
	t.Logf("%-16s %10s %10s %6s %8s %6s %7s %6s", "client", "before/s", "during/s", "ratio", "lost", "errors", "MOVED", "ASK")
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
		moved, moveErr := moveSlots(ctx, cl, from, to, thrSlots)
		took := time.Since(t1)
		done := float64(ops.Load() - d0)
		during := done / took.Seconds()
		// The operations the move cost: what the baseline rate would have
		// done in its time, less what was done.
		lost := before*took.Seconds() - done
		m1, a1 := redirectsSent(t, ctx, cl)
		stopLoad()
		require.NoError(t, moveErr)
		require.Len(t, moved, thrSlots)
		t.Logf("%-16s %10.0f %10.0f %6.2f %8.0f %6d %7d %6d   (move took %v)", name, before, during, during/before,
			lost, errs.Load(), m1-m0, a1-a0, took.Round(time.Millisecond))
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

// reshardToolEnv chooses what moves the slots in TestReshardThroughput:
// "clustertest" (the default) or "migrate".
const reshardToolEnv = "SLOTROUTER_RESHARD_TOOL"

// moveSlots moves n slots of from to to with the tool reshardToolEnv
// names, and returns the slots moved.
func moveSlots(ctx context.Context, cl *clustertest.Cluster, from, to *clustertest.Node, n int) ([]uint16, error) {
	switch tool := os.Getenv(reshardToolEnv); tool {
	case "", "clustertest":
		return cl.MoveSlots(ctx, from, to, n)
	case "migrate":
	default:
		return nil, fmt.Errorf("%s=%q: want clustertest or migrate", reshardToolEnv, tool)
	}
	// The live layout as `slotctl plan -addr` reads it.
	l, err := livelayout.Read(ctx, from.Addr, func(a string) (rueidis.Client, error) {
		return rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{a}, ForceSingleClient: true, DisableCache: true})
	})
	if err != nil {
		return nil, err
	}
	p, err := plan.Reshard(l, plan.ReshardRequest{Target: to.ID, Sources: []string{from.ID}, Slots: n})
	if err != nil {
		return nil, err
	}
	if _, err := migrate.Apply(ctx, p, migrate.Options{Seeds: cl.Addrs()}); err != nil {
		return nil, err
	}
	var moved []uint16
	for _, m := range p.Moves {
		for _, r := range m.Ranges {
			for s := r.Start; s <= r.End; s++ {
				moved = append(moved, uint16(s))
			}
		}
	}
	if err := cl.WaitHealthy(ctx); err != nil {
		return moved, err
	}
	return moved, nil
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
