package bench_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
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
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// Issue 12's live-reshard scenario, opt-in (SLOTROUTER_SCENARIOS=1).
// Each client in turn, alone on the shared cluster, carries a load of 64
// goroutines running 80 % GET / 20 % SET over the benchmark keys (every
// primary), during which 1,000 slots move from one primary to another
// and then back, each move between two baseline windows of 2 s:
//
//	baseline, move there, baseline, move back, baseline
//
// A move's ratio is its throughput over the mean of the two windows
// around it, so that the baseline is measured next to the move rather
// than once before it (this machine drifts by up to 20 % between 3 s
// windows a minute apart). SLOTROUTER_RESHARD_ROUNDS=N (default 1)
// repeats the whole in N rounds, every client once per round in a random
// order, so that the clients are measured alternately. It reports, per
// move, throughput before and during, errors, and the MOVED and ASK
// replies the servers sent meanwhile (INFO errorstats: the peers do not
// count them). "lost" is the operations the move cost: the baseline rate
// times the move's time, less the operations done.
//
// SLOTROUTER_RESHARD_CONTROL=1 adds a control, "control": slotrouter's
// string API whose load skips the keys of the slots that move (with the
// default move tool, whose slots are known beforehand). Its ratio is what
// the move costs a client that never meets it (the servers' CPU that
// MIGRATE takes, on a machine whose cores the servers, the mover and the
// load share), the floor under every client's.
//
// With SLOTROUTER_RESHARD_OUT=FILE it also appends one line per move to
// FILE in the format of Go benchmarks, for benchstat:
//
//	BenchmarkReshard/client=slotrouter/move=there 1 0.93 during/before 5012 lost-ops 95 MOVED 0 errors
//	benchstat -col /client -filter '/client:(slotrouter OR rueidis)' FILE
//
// The slots move with the test helper's MoveSlots (one slot at a time,
// every SETSLOT its own round trip, as redis-cli --cluster reshard does),
// or, with SLOTROUTER_RESHARD_TOOL=migrate, with the library's own
// executor (migrate.Apply of a plan.Reshard plan with default options:
// what `slotctl apply` runs; pipelined and parallel, so the move is
// shorter and its toll on the load heavier while it lasts). At the end
// every moved slot goes back to its first owner.
const (
	thrWorkers = 64
	thrSlots   = 1000
	thrWindow  = 2 * time.Second

	reshardRoundsEnv = "SLOTROUTER_RESHARD_ROUNDS"
	reshardOutEnv    = "SLOTROUTER_RESHARD_OUT"
	reshardCtlEnv    = "SLOTROUTER_RESHARD_CONTROL"

	// controlClient is the control's name in the report.
	controlClient = "control"
)

func TestReshardThroughput(t *testing.T) {
	if os.Getenv(scenariosEnv) == "" {
		t.Skip("opt-in scenario: set " + scenariosEnv + "=1")
	}
	rounds := 1
	if v := os.Getenv(reshardRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			t.Fatalf("%s=%q: want a number of rounds from 1 to 100", reshardRoundsEnv, v)
		}
		rounds = n
	}
	var out io.Writer = io.Discard
	if path := os.Getenv(reshardOutEnv); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		defer func() { require.NoError(t, f.Close()) }()
		out = f
	}
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rounds)*10*time.Minute)
	defer cancel()
	seed(t, cl)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	from, to := ps[0], ps[1]
	restore := restoreSlots(t, ctx, cl, from, to)
	defer restore()

	names := benchClientsOr(t, []string{"slotrouter", "slotrouter-face", "rueidis", "go-redis"})
	keys := map[string][]string{}
	if os.Getenv(reshardCtlEnv) != "" {
		if os.Getenv(reshardToolEnv) == "migrate" {
			t.Fatalf("%s: the control needs the default move tool (its slots are known beforehand)", reshardCtlEnv)
		}
		keys[controlClient] = keysOutside(t, ctx, cl, from)
		names = append(names, controlClient)
	}
	t.Logf("%-16s %-5s %10s %10s %6s %8s %6s %7s %6s", "client", "move", "before/s", "during/s", "ratio", "lost", "errors", "MOVED", "ASK")
	for range rounds {
		order := slices.Clone(names)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, name := range order {
			reshardRound(t, ctx, cl, name, keys[name], from, to, out)
		}
	}
}

// reshardRound runs one client's baseline, move there, baseline, move
// back, baseline, and reports both moves. The load runs over keys (nil:
// every benchmark key); the control is slotrouter's string API.
func reshardRound(t *testing.T, ctx context.Context, cl *clustertest.Cluster, name string, keys []string, from, to *clustertest.Node, out io.Writer) {
	kind := name
	if name == controlClient {
		kind = "slotrouter"
	}
	if keys == nil {
		keys = benchKeys
	}
	c := mustClient(t, kind, cl.Addrs())
	defer c.Close()
	for i := range 64 { // warm up: a connection to every primary
		_, err := c.Get(ctx, benchKeys[i*(numKeys/64)])
		require.NoError(t, err, name)
	}
	l := startLoad(ctx, c, keys)
	defer l.halt() // also when a require below ends the test
	b0 := l.window(t, ctx)
	var moved []uint16
	there := l.move(t, ctx, cl, func() error {
		var err error
		moved, err = moveSlots(ctx, cl, from, to, thrSlots)
		return err
	})
	require.Len(t, moved, thrSlots)
	b1 := l.window(t, ctx)
	back := l.move(t, ctx, cl, func() error { return moveBack(ctx, cl, to, from, moved) })
	b2 := l.window(t, ctx)
	l.halt()
	there.report(t, out, name, "there", (b0+b1)/2)
	back.report(t, out, name, "back", (b1+b2)/2)
	if e := l.firstErr.Load(); e != nil {
		t.Logf("%s: first error: %v", name, *e)
	}
	if strings.HasPrefix(kind, "slotrouter") {
		assert.Zero(t, l.errs.Load(), "%s surfaces no error while slots move", name)
	}
}

