package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// mainEnv makes the test binary run slotctl's main instead of the tests,
// so that a test can run slotctl as a process and signal it.
const mainEnv = "SLOTCTL_TEST_RUN_MAIN"

func init() {
	if os.Getenv(mainEnv) == "1" {
		main()
	}
}

// bigLayout is a layout of n primaries where the first owns every slot:
// the plan gives to each of the others in its own batch.
func bigLayout(t *testing.T, n int) []byte {
	t.Helper()
	l := plan.Layout{Version: 1}
	for i := range n {
		nd := plan.Node{ID: fmt.Sprintf("node%05d", i), Addr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250)}
		if i == 0 {
			nd.Slots = plan.Ranges{{Start: 0, End: slots.Max}}
		}
		l.Nodes = append(l.Nodes, nd)
	}
	b, err := json.Marshal(l)
	require.NoError(t, err)
	return b
}

// TestPlanSIGTERM runs "slotctl plan rebalance" as a process on a layout
// of 10,000 primaries and sends it SIGTERM, once while it reads the layout
// (stdin left open) and once after stdin is closed, with its stdout never
// read, so that it is parsing, planning or blocked writing the plan (the
// plan is larger than a pipe holds, so it can never finish): either way it
// must exit promptly with status 1 and say it was stopped by the signal.
// The layout is larger than a pipe holds too: once it is written, slotctl
// is reading it, so its signal handler is in place.
func TestPlanSIGTERM(t *testing.T) {
	layout := bigLayout(t, 10000)
	require.Greater(t, len(layout), 4<<16, "more than a pipe holds (64 KiB on Linux)")
	for _, closeStdin := range []bool{false, true} {
		t.Run(fmt.Sprintf("stdin closed=%v", closeStdin), func(t *testing.T) {
			exe, err := os.Executable()
			require.NoError(t, err)
			cmd := exec.Command(exe, "plan", "rebalance")
			cmd.Env = append(os.Environ(), mainEnv+"=1")
			stdinR, stdinW, err := os.Pipe()
			require.NoError(t, err)
			stdoutR, stdoutW, err := os.Pipe()
			require.NoError(t, err)
			var stderr bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, &stderr
			require.NoError(t, cmd.Start())
			require.NoError(t, stdinR.Close())
			require.NoError(t, stdoutW.Close())
			defer func() {
				_ = stdinW.Close()
				_ = stdoutR.Close()
			}()
			_, err = stdinW.Write(layout)
			require.NoError(t, err)
			if closeStdin {
				require.NoError(t, stdinW.Close())
			}
			sent := time.Now()
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			var werr error
			select {
			case werr = <-waited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
				t.Fatalf("slotctl still running 30 s after SIGTERM; stderr: %s", stderr.String())
			}
			took := time.Since(sent)
			var exit *exec.ExitError
			require.ErrorAs(t, werr, &exit, "stderr: %s", stderr.String())
			assert.Equal(t, 1, exit.ExitCode(), "stderr: %s", stderr.String())
			assert.Contains(t, stderr.String(), "slotctl plan rebalance: stopped: terminated signal received")
			t.Logf("exit %d %v after SIGTERM: %s", exit.ExitCode(), took, strings.TrimSpace(stderr.String()))
		})
	}
}

// stopAt is a context cancelled with a cause on the at-th call of Err,
// to stop slotctl in the middle of planning without timing.
type stopAt struct {
	context.Context
	cancel context.CancelCauseFunc
	calls  atomic.Int64
	at     int64
}

func (c *stopAt) Err() error {
	if c.calls.Add(1) == c.at {
		c.cancel(errors.New("test signal received"))
	}
	return c.Context.Err()
}

// TestPlanStoppedMidPlan: when slotctl's context ends while the planner
// runs (as SIGTERM ends it), "plan rebalance" stops, exits 1 and names the
// cause. The context ends at its 5000th look, inside the planner (which
// looks about 10,000 times on this layout).
func TestPlanStoppedMidPlan(t *testing.T) {
	layout := bigLayout(t, 10000)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := &stopAt{Context: ctx, cancel: cancel, at: 5000}
	var out, errb bytes.Buffer
	code := run(stop, []string{"plan", "rebalance"}, bytes.NewReader(layout), &out, &errb)
	assert.Equal(t, 1, code)
	assert.Empty(t, out.String())
	assert.Equal(t, "slotctl plan rebalance: stopped: test signal received\n", errb.String())
	assert.GreaterOrEqual(t, stop.calls.Load(), int64(5000))

	// Without the stop, the same plan is made.
	code, pout, perr := slotctl(t, string(layout), "plan", "rebalance")
	require.Equal(t, 0, code, perr)
	p := parsePlanOut(t, pout)
	assert.Equal(t, 9999, p.Summary.Batches)
}

