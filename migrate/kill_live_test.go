package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// slotTags returns, for every slot, a hash tag that hashes to it.
func slotTags() []string {
	tags := make([]string, slots.Count)
	left := slots.Count
	for i := 0; left > 0 && i < 1<<24; i++ {
		tag := "t" + strconv.Itoa(i)
		s := slots.Of(tag)
		if tags[s] == "" {
			tags[s] = tag
			left--
		}
	}
	return tags
}

// keyIn names key i of slot s.
func keyIn(tags []string, s slots.Slot, i int) string {
	return fmt.Sprintf("{%s}:%d", tags[s], i)
}

// fillSlots writes perSlot keys in every slot of rs; the value is
// "<slot>:<i>:<gen>".
func fillSlots(t testing.TB, ctx context.Context, rc *router.Client, tags []string, rs []slots.Range, perSlot int, gen int) {
	t.Helper()
	var cmds []router.Cmd
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			for i := range perSlot {
				cmds = append(cmds, router.Idempotent("SET", keyIn(tags, s, i), fmt.Sprintf("%d:%d:%d", s, i, gen)))
			}
		}
	}
	for _, r := range rc.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Err)
	}
}

// requireSlots checks every key of rs (value and generation) through the
// router, and (c not nil) that each slot's keys live on one primary only.
func requireSlots(t testing.TB, ctx context.Context, c *clustertest.Cluster, rc *router.Client, tags []string, rs []slots.Range, perSlot int, gen int) {
	t.Helper()
	var cmds []router.Cmd
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			for i := range perSlot {
				cmds = append(cmds, router.C("GET", keyIn(tags, s, i)))
			}
		}
	}
	k := 0
	res := rc.DoMulti(ctx, cmds...)
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			for i := range perSlot {
				require.NoError(t, res[k].Err)
				v, err := res[k].Msg.ToString()
				require.NoError(t, err, "key %s", keyIn(tags, s, i))
				require.Equal(t, fmt.Sprintf("%d:%d:%d", s, i, gen), v)
				k++
			}
		}
	}
	if c == nil {
		return
	}
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			holders := 0
			for _, p := range ps {
				m, err := c.Do(ctx, p, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(int(s)))
				require.NoError(t, err)
				n, err := m.AsInt64()
				require.NoError(t, err)
				if n > 0 {
					holders++
					require.GreaterOrEqual(t, n, int64(perSlot), "slot %d on %s", s, p)
				}
			}
			require.Equal(t, 1, holders, "slot %d: keys on %d primaries", s, holders)
		}
	}
}

