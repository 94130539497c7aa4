package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
)

// Benchmarks of the same operations through slotrouter, go-redis and
// rueidis on the shared three-primary cluster. Each Benchmark has one
// sub-benchmark per client (client=slotrouter, client=go-redis,
// client=rueidis); compare them with
//
//	go test -run '^$' -bench . -count 10 | tee /tmp/b.txt
//	benchstat -col /client /tmp/b.txt

const (
	// numKeys is how many keys the GET, SET and pipeline benchmarks
	// rotate over; they spread over every primary.
	numKeys = 1024
	// pipeLen is the number of commands of BenchmarkPipeline100.
	pipeLen = 100
	// mgetLen is the number of keys of BenchmarkMGet10.
	mgetLen = 10
	// parallelism is the b.SetParallelism of the parallel benchmarks:
	// parallelism*GOMAXPROCS goroutines share one client.
	parallelism = 8
	// value is the 16-byte value every SET writes.
	value = "0123456789abcdef"
)

// benchKeys are the keys of the GET, SET and pipeline benchmarks, with the
// first pipeLen repeated at the end so that any window of pipeLen keys
// starting below numKeys is a subslice.
var benchKeys = func() []string {
	ks := make([]string, numKeys+pipeLen)
	for i := range numKeys {
		ks[i] = fmt.Sprintf("bench:key:%d", i)
	}
	copy(ks[numKeys:], ks[:pipeLen])
	return ks
}()

// mgetKeys share the hash tag {bench:mget}, hence one slot.
var mgetKeys = func() []string {
	ks := make([]string, mgetLen)
	for i := range ks {
		ks[i] = fmt.Sprintf("{bench:mget}:%d", i)
	}
	return ks
}()

// seed writes every benchmark key, so that GETs find a value.
func seed(b testing.TB, cl *clustertest.Cluster) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var cmds []router.Cmd
	for _, k := range append(benchKeys[:numKeys:numKeys], mgetKeys...) {
		cmds = append(cmds, router.C("SET", k, value))
	}
	for i, r := range c.DoMulti(ctx, cmds...) {
		if r.Err != nil {
			b.Fatalf("seed %s: %v", cmds[i].Args[1], r.Err)
		}
	}
}

// eachClient runs fn as the sub-benchmark client=<name> for every client,
// with a client connected and warmed up (a connection to every primary)
// before the sub-benchmark starts and closed when it ends. Only one
// client is open at a time.
func eachClient(b *testing.B, fn func(b *testing.B, c client)) {
	cl := clustertest.Need(b, cluster)
	seed(b, cl)
	forEachClient(b, benchClients(b), func(ctx context.Context, name string) (client, func(), error) {
		c, err := newClient(ctx, name, cl.Addrs())
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	}, fn)
}

// forEachClient runs fn as a sub-benchmark per client named in names, in
// a random order, each connected by connect (which returns the client
// and what ends it) and warmed up first.
func forEachClient(b *testing.B, names []string, connect func(ctx context.Context, name string) (client, func(), error), fn func(b *testing.B, c client)) {
	// In a random order: a round's first client may run on a machine
	// other than its last's (caches, the servers' state), and -count N
	// runs each client's N rounds back to back anyway; interleave.sh runs
	// the clients alternately, one process per round.
	names = slices.Clone(names)
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, end, err := connect(ctx, name)
		if err != nil {
			cancel()
			b.Fatalf("%s: connect: %v", name, err)
		}
		for i := range 64 {
			if _, err := c.Get(ctx, benchKeys[i*(numKeys/64)]); err != nil {
				end()
				cancel()
				b.Fatalf("%s: warm-up: %v", name, err)
			}
		}
		cancel()
		b.Run("client="+name, func(b *testing.B) {
			b.ReportAllocs()
			start := processCPU(b)
			r0, w0, counted := processSyscalls()
			fn(b, c)
			b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
			if r1, w1, ok := processSyscalls(); ok && counted {
				// How well the client batches: read and write system
				// calls per operation (fewer: more commands per write).
				b.ReportMetric(float64(r1-r0)/float64(b.N), "reads/op")
				b.ReportMetric(float64(w1-w0)/float64(b.N), "writes/op")
			}
		})
		end()
	}
}

// BenchmarkGet is one GET of an existing key per iteration, from one
// goroutine: the round trip plus the client's routing cost.
func BenchmarkGet(b *testing.B) {
	eachClient(b, getLoop)
}

