package router_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/syncbuf"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

type traceKey struct{}

// recTracer records what a Tracer is told.
type recTracer struct {
	mu       sync.Mutex
	starts   []router.CommandStart
	attempts []router.Attempt
	ends     []router.CommandEnd
	ctxOK    bool
	panicOn  string
}

func (r *recTracer) StartCommand(ctx context.Context, c router.CommandStart) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, c)
	if c.Name == r.panicOn {
		panic("tracer bug")
	}
	return context.WithValue(ctx, traceKey{}, c.Name)
}

func (r *recTracer) EndAttempt(ctx context.Context, a router.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctxOK = ctx.Value(traceKey{}) == a.Name
	r.attempts = append(r.attempts, a)
}

func (r *recTracer) EndCommand(ctx context.Context, e router.CommandEnd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, e)
}

func TestTracerSeesAttempts(t *testing.T) {
	g := newFakeGroup(t, 2)
	a, b := g.nodes[0], g.nodes[1]
	ka := keyOn(t, g, a)
	a.setHandle(func(_ *fakeConn, args []string) string {
		return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(args[1]), b.addr)
	})
	b.setHandle(func(_ *fakeConn, args []string) string { return bulk("v") })
	tr := &recTracer{panicOn: "PING"}
	var obs panicObserver
	c := newFakeClient(t, g, router.Options{Tracer: tr, Observer: &obs})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", ka)
	require.NoError(t, err)
	tr.mu.Lock()
	require.Len(t, tr.starts, 1)
	assert.Equal(t, "GET", tr.starts[0].Name)
	assert.Equal(t, slots.Of(ka), tr.starts[0].Slot)
	require.Len(t, tr.attempts, 2)
	assert.Equal(t, router.OutcomeRedirect, tr.attempts[0].Outcome)
	assert.Equal(t, retry.KindMoved, tr.attempts[0].Kind)
	assert.Equal(t, a.addr, tr.attempts[0].Addr)
	assert.Equal(t, router.OutcomeOK, tr.attempts[1].Outcome)
	assert.Equal(t, b.addr, tr.attempts[1].Addr)
	assert.Equal(t, 2, tr.attempts[1].Number)
	assert.True(t, tr.ctxOK, "the context StartCommand returned is passed on")
	require.Len(t, tr.ends, 1)
	assert.NoError(t, tr.ends[0].Err)
	assert.Equal(t, 2, tr.ends[0].Attempts)
	assert.Equal(t, b.addr, tr.ends[0].Addr)
	tr.mu.Unlock()

	res := c.DoMulti(ctx, router.C("GET", ka), router.C("GET", keyOn(t, g, b)))
	require.NoError(t, res[0].Err)
	tr.mu.Lock()
	assert.Equal(t, "PIPELINE", tr.starts[1].Name)
	assert.Equal(t, 2, tr.starts[1].Batch)
	assert.Len(t, tr.ends, 2)
	tr.mu.Unlock()

	// A panicking tracer does not fail the command; it is reported.
	_, err = c.Do(ctx, "PING")
	require.NoError(t, err)
	assert.Positive(t, obs.panics.Load())
}

// TestTracerNamesAreBounded: a Tracer sees the name as given for a
// command the table knows, and OtherCommand for names it does not know,
// so that metrics keyed by name stay bounded.
func TestTracerNamesAreBounded(t *testing.T) {
	g := newFakeGroup(t, 1)
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return bulk("v") })
	tr := &recTracer{}
	c := newFakeClient(t, g, router.Options{Tracer: tr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"get", "Get", "GET"} {
		_, err := c.Do(ctx, name, "k")
		require.NoError(t, err)
	}
	for i := range 3 {
		_, err := c.Do(ctx, fmt.Sprintf("MYCMD%d", i), "x")
		require.NoError(t, err)
	}
	res := c.DoMulti(ctx, router.C("set", "k", "v"), router.C("NOSUCH", "x"))
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var starts, attempts, ends []string
	for _, s := range tr.starts {
		starts = append(starts, s.Name)
	}
	for _, a := range tr.attempts {
		attempts = append(attempts, a.Name)
	}
	for _, e := range tr.ends {
		ends = append(ends, e.Name)
	}
	want := []string{"get", "Get", "GET", router.OtherCommand, router.OtherCommand, router.OtherCommand}
	assert.Equal(t, append(want, "PIPELINE"), starts)
	assert.Equal(t, append(want, "PIPELINE"), ends)
	assert.Equal(t, append(want, "set", router.OtherCommand), attempts)
}

func TestTracerUnknownOutcome(t *testing.T) {
	g := newFakeGroup(t, 1)
	g.nodes[0].setHandle(func(*fakeConn, []string) string { return "" }) // executed, no reply
	tr := &recTracer{}
	c := newFakeClient(t, g, router.Options{Tracer: tr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "INCR", "k")
	require.ErrorIs(t, err, router.ErrUnknownOutcome)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.NotEmpty(t, tr.attempts)
	assert.Equal(t, router.OutcomeUnknown, tr.attempts[len(tr.attempts)-1].Outcome)
	assert.ErrorIs(t, tr.ends[0].Err, router.ErrUnknownOutcome)
}

func TestLoggerWarnsOfBreakersAndWaits(t *testing.T) {
	g := newFakeGroup(t, 2)
	a := g.nodes[0]
	ka := keyOn(t, g, a)
	var buf syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	c := newFakeClient(t, g, router.Options{
		Logger:       log,
		FailoverWait: 300 * time.Millisecond,
		Breaker:      retry.BreakerOptions{Failures: 1, Cooldown: time.Minute},
	})
	_, err := c.Do(context.Background(), "GET", keyOn(t, g, g.nodes[1]))
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count([]byte(buf.String()), []byte("\n")), "one line (the topology), nothing per command: %s", buf.String())
	assert.Contains(t, buf.String(), "level=INFO msg=\"slotrouter: topology loaded\" shards=2")
	a.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Do(ctx, "SET", ka, "v")
	require.ErrorIs(t, err, router.ErrNoPrimary)
	require.Eventually(t, func() bool {
		s := buf.String()
		return bytes.Contains([]byte(s), []byte("level=WARN msg=\"slotrouter: circuit breaker open\"")) &&
			bytes.Contains([]byte(s), []byte("level=WARN msg=\"slotrouter: waiting for a reachable primary\"")) &&
			bytes.Contains([]byte(s), []byte("failover wait ended without a primary"))
	}, 10*time.Second, 10*time.Millisecond, "log: %s", buf.String())
}
