package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoTestHarnessLinked checks, with "go list -deps", that the tool
// operators install does not link the test harness (internal/clustertest
// runs redis-server, kill -9 and SIGSTOP) nor the test libraries; the
// demo that needs them is cmd/slotdemo.
func TestNoTestHarnessLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "list", "-deps", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/slotrouter/slotrouter/slots/plan", "go list lists slotctl's dependencies")
	for _, dep := range deps {
		for _, banned := range []string{"/internal/clustertest", "/internal/loadgen", "go.uber.org/goleak", "github.com/stretchr/testify"} {
			assert.NotContains(t, dep, banned)
		}
		assert.NotEqual(t, "testing", dep)
	}
}

// TestDemoMoved checks that "slotctl demo" points to cmd/slotdemo.
func TestDemoMoved(t *testing.T) {
	code, out, errOut := slotctl(t, "", "demo")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Equal(t, "slotctl: the demo is its own command now: go run ./cmd/slotdemo\n", errOut)
	_, out, _ = slotctl(t, "", "help")
	assert.NotContains(t, out, "demo")
}
