package command_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

var updateCapture = flag.Bool("update-command", false,
	"capture the COMMAND reply of the test cluster's redis-server into testdata/ (RESP2 and RESP3)")

// capturedVersion is the server whose COMMAND replies are in testdata.
const capturedVersion = "7.0.15"

func capturePath(proto string) string {
	return filepath.Join("testdata", "command-redis-"+capturedVersion+"."+proto)
}

// captureRecorder keeps every byte read from a connection.
type captureRecorder struct {
	r   io.Reader
	buf []byte
}

func (r *captureRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// captureCommand sends COMMAND on a raw connection (after HELLO 3 for
// RESP3) and returns the reply's exact bytes.
func captureCommand(t *testing.T, addr string, resp3 bool) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	rec := &captureRecorder{r: conn}
	br := bufio.NewReader(rec)
	if resp3 {
		_, err = conn.Write([]byte("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"))
		require.NoError(t, err)
		_, err = readRESP(br, 0)
		require.NoError(t, err)
		require.Zero(t, br.Buffered())
		rec.buf = rec.buf[:0]
	}
	_, err = conn.Write([]byte("*1\r\n$7\r\nCOMMAND\r\n"))
	require.NoError(t, err)
	_, err = readRESP(br, 0)
	require.NoError(t, err)
	require.Zero(t, br.Buffered(), "the server sent more than one reply")
	return slices.Clone(rec.buf)
}

func redisVersion(t *testing.T, c *clustertest.Cluster) string {
	t.Helper()
	m, err := c.Do(liveCtx(t, 60*time.Second), c.Nodes()[0], "INFO", "server")
	require.NoError(t, err)
	s, err := m.ToString()
	require.NoError(t, err)
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	t.Fatal("no redis_version in INFO server")
	return ""
}

// TestCaptureCommandReply checks the captured COMMAND replies against the
// live server of the same version (and rewrites them with
// -update-command).
func TestCaptureCommandReply(t *testing.T) {
	c := clustertest.Need(t, cluster)
	if v := redisVersion(t, c); v != capturedVersion {
		t.Skipf("server is %s, the captures are of %s", v, capturedVersion)
	}
	for _, proto := range []string{"resp2", "resp3"} {
		t.Run(proto, func(t *testing.T) {
			raw := captureCommand(t, c.Nodes()[0].Addr, proto == "resp3")
			if *updateCapture {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(capturePath(proto), raw, 0o644))
			}
			want, err := learnCaptured(proto)
			require.NoError(t, err)
			m, err := parseRESP(raw)
			require.NoError(t, err)
			got, err := new(command.Table).Learn(m)
			require.NoError(t, err)
			// The order of COMMAND's entries varies between runs; the
			// learned tables must not.
			assert.Equal(t, want, got)
		})
	}
}

// readCapture returns a captured COMMAND reply.
func readCapture(proto string) ([]byte, error) { return os.ReadFile(capturePath(proto)) }

// learnCaptured learns a table, from nothing, from a captured reply.
func learnCaptured(proto string) (*command.Table, error) {
	return learnCaptureInto(new(command.Table), proto)
}

// learnCaptureInto learns a captured reply on top of t.
func learnCaptureInto(t *command.Table, proto string) (*command.Table, error) {
	raw, err := readCapture(proto)
	if err != nil {
		return nil, err
	}
	m, err := parseRESP(raw)
	if err != nil {
		return nil, err
	}
	return t.Learn(m)
}

// liveLearned learns a table, from nothing, from the live server's
// COMMAND reply as rueidis decodes it (RESP3).
func liveLearned(t *testing.T, c *clustertest.Cluster) *command.Table {
	t.Helper()
	m, err := c.Do(liveCtx(t, 60*time.Second), c.Nodes()[0], "COMMAND")
	require.NoError(t, err)
	learned, err := new(command.Table).Learn(m)
	require.NoError(t, err)
	require.Greater(t, learned.Len(), 200)
	return learned
}

// TestLiveReplyMatchesCapture: rueidis's own decoding of the live reply
// and the test decoder on the captured bytes teach the same table.
func TestLiveReplyMatchesCapture(t *testing.T) {
	c := clustertest.Need(t, cluster)
	if v := redisVersion(t, c); v != capturedVersion {
		t.Skipf("server is %s, the captures are of %s", v, capturedVersion)
	}
	want, err := learnCaptured("resp3")
	require.NoError(t, err)
	assert.Equal(t, want, liveLearned(t, c))
}

// serverGetKeys asks the server which arguments of args are keys.
func serverGetKeys(ctx context.Context, c *clustertest.Cluster, args []string) ([]string, error) {
	m, err := c.Do(ctx, c.Nodes()[0], append([]string{"COMMAND", "GETKEYS"}, args...)...)
	if err != nil {
		return nil, err
	}
	return m.AsStrSlice()
}

