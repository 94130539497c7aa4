package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func slotctl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeyslotTable(t *testing.T) {
	code, out, _ := slotctl(t, "", "keyslot", "foo", "user:{42}:name", "foo{}{bar}")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, []string{"SLOT", "HASHED", "KEY"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"12182", "(whole", "key)", "foo"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{itoa(slots.Of("42")), "{42}", "user:{42}:name"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{itoa(slots.Of("foo{}{bar}")), "(whole", "key)", "foo{}{bar}"}, strings.Fields(lines[3]))
}

func TestKeyslotJSONFromStdin(t *testing.T) {
	code, out, _ := slotctl(t, "a\n{t}b\n", "keyslot", "-json", "-")
	require.Equal(t, 0, code)
	dec := json.NewDecoder(strings.NewReader(out))
	var got []keyslotRow
	for dec.More() {
		var r keyslotRow
		require.NoError(t, dec.Decode(&r))
		got = append(got, r)
	}
	assert.Equal(t, []keyslotRow{
		{Key: "a", Slot: slots.Of("a")},
		{Key: "{t}b", Slot: slots.Of("t"), Tag: "t", Tagged: true},
	}, got)
}

func TestUsageErrors(t *testing.T) {
	code, _, errOut := slotctl(t, "")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "Commands:")
	code, _, errOut = slotctl(t, "", "nosuch")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "nosuch"`)
	code, _, _ = slotctl(t, "", "keyslot")
	assert.Equal(t, 2, code)
	code, _, errOut = slotctl(t, "", "keyslot", "-h")
	assert.Equal(t, 0, code, "-h is not a usage error, as for check and plan")
	assert.Contains(t, errOut, "usage: slotctl keyslot")
	code, out, _ := slotctl(t, "", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "keyslot")
}

func itoa(s slots.Slot) string { return strconv.Itoa(int(s)) }

// startCluster starts a real 3-primary cluster of the test's own (the
// test changes it) and stops it when the test ends. Without redis-server
// the test is skipped, or fails when REQUIRE_CLUSTER=1; -short skips it.
func startCluster(ctx context.Context, t *testing.T) *clustertest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real cluster")
	}
	c, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3})
	if errors.Is(err, clustertest.ErrServerNotFound) {
		if os.Getenv(clustertest.RequireEnv) == "1" {
			t.Fatalf("%s=1 and no redis-server: %v", clustertest.RequireEnv, err)
		}
		t.Skipf("no redis-server (set %s=1 to fail instead): %v", clustertest.RequireEnv, err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })
	return c
}
