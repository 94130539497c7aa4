package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots/plan"
)

const (
	idA = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
	idB = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
	idC = "0a1f5c1d4c2a1e0b7f6e5d4c3b2a190817263544"
)

// Saved CLUSTER NODES output of A (migrating slot 100 to B) and of B
// (importing it from A).
const (
	nodesOfA = idA + " 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [100->-" + idB + "]\n" +
		idB + " 127.0.0.1:30002@40002 master - 0 1426238317239 2 connected 5461-10922\n" +
		idC + " 127.0.0.1:30003@40003 master - 0 1426238316232 3 connected 10923-16383\n"
	nodesOfB = idA + " 127.0.0.1:30001@40001 master - 0 1426238317239 1 connected 0-5460\n" +
		idB + " 127.0.0.1:30002@40002 myself,master - 0 0 2 connected 5461-10922 [100-<-" + idA + "]\n" +
		idC + " 127.0.0.1:30003@40003 master - 0 1426238316232 3 connected 10923-16383\n"
)

func decodeReport(t *testing.T, out string) *plan.CheckReport {
	t.Helper()
	var r plan.CheckReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return &r
}

func findingOf(r *plan.CheckReport, code string) (plan.Finding, bool) {
	for _, f := range r.Findings {
		if f.Code == code {
			return f, true
		}
	}
	return plan.Finding{}, false
}

func TestCheckSavedNodes(t *testing.T) {
	dir := t.TempDir()
	fa, fb := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	require.NoError(t, os.WriteFile(fa, []byte(nodesOfA), 0o644))
	require.NoError(t, os.WriteFile(fb, []byte(nodesOfB), 0o644))

	// Both sides: an open slot, a warning.
	code, out, errOut := slotctl(t, "", "check", "-nodes", fa, "-nodes", fb)
	assert.Equal(t, 0, code, errOut)
	r := decodeReport(t, out)
	f, ok := findingOf(r, plan.FindingOpenSlot)
	require.True(t, ok, out)
	assert.Equal(t, plan.SeverityWarning, f.Severity)
	assert.Equal(t, "100", f.Slots[0].String())
	assert.Equal(t, []string{idA, idB}, f.Nodes)
	assert.Equal(t, 16384, r.Covered)
	assert.Equal(t, []string{idB, idA}, r.Reporters)
	assert.Contains(t, errOut, "[warning] open-slot: slot 100 is open")
	code, _, _ = slotctl(t, "", "check", "-strict", "-nodes", fa, "-nodes", fb)
	assert.Equal(t, 1, code)

	// A alone, from stdin: B's side is unknown, so it is half open.
	code, out, _ = slotctl(t, nodesOfA, "check", "-nodes", "-")
	assert.Equal(t, 1, code)
	f, ok = findingOf(decodeReport(t, out), plan.FindingOpenSlot)
	require.True(t, ok)
	assert.Equal(t, plan.SeverityError, f.Severity)
}

func TestCheckUsage(t *testing.T) {
	code, _, _ := slotctl(t, "", "check")
	assert.Equal(t, 2, code)
	code, _, _ = slotctl(t, "", "check", "-nodes", "x", "-addr", "127.0.0.1:1")
	assert.Equal(t, 2, code)
	code, _, errOut := slotctl(t, "garbage line\n", "check", "-nodes", "-")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, errOut)
	code, _, errOut = slotctl(t, "", "check", "-nodes", "/nonexistent")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")
}

// A real cluster left with an open slot: check -addr reports it.
func TestCheckLiveOpenSlot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)

	const slot = 4242
	owner, err := c.OwnerOf(ctx, slot)
	require.NoError(t, err)
	var to *clustertest.Node
	for _, n := range c.Nodes() {
		if n != owner {
			to = n
			break
		}
	}
	require.NotNil(t, to)

	code, out, errOut := slotctl(t, "", "check", "-addr", owner.Addr)
	require.Equal(t, 0, code, errOut)
	r := decodeReport(t, out)
	_, open := findingOf(r, plan.FindingOpenSlot)
	assert.False(t, open, "healthy cluster: %s", out)
	assert.Len(t, r.Reporters, 3)
	assert.Equal(t, 16384, r.Covered)

	require.NoError(t, c.BeginMigration(ctx, slot, to))
	code, out, errOut = slotctl(t, "", "check", "-addr", to.Addr)
	assert.Equal(t, 0, code, errOut)
	r = decodeReport(t, out)
	f, ok := findingOf(r, plan.FindingOpenSlot)
	require.True(t, ok, "%s\n%s", out, errOut)
	assert.Equal(t, plan.SeverityWarning, f.Severity)
	assert.Equal(t, "4242", f.Slots[0].String())
	assert.Equal(t, []string{owner.ID, to.ID}, f.Nodes)
	assert.Contains(t, f.Message, "migrating from "+owner.ID+" to "+to.ID)
	t.Logf("slotctl check stderr:\n%s", errOut)

	// Unreachable address: a failure, not a hang.
	code, _, errOut = slotctl(t, "", "check", "-addr", "127.0.0.1:1", "-timeout", "2s")
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, errOut)
}

// TestTimeoutMustBePositive: -timeout 0 or below is refused with an
// error naming the flag, by every command that reaches a live cluster
// (before: a misleading "i/o timeout" from the dial, and for apply an
// error naming migrate's option DialTimeout). Nothing is dialed: the
// flag is checked first.
func TestTimeoutMustBePositive(t *testing.T) {
	for _, args := range [][]string{
		{"check", "-addr", "127.0.0.1:1", "-timeout", "-1s"},
		{"plan", "rebalance", "-addr", "127.0.0.1:1", "-timeout", "0s"},
		{"apply", "-addr", "127.0.0.1:1", "-timeout", "-1s", "plan.json"},
	} {
		code, _, errOut := slotctl(t, "", args...)
		assert.NotZero(t, code, "%q", args)
		assert.Contains(t, errOut, "-timeout must be above 0", "%q", args)
	}
}