// serverKeySlot asks the server for the slot of key.
func serverKeySlot(ctx context.Context, t *testing.T, c *clustertest.Cluster, key string) slots.Slot {
	t.Helper()
	m, err := c.Do(ctx, c.Nodes()[0], "CLUSTER", "KEYSLOT", key)
	require.NoError(t, err)
	n, err := m.AsInt64()
	require.NoError(t, err)
	return slots.Slot(n)
}

// specsNotKey reports whether the command's keys are channels (sharded
// pub/sub), which COMMAND GETKEYS does not list.
func specsNotKey(cmd *command.Command) bool {
	for _, s := range cmd.Specs {
		if s.NotKey {
			return true
		}
	}
	return false
}

// hasKeyFinder reports whether the static command uses a hand-written
// finder (it has keys but no specs).
func hasKeyFinder(cmd *command.Command) bool {
	return len(cmd.Specs) == 0 && cmd.Flags&command.FlagKeyless == 0
}

// TestKeysMatchServerGetKeys is the oracle test: for every sample, the
// static table's keys, and those of a table learned only from the live
// server's COMMAND reply, are the server's own COMMAND GETKEYS answer;
// the slot is the one CLUSTER KEYSLOT gives, or the error is a
// CrossSlotError naming the same keys.
func TestKeysMatchServerGetKeys(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	static := command.DefaultTable()
	learned := liveLearned(t, c)
	for _, sample := range keySamples {
		args := sampleArgs(sample)
		cmd, err := static.Command(args)
		require.NoError(t, err, sample)
		got, err := static.Keys(args)
		require.NoError(t, err, sample)
		if specsNotKey(cmd) {
			// GETKEYS has no answer for channels; TestShardedPubSubSlot
			// asks the cluster instead.
			assert.Equal(t, args[1:2], got[:1], sample)
			continue
		}
		want, err := serverGetKeys(ctx, c, args)
		if err != nil {
			// The server finds no keys (EVAL ... 0).
			assert.Empty(t, got, "%s: server: %v", sample, err)
		} else {
			assert.Equal(t, want, orEmptyKeys(got), sample)
		}

		lcmd, err := learned.Command(args)
		require.NoError(t, err, sample)
		lgot, lerr := learned.Keys(args)
		switch {
		case hasKeyFinder(cmd):
			// The specs are incomplete (SORT STORE, MIGRATE KEYS) or looser
			// (GEORADIUS with STORE and STOREDIST): the static finder is the
			// authority; the learned specs must not fail on good input.
			assert.NoError(t, lerr, sample)
		case lcmd.Flags&command.FlagKeysIncomplete != 0:
			require.NoError(t, lerr, sample)
			for _, k := range lgot {
				assert.Contains(t, want, k, sample)
			}
		default:
			require.NoError(t, lerr, sample)
			assert.Equal(t, got, lgot, "learned: %s", sample)
		}

		// The slot.
		slot, hasKeys, err := static.Slot(args)
		if len(got) == 0 {
			assert.NoError(t, err, sample)
			assert.False(t, hasKeys, sample)
			continue
		}
		wantSlots := map[slots.Slot]bool{}
		for _, k := range got {
			wantSlots[serverKeySlot(ctx, t, c, k)] = true
		}
		if len(wantSlots) == 1 {
			require.NoError(t, err, sample)
			assert.True(t, hasKeys)
			assert.Equal(t, serverKeySlot(ctx, t, c, got[0]), slot, sample)
		} else {
			var cs *command.CrossSlotError
			require.ErrorAs(t, err, &cs, sample)
			var keys []string
			for _, k := range cs.Keys {
				keys = append(keys, k.Key)
				assert.Equal(t, serverKeySlot(ctx, t, c, k.Key), k.Slot, sample)
			}
			assert.Equal(t, got, keys, sample)
		}
	}
}

// TestBadCommandsRefusedByServer: the malformed samples are refused with
// ErrBadCommand, and no node of the cluster runs them either: each
// answers an error, and at least one an error that is not a redirect.
func TestBadCommandsRefusedByServer(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	for _, sample := range badSamples {
		args := sampleArgs(sample)
		_, err := command.DefaultTable().Keys(args)
		assert.ErrorIs(t, err, command.ErrBadCommand, sample)
		_, _, err = command.DefaultTable().Slot(args)
		assert.ErrorIs(t, err, command.ErrBadCommand, sample)
		refused := 0
		for _, n := range c.Nodes() {
			m, err := c.Do(ctx, n, args...)
			if !assert.Error(t, err, "%s: %s ran it: %v", sample, n.Addr, m) {
				continue
			}
			var re *rueidis.RedisError
			require.ErrorAs(t, err, &re, sample)
			if _, moved := re.IsMoved(); !moved {
				refused++
			}
		}
		assert.NotZero(t, refused, sample)
	}
}

