package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/syncbuf"
)

// waitFor polls until cond holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// TestApplySecondSignal: apply waits for a step in flight after the first
// SIGINT (here the read of a node frozen with SIGSTOP, which only its
// 30 s command timeout would end); it says so on stderr, and a second
// SIGINT ends the process at once, as the operator asks (the run is
// resumable from any point).
func TestApplySecondSignal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)
	to := firstPrimary(t, ctx, c)
	code, planJSON, errOut := slotctl(t, "", "plan", "reshard", "-addr", to.Addr, "-to", to.ID, "-slots", "10")
	require.Equal(t, 0, code, errOut)
	pf := filepath.Join(t.TempDir(), "plan.json")
	require.NoError(t, os.WriteFile(pf, []byte(planJSON), 0o644))
	var frozen = c.Nodes()[len(c.Nodes())-1]
	require.NotEqual(t, to, frozen)
	require.NoError(t, c.Pause(frozen))

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "apply", "-addr", to.Addr, "-json", pf)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			_ = cmd.Process.Kill()
			<-waited
		}
	}()
	require.True(t, waitFor(20*time.Second, func() bool { return strings.Contains(stderr.String(), "plan ") }),
		"apply never started: %s", stderr.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.True(t, waitFor(5*time.Second, func() bool { return strings.Contains(stderr.String(), "again to quit at once") }),
		"no word after the first SIGINT: %s", stderr.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case werr := <-waited:
		ended = true
		var exit *exec.ExitError
		require.True(t, errors.As(werr, &exit), "%v; stderr: %s", werr, stderr.String())
		ws, ok := exit.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		assert.True(t, ws.Signaled(), "ended by the second signal: %v; stderr: %s", werr, stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("apply still running 5 s after the second SIGINT; stderr: %s", stderr.String())
	}
}
