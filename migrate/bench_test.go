package migrate

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// BenchmarkApply moves 1,000 slots from one primary to another, empty or
// holding 100,000 keys (100 per slot), with Apply (default options) and
// with "redis-cli --cluster reshard" (its defaults: MIGRATE pipeline of 10
// keys) on the same cluster in the same run. Only the move is timed; the
// slots are moved back between iterations (not timed) and the cluster
// waited healthy. It reports slots/s and keys/s. Not run by the suite
// (benchmarks run only with -bench):
//
//	go test -run '^$' -bench BenchmarkApply -benchtime 2x -count 6 ./migrate > a.txt && benchstat -col /impl a.txt
func BenchmarkApply(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a cluster and moves slots for a while")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	sctx, scancel := context.WithTimeout(ctx, clustertest.StartTimeout)
	c, err := clustertest.Start(sctx, clustertest.Options{ExtraConfig: []string{"cluster-allow-replica-migration no"}})
	scancel()
	if errors.Is(err, clustertest.ErrServerNotFound) {
		b.Skip(err)
	}
	require.NoError(b, err)
	defer func() { _ = c.Stop() }()
	d, err := c.AddNode(ctx, nil)
	require.NoError(b, err)
	l := layoutOf(b, ctx, c)
	give, err := plan.Reshard(l, plan.ReshardRequest{Target: d.ID, Slots: 1000})
	require.NoError(b, err)
	_, err = Apply(ctx, give, Options{Seeds: c.Addrs()[:1]})
	require.NoError(b, err)
	require.NoError(b, c.WaitHealthy(ctx))
	ss, err := c.SlotsOf(ctx, d)
	require.NoError(b, err)
	require.Len(b, ss, 1000)
	var set slots.Set
	for _, s := range ss {
		set.Add(slots.Slot(s))
	}
	ps, err := c.Primaries(ctx)
	require.NoError(b, err)
	var to *clustertest.Node
	for _, p := range ps {
		if p != d {
			to = p
		}
	}
	rc, err := router.New(ctx, router.Options{Seeds: c.Addrs()})
	require.NoError(b, err)
	defer rc.Close()
	tags := slotTags()

	// move moves d's 1,000 slots to "to" with impl; back returns them.
	move := func(b *testing.B, impl string) {
		switch impl {
		case "slotrouter":
			p := handPlan(b, layoutOf(b, ctx, c), []plan.Move{{Source: d.ID, Target: to.ID, Ranges: plan.Ranges(set.Ranges())}})
			_, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
			require.NoError(b, err)
		case "redis-cli":
			cli := c.Options().CLIBin
			if cli == "" {
				cli = "redis-cli"
			}
			out, err := exec.CommandContext(ctx, cli, "--cluster", "reshard", d.Addr,
				"--cluster-from", d.ID, "--cluster-to", to.ID, "--cluster-slots", "1000", "--cluster-yes").CombinedOutput()
			require.NoError(b, err, "%s", lastLines(out))
		}
	}
	back := func(b *testing.B) {
		require.NoError(b, c.WaitHealthy(ctx))
		p := handPlan(b, layoutOf(b, ctx, c), []plan.Move{{Source: to.ID, Target: d.ID, Ranges: plan.Ranges(set.Ranges())}})
		_, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
		require.NoError(b, err)
		require.NoError(b, c.WaitHealthy(ctx))
	}
	for _, data := range []string{"empty", "100k-keys"} {
		if data == "100k-keys" {
			fillSlots(b, ctx, rc, tags, set.Ranges(), 100, 0)
		}
		for _, impl := range []string{"slotrouter", "redis-cli"} {
			b.Run(fmt.Sprintf("data=%s/impl=%s", data, impl), func(b *testing.B) {
				var moved time.Duration
				for range b.N {
					start := time.Now()
					move(b, impl)
					moved += time.Since(start)
					b.StopTimer()
					back(b)
					b.StartTimer()
				}
				b.ReportMetric(float64(1000*b.N)/moved.Seconds(), "slots/s")
				if data == "100k-keys" {
					b.ReportMetric(float64(100_000*b.N)/moved.Seconds(), "keys/s")
				}
				b.ReportMetric(0, "ns/op") // timed moves only: see slots/s
			})
		}
	}
	requireSlots(b, ctx, c, rc, tags, set.Ranges(), 100, 0)
}

func lastLines(out []byte) string {
	const n = 2000
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}