// TestShardedPubSubSlot: SPUBLISH is refused with MOVED by every node but
// the owner of the channel's slot, which is the slot Slot computes.
func TestShardedPubSubSlot(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	for _, ch := range []string{"news", "{user:1}:events", "a", "ch:42"} {
		args := []string{"SPUBLISH", ch, "hello"}
		slot, hasKeys, err := command.DefaultTable().Slot(args)
		require.NoError(t, err)
		require.True(t, hasKeys)
		owners := 0
		for _, n := range c.Nodes() {
			_, err := c.Do(ctx, n, args...)
			if err == nil {
				owners++
				continue
			}
			var re *rueidis.RedisError
			require.ErrorAs(t, err, &re)
			addr, ok := re.IsMoved()
			require.True(t, ok, "%v", err)
			owner, err := c.OwnerOf(ctx, uint16(slot))
			require.NoError(t, err)
			assert.Equal(t, owner.Addr, addr, "SPUBLISH %s", ch)
			assert.Contains(t, re.Error(), fmt.Sprintf("MOVED %d ", slot))
		}
		assert.Equal(t, 1, owners, "SPUBLISH %s", ch)
	}
}

// TestStaticTableMatchesServer compares every entry of the static table
// with what Redis 7.0.15 reports (the captured COMMAND reply): the same
// commands and subcommands, arities, flags, command tips, and key specs
// (except where a hand-written finder replaces them).
func TestStaticTableMatchesServer(t *testing.T) {
	learned, err := learnCaptured("resp3")
	require.NoError(t, err)
	static := command.DefaultTable()
	assert.ElementsMatch(t, learned.Names(), static.Names())
	for _, name := range learned.Names() {
		lc, _ := learned.Lookup(name)
		sc, ok := static.Lookup(name)
		if !assert.True(t, ok, "static table lacks %s", name) {
			continue
		}
		compareWithServer(t, lc, sc)
		assert.ElementsMatch(t, lc.Subcommands(), sc.Subcommands(), name)
		for _, sub := range lc.Subcommands() {
			short := sub[strings.IndexByte(sub, '|')+1:]
			ls, _ := lc.Subcommand(short)
			ss, ok := sc.Subcommand(strings.ToUpper(short))
			if assert.True(t, ok, "static table lacks %s", sub) {
				compareWithServer(t, ls, ss)
			}
		}
	}
}

func compareWithServer(t *testing.T, learned, static *command.Command) {
	t.Helper()
	name := learned.Name
	assert.Equal(t, learned.Name, static.Name)
	assert.Equal(t, learned.Arity, static.Arity, "%s arity", name)
	assert.Equal(t, learned.Flags&^command.FlagKeysIncomplete, static.Flags, "%s flags", name)
	assert.Equal(t, learned.Tips, static.Tips, "%s tips", name)
	if hasKeyFinder(static) {
		assert.NotZero(t, learned.Flags&command.FlagMovableKeys, "%s: finder for a command whose keys do not move", name)
		return
	}
	var usable []command.KeySpec
	for _, s := range learned.Specs {
		if s.Begin != command.BeginUnknown && s.Find != command.FindUnknown {
			s.Incomplete = false
			usable = append(usable, s)
		}
	}
	assert.Equal(t, usable, static.Specs, "%s key specs", name)
}

// TestSamplesCoverServer: every command the server lists with keys has a
// sample in keySamples, so the GETKEYS comparison covers the whole table.
func TestSamplesCoverServer(t *testing.T) {
	learned, err := learnCaptured("resp3")
	require.NoError(t, err)
	sampled := map[string]bool{}
	for _, s := range keySamples {
		cmd, err := command.DefaultTable().Command(sampleArgs(s))
		require.NoError(t, err, s)
		sampled[cmd.Name] = true
	}
	var missing []string
	check := func(c *command.Command) {
		if c.Flags&command.FlagKeyless == 0 && !sampled[c.Name] {
			missing = append(missing, c.Name)
		}
	}
	for _, name := range learned.Names() {
		c, _ := learned.Lookup(name)
		check(c)
		for _, sub := range c.Subcommands() {
			s, _ := c.Subcommand(sub[strings.IndexByte(sub, '|')+1:])
			check(s)
		}
	}
	assert.Empty(t, missing, "keyed commands without a sample")
}

func orEmptyKeys(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TestKeylessMatchServer: for every command and subcommand the table
// calls keyless, the server's COMMAND GETKEYS finds no key either.
func TestKeylessMatchServer(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	tab := command.DefaultTable()
	checked := 0
	check := func(cmd *command.Command, args []string) {
		if cmd.Flags&command.FlagKeyless == 0 {
			return
		}
		want := cmd.Arity
		if want < 0 {
			want = -want
		}
		for len(args) < want {
			args = append(args, "x")
		}
		_, _, err := tab.Slot(args)
		require.NoError(t, err, args)
		keys, err := serverGetKeys(ctx, c, args)
		assert.Error(t, err, "%q: the server found keys %q", args, keys)
		checked++
	}
	for _, name := range tab.Names() {
		cmd, _ := tab.Lookup(name)
		subs := cmd.Subcommands()
		if len(subs) == 0 {
			check(cmd, []string{name})
		}
		for _, s := range subs {
			short := s[strings.IndexByte(s, '|')+1:]
			sub, _ := cmd.Subcommand(short)
			check(sub, []string{name, short})
		}
	}
	assert.Greater(t, checked, 150)
}
