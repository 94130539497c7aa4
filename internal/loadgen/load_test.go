package loadgen

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/syncbuf"
)

// fake is an in-memory server behind the three client interfaces.
type fake struct {
	mu     sync.Mutex
	kv     map[string]string
	fail   func(args []string) error // nil: never
	panics atomic.Bool

	singles, multis atomic.Int64
	setsUnmarked    atomic.Int64 // SETs sent without the idempotent mark
}

func newFake() *fake { return &fake{kv: map[string]string{}} }

func (f *fake) exec(args []string) (rueidis.RedisMessage, error) {
	if f.panics.Load() {
		panic("fake: boom")
	}
	if f.fail != nil {
		if err := f.fail(args); err != nil {
			return rueidis.RedisMessage{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch args[0] {
	case "GET":
		v, ok := f.kv[args[1]]
		if !ok {
			return mock.RedisNil(), rueidis.Nil
		}
		return mock.RedisString(v), nil
	case "SET":
		f.kv[args[1]] = args[2]
		return mock.RedisString("OK"), nil
	case "INCR":
		n, _ := strconv.ParseInt(f.kv[args[1]], 10, 64)
		n++
		f.kv[args[1]] = strconv.FormatInt(n, 10)
		return mock.RedisInt64(n), nil
	}
	return rueidis.RedisMessage{}, errors.New("fake: unknown command")
}

func (f *fake) Do(_ context.Context, args ...string) (rueidis.RedisMessage, error) {
	f.singles.Add(1)
	return f.exec(args)
}

func (f *fake) DoCmd(ctx context.Context, cmd Cmd) (rueidis.RedisMessage, error) {
	if cmd.Args[0] == "SET" && !cmd.Idempotent {
		f.setsUnmarked.Add(1)
	}
	return f.Do(ctx, cmd.Args...)
}

func (f *fake) DoMulti(_ context.Context, cmds []Cmd, replies []Reply) {
	f.multis.Add(1)
	for i, c := range cmds {
		if c.Args[0] == "SET" && !c.Idempotent {
			f.setsUnmarked.Add(1)
		}
		replies[i].Msg, replies[i].Err = f.exec(c.Args)
	}
}

// onlyDo hides the optional interfaces of a fake.
type onlyDo struct{ f *fake }

func (o onlyDo) Do(ctx context.Context, args ...string) (rueidis.RedisMessage, error) {
	return o.f.Do(ctx, args...)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitOps polls until the load has counted n operations.
func waitOps(t *testing.T, l *Load, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { s := l.Snapshot(); return s.Ops >= n }, 20*time.Second, time.Millisecond)
}

func TestParseWorkload(t *testing.T) {
	for _, n := range Names() {
		w, err := ParseWorkload(n)
		require.NoError(t, err, n)
		assert.Equal(t, n, w.Name)
	}
	w, err := ParseWorkload("mixed-40-40-20")
	require.NoError(t, err)
	assert.Equal(t, Workload{Name: "mixed-40-40-20", Get: 40, Set: 40, Incr: 20}, w)
	w, err = ParseWorkload("incr")
	require.NoError(t, err)
	assert.Equal(t, 100, w.Incr)
	for _, bad := range []string{"", "mixed", "mixed-80", "mixed-80-30", "mixed-a-b", "mixed--1-101", "mixed-10-10-10-70", "put"} {
		_, err := ParseWorkload(bad)
		assert.ErrorIs(t, err, ErrInvalidOptions, bad)
	}
}

// TestOptionsRefused checks that nonsense options are refused with an
// error naming the field.
func TestOptionsRefused(t *testing.T) {
	ctx := testCtx(t)
	for field, o := range map[string]Options{
		"Workers":    {Workers: -1},
		"Keys":       {Workers: 8, Keys: 4},
		"Counters":   {Counters: -1},
		"Pipeline":   {Pipeline: MaxPipeline + 1},
		"OpTimeout":  {OpTimeout: -time.Second},
		"ErrorPause": {ErrorPause: -1},
		"Duration":   {Duration: -1},
		"Workload":   {Workload: Workload{Name: "x", Get: 50}},
	} {
		_, err := Start(ctx, newFake(), o)
		require.ErrorIs(t, err, ErrInvalidOptions, field)
		assert.Contains(t, err.Error(), field)
	}
	_, err := Start(ctx, nil, Options{})
	assert.ErrorIs(t, err, ErrInvalidOptions)
}

// TestRunCountsAndVerifies runs a mixed load with pipelines against the
// fake: every result is counted once, SETs are marked idempotent, both
// single commands and pipelines were sent, and every key holds its last
// acknowledged value.
func TestRunCountsAndVerifies(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	var results atomic.Int64
	l, err := Start(ctx, f, Options{
		Workload: Workload{Name: "m", Get: 40, Set: 40, Incr: 20}, Workers: 3, Keys: 300, Pipeline: 8,
		OnResult: func(Result) { results.Add(1) },
	})
	require.NoError(t, err)
	waitOps(t, l, 5000)
	s, err := l.Stop()
	require.NoError(t, err)

	assert.Equal(t, s.Ops, s.OK[Get]+s.OK[Set]+s.OK[Incr])
	assert.Zero(t, s.Errors)
	assert.Positive(t, s.OK[Get])
	assert.Positive(t, s.OK[Set])
	assert.Positive(t, s.OK[Incr])
	assert.Equal(t, s.Ops, results.Load())
	assert.Positive(t, f.singles.Load())
	assert.Positive(t, f.multis.Load())
	assert.Zero(t, f.setsUnmarked.Load(), "SETs are sent idempotent")
	assert.Equal(t, uint64(f.singles.Load()), s.Latency.Count(), "one latency per single command")
	assert.Equal(t, uint64(f.multis.Load()), s.PipelineLatency.Count())
	assert.Positive(t, s.OpsPerSecond())
	assert.Nil(t, s.FirstError)
	assert.True(t, s.LastErrorAt.IsZero())

	v, err := l.Verify(ctx, f)
	require.NoError(t, err)
	assert.Positive(t, v.Checked)
	assert.Zero(t, v.Wrong)
	assert.Zero(t, v.Unknown)

	// A key changed behind the load's back is found.
	f.mu.Lock()
	var changed string
	for k := range f.kv {
		if strings.HasPrefix(k, DefaultKeyPrefix) {
			f.kv[k] = "changed"
			changed = k
			break
		}
	}
	f.mu.Unlock()
	v, err = l.Verify(ctx, onlyDo{f}) // without pipelines as well
	require.NoError(t, err)
	assert.Equal(t, 1, v.Wrong)
	assert.Equal(t, changed, v.FirstWrong)
}

// TestKeysBelongToOneWorker checks the key naming: worker w's keys are
// w, w+Workers, ... so that two workers never write one key.
func TestKeysBelongToOneWorker(t *testing.T) {
	l, err := Start(testCtx(t), newFake(), Options{Workers: 3, Keys: 9, KeyPrefix: "k:", Duration: time.Nanosecond})
	require.NoError(t, err)
	_, err = l.Stop()
	require.NoError(t, err)
	assert.Equal(t, []string{"k:1", "k:4", "k:7"}, l.workers[1].keys)
}

// TestErrorsAndUnknownOutcomes fails every INCR with an error the
// classifier calls unknown and some SETs with another: both are counted
// by class, failed SETs leave their keys out of Verify, and the worker
// pauses after an error.
func TestErrorsAndUnknownOutcomes(t *testing.T) {
	ctx := testCtx(t)
	errCut := errors.New("cut")
	errBusy := errors.New("busy")
	f := newFake()
	var sets atomic.Int64
	f.fail = func(args []string) error {
		switch {
		case args[0] == "INCR":
			return errCut
		case args[0] == "SET" && sets.Add(1)%5 == 0:
			return errBusy
		}
		return nil
	}
	classify := func(err error) Class {
		if errors.Is(err, errCut) {
			return Class{Name: "cut", Unknown: true}
		}
		return Class{Name: "busy"}
	}
	before := time.Now()
	l, err := Start(ctx, f, Options{
		Workload: Workload{Name: "m", Get: 40, Set: 40, Incr: 20}, Workers: 2, Keys: 200,
		ErrorPause: time.Microsecond, Classify: classify,
	})
	require.NoError(t, err)
	waitOps(t, l, 2000)
	s, err := l.Stop()
	require.NoError(t, err)
	assert.Zero(t, s.OK[Incr])
	assert.Equal(t, s.Failed[Incr], s.Unknown)
	assert.Equal(t, s.Failed[Incr], s.ByClass["cut"])
	assert.Equal(t, s.Failed[Set], s.ByClass["busy"])
	assert.Positive(t, s.Failed[Set])
	assert.Equal(t, s.Errors, s.Failed[Incr]+s.Failed[Set])
	require.Error(t, s.FirstError)
	assert.False(t, s.LastErrorAt.Before(before))

	v, err := l.Verify(ctx, f)
	require.NoError(t, err)
	assert.Positive(t, v.Unknown, "keys whose last SET failed are skipped")
	assert.Zero(t, v.Wrong)
}

// TestOpTimeout checks the per-operation deadline: a client that blocks
// until its context ends gets a timeout, classified as such.
func TestOpTimeout(t *testing.T) {
	ctx := testCtx(t)
	block := DoFunc(func(ctx context.Context, _ ...string) (rueidis.RedisMessage, error) {
		<-ctx.Done()
		return rueidis.RedisMessage{}, ctx.Err()
	})
	l, err := Start(ctx, block, Options{Workers: 1, Keys: 1, OpTimeout: time.Millisecond, ErrorPause: time.Microsecond})
	require.NoError(t, err)
	waitOps(t, l, 3)
	s, err := l.Stop()
	require.NoError(t, err)
	assert.Equal(t, s.Ops, s.Errors)
	assert.Equal(t, s.Errors, s.ByClass["timeout (per-operation deadline)"])
}

// TestCancelledContext checks that cancelling the caller's context ends
// the load and that errors caused by the cancellation are not counted.
func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	started := make(chan struct{})
	var once sync.Once
	block := DoFunc(func(ctx context.Context, _ ...string) (rueidis.RedisMessage, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return rueidis.RedisMessage{}, ctx.Err()
	})
	l, err := Start(ctx, block, Options{Workers: 2, Keys: 2})
	require.NoError(t, err)
	<-started
	cancel()
	select {
	case <-l.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the load did not end with its context")
	}
	s, err := l.Stop()
	require.NoError(t, err)
	assert.Zero(t, s.Errors)
	assert.Zero(t, s.Ops)
}

// TestPanicBecomesError checks that a panic below a worker is recovered
// and reported by Stop.
func TestPanicBecomesError(t *testing.T) {
	f := newFake()
	f.panics.Store(true)
	l, err := Start(testCtx(t), f, Options{Workers: 2, Keys: 2})
	require.NoError(t, err)
	<-l.Done()
	_, err = l.Stop()
	require.ErrorIs(t, err, ErrPanic)
	assert.Contains(t, err.Error(), "boom")
}

func TestVerifyWhileRunning(t *testing.T) {
	f := newFake()
	l, err := Start(testCtx(t), f, Options{Workers: 1, Keys: 10})
	require.NoError(t, err)
	_, err = l.Verify(testCtx(t), f)
	assert.ErrorIs(t, err, ErrRunning)
	_, err = l.Stop()
	require.NoError(t, err)
}

// TestRunForDuration checks that Run ends by itself after Duration.
func TestRunForDuration(t *testing.T) {
	s, err := Run(testCtx(t), newFake(), Options{Workers: 1, Keys: 10, Duration: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.Positive(t, s.Ops)
	assert.GreaterOrEqual(t, s.Elapsed, 20*time.Millisecond)
}

// TestLive checks that Live writes overwriting lines while the load runs
// and clears the line when it ends.
func TestLive(t *testing.T) {
	ctx := testCtx(t)
	l, err := Start(ctx, newFake(), Options{Workers: 1, Keys: 10})
	require.NoError(t, err)
	var buf syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- l.Live(ctx, &buf, time.Millisecond) }()
	require.Eventually(t, func() bool { return strings.Count(buf.String(), "ops/s") >= 2 }, 20*time.Second, time.Millisecond)
	_, err = l.Stop()
	require.NoError(t, err)
	require.NoError(t, <-done)
	out := buf.String()
	assert.True(t, strings.HasPrefix(out, "\r"))
	assert.True(t, strings.HasSuffix(out, "\r\x1b[K"))
	assert.Contains(t, out, "p999")
	assert.ErrorIs(t, l.Live(ctx, nil, 0), ErrInvalidOptions)
}

// TestLiveLine checks the figures of one line from two snapshots.
func TestLiveLine(t *testing.T) {
	prev := Stats{Elapsed: time.Second, Ops: 100, Latency: new(Histogram)}
	prev.Latency.Record(time.Second) // before the interval: left out
	cur := Stats{Elapsed: 3 * time.Second, Ops: 2100, Errors: 10, Unknown: 1, Latency: new(Histogram)}
	cur.Latency.Merge(prev.Latency)
	for range 100 {
		cur.Latency.Record(100 * time.Microsecond)
	}
	line := LiveLine(&prev, &cur)
	assert.Contains(t, line, "1000 ops/s")
	assert.Contains(t, line, "p50 10")
	assert.Contains(t, line, "p999 10")
	assert.Contains(t, line, "5 errors/s")
	assert.Contains(t, line, "(2100 ops, 10 errors, 1 unknown outcomes)")
}

func TestDur(t *testing.T) {
	assert.Equal(t, "75µs", Dur(75*time.Microsecond))
	assert.Equal(t, "1.5ms", Dur(1500*time.Microsecond))
	assert.Equal(t, "2.00s", Dur(2*time.Second))
}
