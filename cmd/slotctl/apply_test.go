package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/migrate"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// jsonLines decodes apply's JSON progress lines.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var ls []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		ls = append(ls, m)
	}
	return ls
}

func firstPrimary(t *testing.T, ctx context.Context, c *clustertest.Cluster) *clustertest.Node {
	t.Helper()
	ps, err := c.Primaries(ctx)
	require.NoError(t, err)
	return ps[0]
}

// TestApplyPipeline: "slotctl plan reshard -addr | slotctl apply -addr -"
// with keys in the moved slots, JSON lines on stdout (not a terminal), then
// "slotctl check -addr" finds no open slot; applying the plan again moves
// nothing.
func TestApplyPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)
	setKeys(t, ctx, c, "key", 500)
	to := firstPrimary(t, ctx, c)
	code, planJSON, errOut := slotctl(t, "", "plan", "reshard", "-addr", to.Addr, "-to", to.ID, "-slots", "300")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := slotctl(t, planJSON, "apply", "-addr", to.Addr, "-slots-per-round", "16", "-")
	require.Equal(t, 0, code, errOut)
	ls := jsonLines(t, out)
	require.Equal(t, "start", ls[0]["event"])
	last := ls[len(ls)-1]
	require.Equal(t, "result", last["event"], out)
	require.Equal(t, true, last["ok"])
	require.EqualValues(t, 300, last["slots"])
	require.Positive(t, last["keys"])
	kinds := map[string]bool{}
	for _, l := range ls {
		kinds[l["event"].(string)] = true
	}
	for _, k := range []string{"start", "pair-start", "slots-done", "pair-done", "done", "result"} {
		assert.True(t, kinds[k], "event %s in %s", k, out)
	}
	assert.Contains(t, errOut, "done: 300 slots moved")

	code, out, errOut = slotctl(t, "", "check", "-addr", to.Addr)
	require.Equal(t, 0, code, errOut)
	_, open := findingOf(decodeReport(t, out), plan.FindingOpenSlot)
	assert.False(t, open, out)

	code, out, errOut = slotctl(t, planJSON, "apply", "-addr", to.Addr, "-")
	require.Equal(t, 0, code, errOut)
	ls = jsonLines(t, out)
	assert.EqualValues(t, 300, ls[len(ls)-1]["already_done"])
	assert.EqualValues(t, 0, ls[len(ls)-1]["slots"])
}

// cancelOn is stdout for apply that cancels (like Ctrl-C, which main turns
// into a cancelled context) once a line with want has been written.
type cancelOn struct {
	bytes.Buffer
	want   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.cancel()
	}
	return w.Buffer.Write(p)
}

// TestApplyStopped: Ctrl-C (the context cancelled) after the first slots
// stops apply between steps with exit 1, a message that says how to resume
// and a JSON result line; the same command then finishes the plan and
// check finds no open slot.
func TestApplyStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)
	setKeys(t, ctx, c, "stop", 2000)
	to := firstPrimary(t, ctx, c)
	code, planJSON, errOut := slotctl(t, "", "plan", "reshard", "-addr", to.Addr, "-to", to.ID, "-slots", "400")
	require.Equal(t, 0, code, errOut)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	out := &cancelOn{want: `"slots-done"`, cancel: stop}
	var errb bytes.Buffer
	code = run(cctx, []string{"apply", "-addr", to.Addr, "-slots-per-round", "8", "-batch", "3", "-"}, strings.NewReader(planJSON), out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "stopped")
	assert.Contains(t, errb.String(), "run the same command again to resume")
	t.Logf("stderr of the stopped run:\n%s", errb.String())
	ls := jsonLines(t, out.String())
	last := ls[len(ls)-1]
	assert.Equal(t, false, last["ok"])
	done := last["slots"].(float64)
	assert.Positive(t, done)
	assert.Less(t, done, 400.0)

	code, stdout, errOut := slotctl(t, planJSON, "apply", "-addr", to.Addr, "-")
	require.Equal(t, 0, code, errOut)
	ls = jsonLines(t, stdout)
	assert.EqualValues(t, 400, ls[len(ls)-1]["slots"].(float64)+ls[len(ls)-1]["already_done"].(float64))
	code, stdout, errOut = slotctl(t, "", "check", "-addr", to.Addr)
	require.Equal(t, 0, code, errOut)
	_, open := findingOf(decodeReport(t, stdout), plan.FindingOpenSlot)
	assert.False(t, open, stdout)
}

