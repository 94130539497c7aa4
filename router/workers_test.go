package router

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkersRunAndClose: jobs run on workers (at most maxWorkers kept),
// more at once get goroutines of their own, a panicking job is reported
// and its worker keeps serving, close stops them (goleak checks in
// TestMain), and jobs after close still run.
// fn is a job that runs a function.
type fn func()

func (f fn) run() { f() }

func TestWorkersRunAndClose(t *testing.T) {
	panics := make(chan error, 1)
	w := newWorkers(func(err error) { panics <- err })
	// 3*maxWorkers jobs blocked at once: all run.
	release := make(chan struct{})
	var started, done sync.WaitGroup
	n := 3 * maxWorkers
	started.Add(n)
	done.Add(n)
	for range n {
		w.run(fn(func() {
			defer done.Done()
			started.Done()
			<-release
		}))
	}
	started.Wait()
	require.LessOrEqual(t, w.n.Load(), int32(maxWorkers))
	close(release)
	done.Wait()

	w.run(fn(func() { panic("boom") }))
	require.ErrorContains(t, <-panics, "boom")
	done.Add(1)
	w.run(fn(func() { done.Done() }))
	done.Wait()

	// close does not wait for a busy worker: its job may be a blocking
	// command that closing the pool does not interrupt.
	release2 := make(chan struct{})
	busy := make(chan struct{})
	w.run(fn(func() {
		close(busy)
		<-release2
	}))
	<-busy
	w.close() // returns with the job still running
	close(release2)
	w.wait()
	require.Zero(t, w.n.Load())
	ran := make(chan error, 1)
	w.run(fn(func() { ran <- errors.New("ran") }))
	require.EqualError(t, <-ran, "ran")
}

// wait waits until every worker has exited.
func (w *workers) wait() { w.wg.Wait() }