// getLoop is one GET per iteration, from one goroutine.
func getLoop(b *testing.B, c client) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := c.Get(ctx, benchKeys[i%numKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetDeadline is BenchmarkGet with a deadline on every call
// (a 1 s timeout, as services set them): rueidis puts a lone caller's
// deadline on the socket (its synchronous path); slotrouter gives such a
// caller a connection of its own for that.
func BenchmarkGetDeadline(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		i := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := c.Get(ctx, benchKeys[i%numKeys])
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkSetDeadline is BenchmarkSet with a 1 s deadline on every
// call. Unlike a read, slotrouter keeps a lone write on the node's shared
// pipeline (a pooled connection could hand it an unknown outcome after
// its node died unseen), where its cancellable context switches rueidis's
// pipe to background mode: two goroutine switches per call that
// rueidis's own client, which puts the deadline on the socket, avoids.
func BenchmarkSetDeadline(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		i := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := c.Set(ctx, benchKeys[i%numKeys], value)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkGetParallel is BenchmarkGet from parallelism*GOMAXPROCS
// goroutines sharing one client: it shows how well the client
// pipelines concurrent calls.
func BenchmarkGetParallel(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			i := rand.IntN(numKeys)
			for pb.Next() {
				if _, err := c.Get(ctx, benchKeys[i%numKeys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkMixed is 80 % GET / 20 % SET from 16 and from 64 goroutines
// sharing one client (b.RunParallel), each operation with a 1 s
// deadline as services set them: the issue-12 concurrent workloads.
func BenchmarkMixed(b *testing.B) {
	for _, g := range []int{16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			eachClient(b, func(b *testing.B, c client) { mixed(b, c, g) })
		})
	}
}

// mixed is the 80/20 GET/SET load from g goroutines, each call with a
// 1 s timeout.
func mixed(b *testing.B, c client, g int) {
	b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(numKeys)
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := mixedOp(ctx, c, benchKeys[i%numKeys], i)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// mixedOp is the n-th operation of the 80/20 load on key: a SET of value
// every fifth, else a GET.
func mixedOp(ctx context.Context, c client, key string, n int) error {
	if n%5 == 4 {
		return c.Set(ctx, key, value)
	}
	_, err := c.Get(ctx, key)
	return err
}

// BenchmarkMixedBusyCPU is BenchmarkMixed at 16 goroutines in a process
// whose processors are also kept busy by goroutines that never block
// (burners: each spins in 2 ms stretches until the load ends), the case
// where a writer that yields (Options.NoWriteYield) waits longer for its
// turn. It reports the calls' latency percentiles (p50-us, p99-us,
// p999-us, max-us) besides the time per call.
func BenchmarkMixedBusyCPU(b *testing.B) {
	for _, burners := range []int{0, 4} {
		b.Run(fmt.Sprintf("burners=%d", burners), func(b *testing.B) {
			eachClient(b, func(b *testing.B, c client) { mixedBusy(b, c, 16, burners) })
		})
	}
}

// mixedBusy is mixed with burners goroutines spinning alongside, and the
// latency of every call recorded.
func mixedBusy(b *testing.B, c client, g, burners int) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop.Store(true)
	for range burners {
		wg.Go(func() {
			for !stop.Load() {
				for t := time.Now(); time.Since(t) < 2*time.Millisecond; {
				}
			}
		})
	}
	var mu sync.Mutex
	var lats []time.Duration
	b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(numKeys)
		var mine []time.Duration
		defer func() {
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			err := mixedOp(ctx, c, benchKeys[i%numKeys], i)
			mine = append(mine, time.Since(start))
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	at := func(q float64) float64 { return float64(lats[int(q*float64(len(lats)-1))]) / 1e3 }
	b.ReportMetric(at(0.5), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
	b.ReportMetric(at(0.999), "p999-us")
	b.ReportMetric(at(1), "max-us")
}

// BenchmarkSet is one SET of a 16-byte value per iteration, from one
// goroutine.
func BenchmarkSet(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if err := c.Set(ctx, benchKeys[i%numKeys], value); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkMGet10 is one MGET of 10 keys that share a hash tag per
// iteration.
func BenchmarkMGet10(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		ctx := context.Background()
		for b.Loop() {
			if err := c.MGet(ctx, mgetKeys...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMGetAcross is one read of 10 and of 100 keys spread over
// every slot they hash to (all three primaries) per iteration: one MGET
// split per slot by slotrouter (both faces: the multi_shard command
// tip), rueidis's MGet helper on its cluster client, and a hand-written
// pipeline of per-slot MGETs for go-redis (which refuses a cross-slot
// MGET).
func BenchmarkMGetAcross(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			eachClient(b, func(b *testing.B, c client) {
				ctx := context.Background()
				i := 0
				for b.Loop() {
					s := (i * n) % numKeys
					if err := c.MGetAcross(ctx, benchKeys[s:s+n]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

// BenchmarkPipeline100 is one pipeline of 100 commands per iteration,
// GET and SET alternating over 100 consecutive benchmark keys (all three
// primaries): router.DoMulti, go-redis's ClusterClient.Pipeline and
// rueidis's DoMulti, commands built in the loop as a caller would.
func BenchmarkPipeline100(b *testing.B) {
	eachClient(b, func(b *testing.B, c client) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			s := (i * pipeLen) % numKeys
			if err := c.Pipeline(ctx, benchKeys[s:s+pipeLen], value); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// processCPU is the CPU time (user and system) this process has used so
// far: the client's own cost, without the redis-server processes, which
// share the machine's cores. Reported per operation as cpu-ns/op, it
// varies less than the time per operation when other work runs.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processSyscalls returns the process's read and write system calls so
// far (Linux's /proc/self/io: syscr, syscw); ok is false where that
// file is missing or does not give each once.
func processSyscalls() (reads, writes int64, ok bool) {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	var nr, nw int
	for line := range strings.Lines(string(raw)) {
		name, val, found := strings.Cut(strings.TrimSpace(line), ": ")
		if !found {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "syscr":
			reads, nr = n, nr+1
		case "syscw":
			writes, nw = n, nw+1
		}
	}
	return reads, writes, nr == 1 && nw == 1
}
