package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stalledWriter blocks every Write until released, like a pipe whose
// reader stopped reading; entered is closed at the first Write.
type stalledWriter struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

// TestApplyStalledStdout: apply's progress goes to stdout; when its reader
// stalls (a pipe nobody reads), SIGINT/SIGTERM must still stop apply
// between steps (exit 1, saying it stopped), instead of leaving every
// move blocked in the progress callback for ever.
func TestApplyStalledStdout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)
	to := firstPrimary(t, ctx, c)
	code, planJSON, errOut := slotctl(t, "", "plan", "reshard", "-addr", to.Addr, "-to", to.ID, "-slots", "50")
	require.Equal(t, 0, code, errOut)
	w := &stalledWriter{entered: make(chan struct{}), release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(w.release)
		}
	}
	defer release()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(actx, []string{"apply", "-addr", to.Addr, "-json", "-"}, strings.NewReader(planJSON), w, &errb)
	}()
	select {
	case <-w.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("apply never wrote progress")
	}
	stop() // SIGINT
	select {
	case code := <-done:
		assert.Equal(t, 1, code)
		assert.Contains(t, errb.String(), "stopped")
	case <-time.After(10 * time.Second):
		release()
		<-done
		t.Fatal("apply still blocked on its stalled stdout 10 s after the stop")
	}
	release()
	// The stopped run resumes: the same plan finishes.
	code, _, errOut = slotctl(t, planJSON, "apply", "-addr", to.Addr, "-")
	require.Equal(t, 0, code, errOut)
}