// TestConnFlagsPassword: on a cluster with requirepass, check, plan and
// apply work with $REDISCLI_AUTH or -pass, fail clearly without, and no
// output ever holds the password (nor a wrong one).
func TestConnFlagsPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startCluster(ctx, t)
	to := firstPrimary(t, ctx, c)
	setKeys(t, ctx, c, "pw", 300) // before the password is set
	const secret = "s3cret-Pa55-xyz"
	for _, n := range c.Nodes() {
		_, err := c.Do(ctx, n, "CONFIG", "SET", "requirepass", secret)
		require.NoError(t, err)
	}
	noSecret := func(s ...string) {
		t.Helper()
		for _, x := range s {
			assert.NotContains(t, x, secret)
			assert.NotContains(t, x, "wrong-Pa55-abc")
		}
	}

	code, out, errOut := slotctl(t, "", "check", "-addr", to.Addr)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "NOAUTH")
	noSecret(out, errOut)

	code, out, errOut = slotctl(t, "", "check", "-addr", to.Addr, "-pass", "wrong-Pa55-abc")
	assert.Equal(t, 1, code)
	noSecret(out, errOut)

	t.Setenv(authEnv, secret)
	code, out, errOut = slotctl(t, "", "check", "-addr", to.Addr)
	require.Equal(t, 0, code, errOut)
	noSecret(out, errOut)

	code, planJSON, errOut := slotctl(t, "", "plan", "reshard", "-addr", to.Addr, "-to", to.ID, "-slots", "200")
	require.Equal(t, 0, code, errOut)
	noSecret(planJSON, errOut)

	t.Setenv(authEnv, "")
	code, out, errOut = slotctl(t, planJSON, "apply", "-addr", to.Addr, "-pass", secret, "-")
	require.Equal(t, 0, code, errOut)
	noSecret(out, errOut)
	ls := jsonLines(t, out)
	require.Positive(t, ls[len(ls)-1]["keys"], "MIGRATE authenticates to the target")

	code, out, errOut = slotctl(t, planJSON, "apply", "-addr", to.Addr, "-pass", "wrong-Pa55-abc", "-")
	assert.Equal(t, 1, code)
	noSecret(out, errOut)
}

// writeCert writes a self-signed certificate and its key (PEM).
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slotctl test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// TestConnFlagsConfig checks the flag combinations and the TLS
// configuration they build (no TLS server here: see the report).
func TestConnFlagsConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	parse := func(args ...string) (dialConfig, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		cf := addConnFlags(fs)
		require.NoError(t, fs.Parse(args))
		return cf.config(time.Second)
	}
	d, err := parse("-tls", "-cacert", cert, "-cert", cert, "-key", key)
	require.NoError(t, err)
	require.NotNil(t, d.tls)
	assert.NotNil(t, d.tls.RootCAs)
	assert.Len(t, d.tls.Certificates, 1)
	assert.False(t, d.tls.InsecureSkipVerify)
	opt := d.clientOption("127.0.0.1:1")
	assert.Equal(t, d.tls, opt.TLSConfig)

	d, err = parse("-tls", "-insecure")
	require.NoError(t, err)
	assert.True(t, d.tls.InsecureSkipVerify)

	d, err = parse()
	require.NoError(t, err)
	assert.Nil(t, d.tls)

	for _, bad := range [][]string{
		{"-cacert", cert}, {"-insecure"}, {"-cert", cert, "-key", key},
		{"-tls", "-cert", cert}, {"-tls", "-cacert", key}, {"-tls", "-cacert", filepath.Join(dir, "none.pem")},
		{"-user", "u"},
	} {
		t.Setenv(authEnv, "")
		_, err := parse(bad...)
		assert.Error(t, err, "%v", bad)
	}
	t.Setenv(authEnv, "from-env")
	d, err = parse("-user", "u")
	require.NoError(t, err)
	assert.Equal(t, "from-env", d.password)
	assert.Equal(t, "a *** b", d.redact("a from-env b"))
	d, err = parse("-pass", "flag-pass")
	require.NoError(t, err)
	assert.Equal(t, "flag-pass", d.password, "-pass wins over the variable")
}

func TestApplyUsageAndProgressLine(t *testing.T) {
	code, _, errOut := slotctl(t, "", "apply", "plan.json")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "usage: slotctl apply")
	code, _, _ = slotctl(t, "", "apply", "-addr", "127.0.0.1:1", "-mode", "fast", "plan.json")
	assert.Equal(t, 2, code)
	code, _, errOut = slotctl(t, "", "apply", "-addr", "127.0.0.1:1", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "-replace")
	code, _, errOut = slotctl(t, "{", "apply", "-addr", "127.0.0.1:1", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "invalid plan")

	var b bytes.Buffer
	p := &applyProgress{w: &b, redact: func(s string) string { return s }, start: time.Now().Add(-time.Second), pairs: map[string]bool{}}
	p.observe(migrate.Event{Kind: migrate.EventStart, Slots: 100})
	p.observe(migrate.Event{Kind: migrate.EventPairStart, Source: "aaaaaaaaaaaa", Target: "bbbbbbbbbbbb"})
	p.last = time.Time{}
	p.observe(migrate.Event{Kind: migrate.EventKeys, Keys: 40})
	p.last = time.Time{}
	p.observe(migrate.Event{Kind: migrate.EventSlotsDone, Slots: 25, Source: "aaaaaaaaaaaa", Target: "bbbbbbbbbbbb"})
	line := b.String()
	assert.Contains(t, line, "slots 25/100 (25%)")
	assert.Contains(t, line, "keys 40")
	assert.Contains(t, line, "aaaaaaaa->bbbbbbbb")
	assert.Contains(t, line, "ETA")
}

// setKeys writes n keys prefix:i, each through the primary that owns it
// (the others answer MOVED).
func setKeys(t *testing.T, ctx context.Context, c *clustertest.Cluster, prefix string, n int) {
	t.Helper()
	for i := range n {
		ok := false
		for _, m := range c.Nodes() {
			if _, err := c.Do(ctx, m, "SET", fmt.Sprintf("%s:%d", prefix, i), "v"); err == nil {
				ok = true
				break
			}
		}
		require.True(t, ok, "no node took %s:%d", prefix, i)
	}
}
