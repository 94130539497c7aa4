package router

import (
	"sync"
	"sync/atomic"

	"github.com/slotrouter/slotrouter/internal/safe"
)

// maxWorkers bounds the goroutines a Client keeps waiting for DoMulti's
// pipelines; more pipelines at once get goroutines of their own.
const maxWorkers = 16

// workers runs DoMulti's per-node pipelines on goroutines that live as
// long as the Client. A pipeline runs rueidis's synchronous path (a
// write and reads from the calling goroutine), which needs a deep stack:
// a fresh goroutine starts with a small one and grows it, copying it
// each time (10 % of the CPU of a pipeline of 100 commands over three
// nodes went to runtime.newstack/copystack); a worker grows its stack
// once.
type workers struct {
	jobs chan job // unbuffered: a send succeeds when a worker is idle
	stop chan struct{}
	n    atomic.Int32   // live workers
	wg   sync.WaitGroup // live workers (tests wait for them)

	// onPanic reports a panic recovered in a job (never expected: jobs
	// recover their own).
	onPanic func(err error)
}

func newWorkers(onPanic func(error)) *workers {
	return &workers{jobs: make(chan job), stop: make(chan struct{}), onPanic: onPanic}
}

// job is what a worker runs (a pointer in an interface: handing it over
// allocates nothing).
type job interface{ run() }

// run runs f on an idle worker, a new worker (up to maxWorkers), or a
// goroutine of its own. f must signal its own completion.
func (w *workers) run(f job) {
	select {
	case w.jobs <- f:
		return
	default:
	}
	if w.n.Add(1) <= maxWorkers {
		// (After close, the new worker exits once f returns.)
		w.wg.Add(1)
		go w.loop(f)
		return
	}
	w.n.Add(-1)
	go w.call(f)
}

// loop runs f, then the jobs it is given until the workers stop.
func (w *workers) loop(f job) {
	defer w.wg.Done()
	defer w.n.Add(-1)
	for {
		w.call(f)
		select {
		case f = <-w.jobs:
		case <-w.stop:
			return
		}
	}
}

// call runs f, turning a panic into a report.
func (w *workers) call(f job) {
	if err := safe.Call("DoMulti worker", f.run); err != nil && w.onPanic != nil {
		w.onPanic(err)
	}
}

// close stops the workers: an idle one exits at once, a busy one when
// its job returns. It does not wait for them: a job may be a pipeline
// with a blocking command (BLPOP k 0) on a connection of rueidis's pool,
// which closing the pool does not interrupt, and the caller of that
// DoMulti waits for it anyway. A job run later gets a worker that exits
// once it returns.
func (w *workers) close() { close(w.stop) }