// TestHelperProcess is the executor process the kill test kills: it runs
// Apply with a hook that sends SIGKILL to itself before the chosen step.
// It does nothing unless started by TestKillAndResume.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process of TestKillAndResume")
	}
	// spec: step=NAME;n=N;seed=ADDR;plan=FILE
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ";") {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = v
	}
	n, _ := strconv.Atoi(kv["n"])
	data, err := os.ReadFile(kv["plan"])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	p, err := plan.ParsePlan(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	seen := 0
	opts := Options{Seeds: []string{kv["seed"]}, SlotsPerRound: 2, KeysPerBatch: 5, Parallel: 2}
	opts.beforeStep = func(e Event) {
		if e.Step.String() == kv["step"] {
			seen++
			if seen == n && kv["pause"] != "" {
				// Pause the target's writes so that the MIGRATE about to
				// be sent hangs, say so, and go on: the parent kills this
				// process while the MIGRATE is in flight.
				c, err := rueidisClient(kv["pause"])
				if err == nil {
					err = c.Do(context.Background(), c.B().Arbitrary("CLIENT", "PAUSE", "4000", "WRITE").Build()).Error()
					c.Close()
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(6)
				}
				fmt.Println(inFlightMarker)
				return
			}
			if seen == n {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // SIGKILL cannot be caught; never reached
			}
		}
	}
	_, err = Apply(context.Background(), p, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
	os.Exit(3) // finished without reaching the kill point
}

// TestKillAndResume kills the executor process (SIGKILL) at chosen steps
// of a plan moving slots that hold keys (before the step is sent, and once
// while a MIGRATE is in flight), then applies the same plan again: it
// finishes, every key is there with its value, on one node only, and no
// slot is left open.
func TestKillAndResume(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rc := newRouter(t, ctx, c)
	tags := slotTags()
	const perSlot = 12 // KeysPerBatch 5 in the helper: 3 MIGRATE batches per slot
	points := []struct {
		step Step
		n    int
		// what the cluster must show after the kill
		open bool
		// inFlight: killed during the step, not before it
		inFlight bool
	}{
		{StepMigrating, 1, true, false},  // between IMPORTING and MIGRATING
		{StepCount, 2, true, false},      // after MIGRATING, before the keys
		{StepMigrate, 2, true, false},    // between two MIGRATE batches of a slot
		{StepMigrate, 5, true, false},    // the second slot, mid-way
		{StepNodeTarget, 1, true, false}, // keys moved, no SETSLOT NODE yet
		{StepNodeOthers, 2, true, false}, // the target owns, the source still migrating
		{StepNodeSource, 1, true, false}, // the others told, the source still migrating
		{StepImporting, 3, false, false}, // between rounds
		// Killed while a MIGRATE is in flight: the target's writes are
		// paused, the source is blocked in MIGRATE, the executor waits
		// for the reply.
		{StepMigrate, 4, true, true},
	}
	dir := t.TempDir()
	for i, pt := range points {
		name := fmt.Sprintf("%s#%d", pt.step, pt.n)
		if pt.inFlight {
			name += "-in-flight"
		}
		t.Run(name, func(t *testing.T) {
			l := layoutOf(t, ctx, c)
			target := l.Nodes[i%len(l.Nodes)].ID
			p, err := plan.Reshard(l, plan.ReshardRequest{Target: target, Slots: 8})
			require.NoError(t, err)
			var moved []slots.Range
			for _, m := range p.Moves {
				moved = append(moved, m.Ranges...)
			}
			fillSlots(t, ctx, rc, tags, moved, perSlot, i)
			data, err := p.Marshal()
			require.NoError(t, err)
			file := filepath.Join(dir, fmt.Sprintf("plan%d.json", i))
			require.NoError(t, os.WriteFile(file, data, 0o600))

			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			spec := fmt.Sprintf("%s=step=%s;n=%d;seed=%s;plan=%s", helperEnv, pt.step, pt.n, c.Addrs()[0], file)
			first := p.Moves[p.Batches[0][0]] // the move that runs first
			if pt.inFlight {
				spec += ";pause=" + c.NodeByID(first.Target).Addr
			}
			cmd.Env = append(os.Environ(), spec)
			var out []byte
			if pt.inFlight {
				out, err = killInFlight(t, ctx, c, cmd, c.NodeByID(first.Source), c.NodeByID(first.Target))
			} else {
				out, err = cmd.CombinedOutput()
			}
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "helper: %v\n%s", err, out)
			ws, ok := ee.Sys().(syscall.WaitStatus)
			require.True(t, ok)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "helper was not killed at %s#%d: %v\n%s", pt.step, pt.n, err, out)

			if pt.open {
				rep := checkReport(t, ctx, c)
				open := false
				for _, f := range rep.Findings {
					open = open || f.Code == plan.FindingOpenSlot
				}
				require.True(t, open, "a slot should be open after a kill at %s#%d", pt.step, pt.n)
			}

			res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1]})
			require.NoError(t, err)
			require.Equal(t, p.Summary.SlotsMoved, res.Slots+res.AlreadyDone)
			require.Positive(t, res.Slots)
			requireOwners(t, ctx, c, p.Final())
			requireNoOpenSlot(t, ctx, c)
			requireSlots(t, ctx, c, rc, tags, moved, perSlot, i)
		})
	}
}

// inFlightMarker is what the helper prints once the MIGRATE it is about to
// send will hang.
const inFlightMarker = "MIGRATE-IN-FLIGHT"

// killInFlight starts the helper, waits for its marker, then until the
// source stops answering (it is blocked in MIGRATE, waiting for the paused
// target), kills the helper with SIGKILL and resumes the target. It
// returns the helper's output and exit error.
func killInFlight(t *testing.T, ctx context.Context, c *clustertest.Cluster, cmd *exec.Cmd, src, dst *clustertest.Node) ([]byte, error) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	var out strings.Builder
	marked := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if sc.Text() == inFlightMarker {
			marked = true
			break
		}
	}
	require.True(t, marked, "helper ended without reaching the MIGRATE: %s%s", out.String(), stderr.String())
	// The source answers nothing while its MIGRATE waits for the target.
	blocked := false
	deadline := time.Now().Add(4 * time.Second)
	for !blocked && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, perr := c.Do(pctx, src, "PING")
		cancel()
		blocked = perr != nil
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	require.True(t, blocked, "the source never looked busy with the MIGRATE")
	// The MIGRATE goes on without its client once the target resumes.
	_, uerr := c.Do(ctx, dst, "CLIENT", "UNPAUSE")
	require.NoError(t, uerr)
	return []byte(out.String() + stderr.String()), err
}
