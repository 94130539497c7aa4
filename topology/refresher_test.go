package topology

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Refresher's timing (coalescing, spacing, backoff, periodic digests)
// is tested against a fake source inside synctest bubbles: time is virtual,
// so the bounds below are exact, and a Trigger that blocked would show up
// as a deadlock.

// fakeNode is a primary of the fake cluster.
func fakeNode(port int, epoch uint64) *Node {
	a := fmt.Sprintf("127.0.0.1:%d", port)
	return &Node{
		ID:          strings.Repeat(fmt.Sprint(port%10), 40),
		Endpoint:    "127.0.0.1",
		IP:          "127.0.0.1",
		Port:        port,
		Role:        RolePrimary,
		Health:      HealthOnline,
		ConfigEpoch: epoch,
		EpochKnown:  true,
		Announced:   a,
		Addr:        a,
	}
}

// fakeView is what every fake node says: node 7001 (epoch e1) serves
// 0..split-1, node 7002 (epoch e2) serves split..16383.
func fakeView(split slots.Slot, e1, e2 uint64) View {
	return View{
		Source:   SourceShards,
		Answered: "127.0.0.1:7001",
		Shards: []Shard{
			{Primary: fakeNode(7001, e1), Ranges: []slots.Range{{Start: 0, End: split - 1}}},
			{Primary: fakeNode(7002, e2), Ranges: []slots.Range{{Start: split, End: slots.Max}}},
		},
	}
}

// fakeSource stands in for the Loader.
type fakeSource struct {
	mu        sync.Mutex
	view      View
	digest    uint64
	err       error
	delay     time.Duration
	block     chan struct{} // when set, LoadViews waits for it to close
	loadTimes []time.Time
	probes    int
	probeErr  error
	closed    bool
}

func newFakeSource() *fakeSource {
	return &fakeSource{view: fakeView(8192, 1, 2), digest: 1}
}

func (f *fakeSource) LoadViews(ctx context.Context, prev *Snapshot, ask []string) ([]View, LoadReport, error) {
	f.mu.Lock()
	f.loadTimes = append(f.loadTimes, time.Now())
	v, d, err, delay, block := f.view, f.digest, f.err, f.delay, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, LoadReport{}, ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, LoadReport{}, ctx.Err()
		}
	}
	rep := LoadReport{Asked: []string{"127.0.0.1:7001"}}
	if err != nil {
		return nil, rep, fmt.Errorf("%w: %w", ErrNoNodeAnswered, err)
	}
	rep.Answered = rep.Asked
	for _, n := range v.Nodes() {
		rep.Replies = append(rep.Replies, NodeReply{Addr: n.Addr, View: v, Digest: d})
	}
	return []View{v}, rep, nil
}

func (f *fakeSource) Probe(ctx context.Context, addrs []string) []NodeReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	out := make([]NodeReply, len(addrs))
	for i, a := range addrs {
		out[i] = NodeReply{Addr: a, Digest: f.digest, Err: errors.Join(f.err, f.probeErr)}
	}
	return out
}

func (f *fakeSource) PickNodes(s *Snapshot, n int) []string { return nil }
func (f *fakeSource) Prune(keep func(string) bool)          {}
func (f *fakeSource) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func (f *fakeSource) loads() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.loadTimes...)
}

func (f *fakeSource) probeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probes
}

func (f *fakeSource) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// startFake starts a refresher over a fake source and does the first
// refresh, as New does.
func startFake(t *testing.T, f *fakeSource, opts Options) (*Refresher, *eventRecorder) {
	t.Helper()
	rec := &eventRecorder{}
	if opts.Observer == nil {
		opts.Observer = rec
	}
	r := newRefresher(opts, f)
	t.Cleanup(r.Close)
	require.NoError(t, r.refresh(context.Background(), CauseInitial))
	return r, rec
}

func TestRefresherFirstRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, rec := startFake(t, f, Options{Period: NoPeriodicRefresh})
		s := r.Current()
		require.True(t, s.Covered())
		p, ok := s.Primary(0)
		require.True(t, ok)
		assert.Equal(t, "127.0.0.1:7001", p.Addr)
		evs := rec.all()
		require.Len(t, evs, 1)
		assert.Equal(t, CauseInitial, evs[0].Cause)
		assert.NotNil(t, evs[0].New)
		assert.Len(t, evs[0].Changes.Added, 2)
	})
}

func TestRefresherCoalescesABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		f.delay = 10 * time.Millisecond
		r, rec := startFake(t, f, Options{Period: NoPeriodicRefresh})
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() { r.Trigger(fmt.Sprint("burst ", i)) })
		}
		wg.Wait()
		time.Sleep(time.Second)
		loads := f.loads()
		assert.GreaterOrEqual(t, len(loads), 2, "the burst caused a fetch")
		assert.LessOrEqual(t, len(loads), 3, "1 initial + at most 2 for the burst")
		total := 0
		for _, e := range rec.all()[1:] {
			assert.Equal(t, CauseTrigger, e.Cause)
			assert.True(t, strings.HasPrefix(e.Reason, "burst "), e.Reason)
			total += e.Triggers
		}
		assert.Equal(t, 1000, total, "every trigger is accounted for")
	})
}

func TestRefresherSpacesFetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		const gap = 100 * time.Millisecond
		r, _ := startFake(t, f, Options{Period: NoPeriodicRefresh, MinInterval: gap, Jitter: 20 * time.Millisecond})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
						r.Trigger("sustained")
					}
				}
			})
		}
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		loads := f.loads()
		assert.LessOrEqual(t, len(loads), 1+int(2*time.Second/gap)+1)
		assert.GreaterOrEqual(t, len(loads), 1+int(2*time.Second/(gap+20*time.Millisecond))-1)
		for i := 1; i < len(loads); i++ {
			assert.GreaterOrEqual(t, loads[i].Sub(loads[i-1]), gap, "fetch %d", i)
		}
	})
}

func TestRefresherTriggerNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, _ := startFake(t, f, Options{Period: NoPeriodicRefresh})
		block := make(chan struct{})
		f.set(func(f *fakeSource) { f.block = block })
		r.Trigger("start a fetch that hangs")
		time.Sleep(time.Second) // the loop is now inside LoadViews
		require.Len(t, f.loads(), 2)
		start := time.Now()
		for range 10000 {
			r.Trigger("while a fetch hangs") // would deadlock the bubble if it waited
		}
		assert.Zero(t, time.Since(start))
		// A Refresh bounded by its context returns when the context ends.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, r.Refresh(ctx), context.DeadlineExceeded)
		close(block)
		time.Sleep(time.Second)
		assert.Len(t, f.loads(), 3, "the triggers made while it hung coalesce into one fetch")
	})
}

func TestRefresherConcurrentRefreshShareFetches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		f.delay = 20 * time.Millisecond
		r, _ := startFake(t, f, Options{Period: NoPeriodicRefresh})
		var wg sync.WaitGroup
		errs := make([]error, 100)
		for i := range errs {
			wg.Go(func() { errs[i] = r.Refresh(context.Background()) })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		assert.LessOrEqual(t, len(f.loads()), 3)
	})
}

func TestRefresherBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, rec := startFake(t, f, Options{Period: time.Minute, MinInterval: 100 * time.Millisecond, MaxBackoff: time.Second})
		boom := errors.New("boom")
		f.set(func(f *fakeSource) { f.err = boom })
		err := r.Refresh(context.Background())
		require.ErrorIs(t, err, boom)
		require.ErrorIs(t, err, ErrNoNodeAnswered)
		// Triggers during the outage do not defeat the backoff.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					r.Trigger("outage")
				}
			}
		})
		time.Sleep(10 * time.Second)
		close(stop)
		wg.Wait()
		loads := f.loads()[1:] // after the initial one
		// Waits are at least half of 200, 400, 800, 1000, 1000... ms.
		assert.LessOrEqual(t, len(loads), 25)
		assert.GreaterOrEqual(t, len(loads), 10)
		for i := 1; i < len(loads); i++ {
			lower := min(time.Second, 100*time.Millisecond<<i) / 2
			assert.GreaterOrEqual(t, loads[i].Sub(loads[i-1]), lower, "attempt %d", i)
		}
		evs := rec.all()
		last := evs[len(evs)-1]
		assert.Equal(t, len(loads), last.Failures)
		assert.LessOrEqual(t, last.Backoff, time.Second)
		assert.GreaterOrEqual(t, last.Backoff, 500*time.Millisecond)

		// Recovery resets the failure count.
		f.set(func(f *fakeSource) { f.err = nil })
		time.Sleep(2 * time.Second)
		evs = rec.all()
		last = evs[len(evs)-1]
		assert.NoError(t, last.Err)
		assert.Zero(t, last.Failures)
		assert.Contains(t, []Cause{CauseRetry, CauseTrigger}, last.Cause, "the retry (with the triggers left from the outage)")
	})
}