// load is TestReshardThroughput's load on one client.
type load struct {
	ops, errs atomic.Int64
	firstErr  atomic.Pointer[error]
	halt      func() // stops the load and waits for its goroutines
}

func startLoad(ctx context.Context, c client, keys []string) *load {
	l := &load{}
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
				k := keys[(g*131+n*7)%len(keys)]
				octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
				err := mixedOp(octx, c, k, n)
				ocancel()
				l.ops.Add(1)
				if err != nil {
					l.errs.Add(1)
					l.firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	l.halt = sync.OnceFunc(func() { close(stop); wg.Wait() })
	return l
}

// window returns the load's rate over a baseline window.
func (l *load) window(t *testing.T, ctx context.Context) float64 {
	n0, t0 := l.ops.Load(), time.Now()
	require.NoError(t, sleepCtx(ctx, thrWindow))
	return float64(l.ops.Load()-n0) / time.Since(t0).Seconds()
}

// moveRun is what the load did while one move ran.
type moveRun struct {
	done       int64
	took       time.Duration
	errs       int64
	moved, ask int64
}

// move runs fn, a move, under the load and measures it.
func (l *load) move(t *testing.T, ctx context.Context, cl *clustertest.Cluster, fn func() error) moveRun {
	m0, a0 := redirectsSent(t, ctx, cl)
	e0, d0, t0 := l.errs.Load(), l.ops.Load(), time.Now()
	err := fn()
	r := moveRun{done: l.ops.Load() - d0, took: time.Since(t0), errs: l.errs.Load() - e0}
	m1, a1 := redirectsSent(t, ctx, cl)
	require.NoError(t, err)
	r.moved, r.ask = m1-m0, a1-a0
	return r
}

// report logs r against the baseline rate before, and writes its
// benchmark line to out.
func (r moveRun) report(t *testing.T, out io.Writer, name, dir string, before float64) {
	during := float64(r.done) / r.took.Seconds()
	lost := before*r.took.Seconds() - float64(r.done)
	t.Logf("%-16s %-5s %10.0f %10.0f %6.2f %8.0f %6d %7d %6d   (move took %v)", name, dir, before, during, during/before,
		lost, r.errs, r.moved, r.ask, r.took.Round(time.Millisecond))
	_, err := fmt.Fprintf(out, "BenchmarkReshard/client=%s/move=%s 1 %.4f during/before %.0f lost-ops %d MOVED %d errors\n",
		name, dir, during/before, lost, r.moved, r.errs)
	require.NoError(t, err)
}

// keysOutside returns the benchmark keys outside the slots the default
// move tool moves from from (the first thrSlots it owns).
func keysOutside(t *testing.T, ctx context.Context, cl *clustertest.Cluster, from *clustertest.Node) []string {
	have, err := cl.SlotsOf(ctx, from)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(have), thrSlots)
	moving := have[:thrSlots]
	var out []string
	for _, k := range benchKeys {
		if !slices.Contains(moving, uint16(slots.Of(k))) {
			out = append(out, k)
		}
	}
	return out
}

// restoreSlots returns a function that gives back to from and to the
// slots each owns now (after every move of the test, or when it fails).
func restoreSlots(t *testing.T, ctx context.Context, cl *clustertest.Cluster, from, to *clustertest.Node) func() {
	origFrom, err := cl.SlotsOf(ctx, from)
	require.NoError(t, err)
	origTo, err := cl.SlotsOf(ctx, to)
	require.NoError(t, err)
	return func() {
		// Not under ctx, which may be what ended the test.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for _, m := range []struct {
			src, dst *clustertest.Node
			want     []uint16
		}{{to, from, origFrom}, {from, to, origTo}} {
			have, err := cl.SlotsOf(rctx, m.src)
			if !assert.NoError(t, err) {
				return
			}
			var list []uint16
			for _, s := range have {
				if slices.Contains(m.want, s) {
					list = append(list, s)
				}
			}
			if len(list) > 0 {
				assert.NoError(t, cl.MoveSlotList(rctx, m.src, m.dst, list), "restoring the slots")
			}
		}
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

// moveBack moves the slots of list from src back to dst with the tool
// reshardToolEnv names (migrate's plan chooses which of src's slots:
// as many as list has).
func moveBack(ctx context.Context, cl *clustertest.Cluster, src, dst *clustertest.Node, list []uint16) error {
	if os.Getenv(reshardToolEnv) == "migrate" {
		_, err := moveSlots(ctx, cl, src, dst, len(list))
		return err
	}
	return cl.MoveSlotList(ctx, src, dst, list)
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