// TestPlanFlagConflicts: flags that would be ignored, and values the
// planner would refuse, are usage errors naming the flag. None of these
// reaches the network (the address is a closed loopback port anyway).
func TestPlanFlagConflicts(t *testing.T) {
	dir := t.TempDir()
	lf := dir + "/layout.json"
	require.NoError(t, os.WriteFile(lf, []byte(layout3), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "rebalance", "-layout", lf, "-addr", "127.0.0.1:1"}, "-layout and -addr are exclusive"},
		{[]string{"plan", "load", "-layout", "-", "-addr", "127.0.0.1:1"}, "-layout and -addr are exclusive"},
		{[]string{"plan", "load", "-addr", "127.0.0.1:1", "-metric", "bogus"}, `-metric "bogus": unknown metric`},
		{[]string{"plan", "load", "-layout", lf, "-metric", "bogus"}, `-metric "bogus": unknown metric`},
		{[]string{"plan", "load", "-layout", lf, "-metric", "keys"}, "-metric applies to loads read live only"},
		{[]string{"plan", "load", "-addr", "127.0.0.1:1", "-loads", lf, "-metric", "keys"}, "-metric applies to loads read live only"},
		{[]string{"plan", "load", "-layout", lf, "-range-cost", "-1"}, "-range-cost -1: must be >= 0"},
		{[]string{"plan", "load", "-layout", lf, "-tolerance", "-0.1"}, "-tolerance -0.1: must be a number >= 0"},
		{[]string{"plan", "load", "-layout", lf, "-tolerance", "NaN"}, "-tolerance NaN"},
		{[]string{"plan", "rebalance", "-layout", lf, "-threshold", "-1"}, "-threshold -1: must be a number >= 0"},
		{[]string{"plan", "validate", "-layout", lf, lf}, "-layout and -addr do not apply"},
	} {
		code, out, errOut := slotctl(t, layout3, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		assert.Empty(t, out, "%v", tc.args)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
	// The accepted forms still work.
	code, _, errOut := slotctl(t, layout3, "plan", "load", "-layout", lf, "-range-cost", "0", "-tolerance", "0.5")
	assert.Equal(t, 1, code, "no loads in the layout: a planner error, not a usage error: %s", errOut)
	code, _, errOut = slotctl(t, layout3, "plan", "rebalance", "-layout", lf, "-threshold", "0.5")
	assert.Equal(t, 0, code, errOut)
}

// TestPlanNullLayout: a JSON null is an invalid layout, not an empty one.
func TestPlanNullLayout(t *testing.T) {
	for _, sub := range []string{"rebalance", "score"} {
		code, out, errOut := slotctl(t, "null", "plan", sub)
		assert.Equal(t, 1, code, sub)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "invalid layout")
		assert.Contains(t, errOut, "null")
	}
}

// TestKeyslotJSONNotUTF8: keys that are not valid UTF-8 are printed in hex
// with "encoding": "hex", so the bytes come back exactly; UTF-8 keys, the
// empty one included, keep "key".
func TestKeyslotJSONNotUTF8(t *testing.T) {
	keys := []string{"\xff\x01", "{\xfe}x", "caf\xc3", "", "plain", "é{ü}"}
	code, out, errOut := slotctl(t, keys[0]+"\n"+keys[1]+"\n", append([]string{"keyslot", "-json", "-"}, keys[2:]...)...)
	require.Equal(t, 0, code, errOut)
	dec := json.NewDecoder(strings.NewReader(out))
	var got []map[string]any
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		got = append(got, m)
	}
	require.Len(t, got, len(keys))
	for i, k := range keys {
		m := got[i]
		var raw []byte
		switch m["encoding"] {
		case "hex":
			assert.NotContains(t, m, "key", "%q", k)
			b, err := hex.DecodeString(m["key_hex"].(string))
			require.NoError(t, err)
			raw = b
		case "utf-8":
			assert.NotContains(t, m, "key_hex", "%q", k)
			raw = []byte(m["key"].(string))
		default:
			t.Fatalf("key %q: encoding %v", k, m["encoding"])
		}
		assert.Equal(t, k, string(raw), "key %d", i)
		assert.EqualValues(t, slots.Of(k), m["slot"], "%q", k)
	}
	assert.Equal(t, "hex", got[0]["encoding"])
	assert.Equal(t, "hex", got[1]["encoding"])
	assert.Equal(t, "fe", got[1]["tag_hex"])
	assert.Equal(t, true, got[1]["tagged"])
	assert.Equal(t, "hex", got[2]["encoding"])
	assert.Equal(t, "utf-8", got[3]["encoding"])
	assert.Equal(t, "", got[3]["key"])
	assert.Equal(t, "ü", got[5]["tag"])
	code, _, errOut = slotctl(t, "", "keyslot", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, `"key_hex"`)
	assert.Contains(t, errOut, `"encoding": "hex"`)
}