func TestRefresherPeriodicDigest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, rec := startFake(t, f, Options{Period: time.Second})
		first := r.Current()
		time.Sleep(3500 * time.Millisecond)
		assert.Len(t, f.loads(), 1, "unchanged digests: no rebuild")
		assert.Equal(t, 3, f.probeCount())
		assert.Same(t, first, r.Current())
		for _, e := range rec.all()[1:] {
			assert.Equal(t, CausePeriodic, e.Cause)
			assert.True(t, e.Probed)
			assert.True(t, e.Skipped)
			assert.Nil(t, e.New)
		}

		// The cluster changes: digest and view.
		f.set(func(f *fakeSource) {
			f.digest = 2
			f.view = fakeView(8000, 1, 3)
		})
		time.Sleep(time.Second)
		require.Len(t, f.loads(), 2)
		evs := rec.all()
		last := evs[len(evs)-1]
		assert.Equal(t, CausePeriodic, last.Cause)
		assert.True(t, last.Probed)
		assert.False(t, last.Skipped)
		require.NotNil(t, last.New)
		require.Len(t, last.Changes.Moved, 1)
		assert.Equal(t, slots.Range{Start: 8000, End: 8191}, last.Changes.Moved[0].Range)
		p, _ := r.Current().Primary(8000)
		assert.Equal(t, "127.0.0.1:7002", p.Addr)

		// A trigger resets the periodic timer: at 4.5s a triggered fetch,
		// so no probe at 5s.
		r.Trigger("x")
		time.Sleep(700 * time.Millisecond)
		assert.Len(t, f.loads(), 3)
		assert.Equal(t, 4, f.probeCount())
	})
}

func TestRefresherPeriodicProbeFailsThenLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		f.probeErr = errors.New("probe refused")
		_, rec := startFake(t, f, Options{Period: time.Second})
		time.Sleep(1500 * time.Millisecond)
		assert.Equal(t, 1, f.probeCount())
		require.Len(t, f.loads(), 2, "no digest answered: a full refresh instead")
		evs := rec.all()
		last := evs[len(evs)-1]
		assert.True(t, last.Probed)
		assert.False(t, last.Skipped)
		assert.NotNil(t, last.New)
		assert.Len(t, last.Asked, 3, "2 probed + 1 loaded")
	})
}

func TestNewNeedsSeeds(t *testing.T) {
	_, err := New(context.Background(), Options{})
	assert.ErrorIs(t, err, ErrNoSeeds)
}

func TestRefresherPeriodicOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		_, rec := startFake(t, f, Options{Period: NoPeriodicRefresh})
		time.Sleep(time.Hour)
		assert.Len(t, f.loads(), 1)
		assert.Zero(t, f.probeCount())
		assert.Len(t, rec.all(), 1)
	})
}

func TestRefresherDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	assert.Equal(t, DefaultPeriod, o.Period)
	assert.Equal(t, DefaultMinInterval, o.MinInterval)
	assert.Equal(t, DefaultMinInterval/4, o.Jitter)
	assert.Equal(t, DefaultNodesPerRefresh, o.NodesPerRefresh)
	assert.Equal(t, DefaultMaxBackoff, o.MaxBackoff)
	assert.NotNil(t, o.LookupHost)
	o = Options{Period: NoPeriodicRefresh, Jitter: -1}.withDefaults()
	assert.Zero(t, o.Period)
	assert.Zero(t, o.Jitter)
}

func TestRefresherClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, _ := startFake(t, f, Options{})
		block := make(chan struct{})
		defer close(block)
		f.set(func(f *fakeSource) { f.block = block })
		errc := make(chan error, 1)
		go func() { errc <- r.Refresh(context.Background()) }()
		time.Sleep(time.Second) // the fetch hangs
		r.Close()               // cancels it and waits for the loop
		assert.ErrorIs(t, <-errc, ErrClosed)
		assert.True(t, f.isClosed())
		assert.ErrorIs(t, r.Refresh(context.Background()), ErrClosed)
		r.Trigger("after close") // no effect, no block
		r.Close()
	})
}

func TestRefresherApplyMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		r, rec := startFake(t, f, Options{Period: NoPeriodicRefresh})
		v := r.Current().Version()

		// To a known primary: published at once, no refresh needed.
		res := r.ApplyMoved(100, "127.0.0.1:7002")
		assert.Equal(t, MovedToPrimary, res.Kind)
		assert.False(t, res.NeedRefresh)
		p, _ := r.Current().Primary(100)
		assert.Equal(t, "127.0.0.1:7002", p.Addr)
		assert.Greater(t, r.Current().Version(), v)
		time.Sleep(time.Second)
		assert.Len(t, f.loads(), 1)

		// A fetch that started before the MOVED and answers with the older
		// map (same epochs) does not roll the fix back.
		block := make(chan struct{})
		f.set(func(f *fakeSource) { f.block = block })
		r.Trigger("slow fetch")
		time.Sleep(time.Second)
		res = r.ApplyMoved(200, "127.0.0.1:7002")
		assert.Equal(t, MovedToPrimary, res.Kind)
		close(block)
		time.Sleep(time.Second)
		p, _ = r.Current().Primary(200)
		assert.Equal(t, "127.0.0.1:7002", p.Addr, "the MOVED fix survives the stale fetch")
		require.Len(t, f.loads(), 2)

		// To an unknown node: a refresh is triggered.
		n := len(rec.all())
		res = r.ApplyMoved(300, "127.0.0.1:7009")
		assert.True(t, res.NeedRefresh)
		require.NotNil(t, res.To)
		assert.Equal(t, "127.0.0.1:7009", res.To.Addr)
		time.Sleep(time.Second)
		require.Len(t, f.loads(), 3)
		ev, ok := rec.find(n, func(e RefreshEvent) bool { return e.Cause == CauseTrigger })
		require.True(t, ok)
		assert.Equal(t, "MOVED 127.0.0.1:7009", ev.Reason)
	})
}

func TestRefresherMapAddr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		hook := func(a string) string { return "127.0.0.1:1" + a[len(a)-4:] }
		r, _ := startFake(t, f, Options{Period: NoPeriodicRefresh, MapAddr: hook})
		assert.Equal(t, "127.0.0.1:17001", r.MapAddr("127.0.0.1:7001"))
		for _, n := range r.Current().Nodes() {
			assert.Equal(t, hook(n.Announced), n.Addr)
		}
		res := r.ApplyMoved(1, "127.0.0.1:7009")
		require.NotNil(t, res.To)
		assert.Equal(t, "127.0.0.1:17009", res.To.Addr)
	})
}

// BenchmarkRefresherCurrent measures the hot path: the snapshot load and a
// slot lookup, from many goroutines.
func BenchmarkRefresherCurrent(b *testing.B) {
	r := newRefresher(Options{Period: NoPeriodicRefresh}, newFakeSource())
	defer r.Close()
	require.NoError(b, r.Refresh(context.Background()))
	b.RunParallel(func(pb *testing.PB) {
		x := slots.Slot(0)
		for pb.Next() {
			if _, ok := r.Current().Lookup(x); !ok {
				b.Fatal("uncovered")
			}
			x = (x + 1) & slots.Max
		}
	})
}

// BenchmarkRefresherTrigger measures Trigger from many goroutines at once
// (the fetches it causes are spaced by MinInterval, off the caller's path).
func BenchmarkRefresherTrigger(b *testing.B) {
	r := newRefresher(Options{Period: NoPeriodicRefresh}, newFakeSource())
	defer r.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Trigger("bench")
		}
	})
}

// panickyObserver panics in OnRefresh and records what OnPanic hears.
type panickyObserver struct {
	mu     sync.Mutex
	calls  int
	panics []error
}

func (o *panickyObserver) OnRefresh(RefreshEvent) {
	o.mu.Lock()
	o.calls++
	o.mu.Unlock()
	panic("user observer")
}

func (o *panickyObserver) OnPanic(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.panics = append(o.panics, err)
}

func (o *panickyObserver) counts() (calls, panics int, last error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.panics) > 0 {
		last = o.panics[len(o.panics)-1]
	}
	return o.calls, len(o.panics), last
}

// TestRefresherObserverPanicReported: a panic in the Observer's
// OnRefresh is recovered and given to its OnPanic (a PanicObserver), as
// an error wrapping ErrPanic; the Refresher goes on refreshing and
// publishing.
func TestRefresherObserverPanicReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSource()
		obs := &panickyObserver{}
		r, _ := startFake(t, f, Options{Period: NoPeriodicRefresh, Observer: obs})
		f.set(func(f *fakeSource) { f.view = fakeView(4096, 3, 2) })
		require.NoError(t, r.Refresh(context.Background()))
		p, ok := r.Current().Primary(5000)
		require.True(t, ok)
		assert.Equal(t, "127.0.0.1:7002", p.Addr, "the second refresh was published")
		calls, panics, last := obs.counts()
		assert.Equal(t, 2, calls)
		assert.Equal(t, 2, panics)
		assert.ErrorIs(t, last, ErrPanic)
	})
}
