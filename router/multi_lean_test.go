package router_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestLeanPlan pins which batches DoMulti sends in its lean first round
// (multi_lean.go): plain single-slot commands for their slots' primaries
// with closed breakers; anything else takes the general path, where the
// per-command machinery (MULTI blocks, splits, read policies, breaker
// passes, tracing) lives.
func TestLeanPlan(t *testing.T) {
	g := newFakeGroup(t, 2)
	ka, kb := keyOn(t, g, g.nodes[0]), keyOn(t, g, g.nodes[1])
	plain := []router.Cmd{router.C("GET", ka), router.C("SET", kb, "v"), router.C("get", kb), router.C("MGET", "{x}1", "{x}2")}
	with := func(extra ...router.Cmd) []router.Cmd { return append(append([]router.Cmd(nil), plain...), extra...) }

	c := newFakeClient(t, g, router.Options{})
	assert.True(t, router.LeanPlan(c, plain...), "plain commands")
	assert.True(t, router.LeanPlan(c, router.Idempotent("INCR", ka)), "idempotent write")
	for name, cmds := range map[string][]router.Cmd{
		"a MULTI block":              with(router.C("MULTI"), router.C("SET", ka, "v"), router.C("EXEC")),
		"a blocking command":         with(router.C("BLPOP", ka, "0")),
		"a keyless command":          with(router.C("PING")),
		"an unknown command":         with(router.C("NOSUCHCMD", ka)),
		"a cross-slot MGET to split": with(router.C("MGET", ka, kb)),
		"a fanned-out command":       with(router.C("DBSIZE")),
		"an empty command":           with(router.Cmd{}),
		"a SUBSCRIBE":                with(router.C("SUBSCRIBE", "ch")),
		"a wrong arity":              with(router.C("GET")),
	} {
		assert.False(t, router.LeanPlan(c, cmds...), name)
	}

	// A breaker that is not closed: its passes are pick's (one probe
	// when half-open).
	router.TripBreaker(c, g.nodes[1].addr)
	assert.False(t, router.LeanPlan(c, plain...), "open breaker")
	assert.True(t, router.LeanPlan(c, router.C("GET", ka)), "the other node's breaker is closed")

	// Reads under a policy that may choose a replica go through pick.
	rc := newFakeClient(t, g, router.Options{ReadPolicy: router.PreferReplica})
	assert.False(t, router.LeanPlan(rc, router.C("GET", ka)), "read under PreferReplica")
	assert.True(t, router.LeanPlan(rc, router.C("SET", ka, "v")), "write under PreferReplica")

	// With a Tracer every attempt is reported: the general path.
	tc := newFakeClient(t, g, router.Options{Tracer: &recTracer{}})
	assert.False(t, router.LeanPlan(tc, plain...), "tracer")
}

// TestLeanRoundFailuresHandled sends a lean batch whose commands fail in
// every way the first round can see at once (a redirect, an error reply,
// a node whose connection breaks with a write and a read in flight) and
// checks each gets what the general path gives it: the redirect
// followed, the error reply as it is, the read retried, the write's
// outcome unknown and never sent again, the others' replies untouched.
func TestLeanRoundFailuresHandled(t *testing.T) {
	g := newFakeGroup(t, 3)
	a, b, cn := g.nodes[0], g.nodes[1], g.nodes[2]
	ka, kb, kc := keyOn(t, g, a), keyOn(t, g, b), keyOn(t, g, cn)
	kmoved := ""
	for i := 0; kmoved == ""; i++ {
		if k := fmt.Sprintf("%s:m%d", ka, i); g.owner(int(slots.Of(k))) == a {
			kmoved = k
		}
	}
	a.setHandle(func(_ *fakeConn, args []string) string {
		if len(args) > 1 && args[1] == kmoved {
			return fmt.Sprintf("-MOVED %d %s\r\n", slots.Of(kmoved), b.addr)
		}
		if args[0] == "HGET" {
			return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		}
		return bulk("a:" + args[1])
	})
	b.setHandle(func(_ *fakeConn, args []string) string { return bulk("b:" + args[1]) })
	var gets atomic.Int64
	cn.setHandle(func(_ *fakeConn, args []string) string {
		switch args[0] {
		case "INCR":
			return "" // executed, then the connection breaks
		case "GET":
			if gets.Add(1) == 1 {
				return ""
			}
		}
		return bulk("c:" + args[1])
	})
	var ctr router.Counters
	c := newFakeClient(t, g, router.Options{Observer: &ctr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmds := []router.Cmd{
		router.C("GET", ka), router.C("GET", kmoved), router.C("HGET", ka, "f"),
		router.C("INCR", kc), router.C("GET", kb),
	}
	require.True(t, router.LeanPlan(c, cmds...))
	res := c.DoMulti(ctx, cmds...)
	str := func(i int) string {
		require.NoError(t, res[i].Err, i)
		v, err := res[i].Msg.ToString()
		require.NoError(t, err, i)
		return v
	}
	assert.Equal(t, "a:"+ka, str(0))
	assert.Equal(t, "b:"+kmoved, str(1), "MOVED followed")
	assert.Equal(t, int64(1), ctr.Moved()[a.addr])
	assert.ErrorContains(t, res[2].Err, "WRONGTYPE", "the server's own error, as is")
	assert.ErrorIs(t, res[3].Err, router.ErrUnknownOutcome, "the write's fate is unknown")
	assert.Equal(t, "b:"+kb, str(4))
	assert.Equal(t, int64(1), cn.count("INCR"), "never sent again")

	// A read whose connection breaks is retried.
	res = c.DoMulti(ctx, router.C("GET", kc), router.C("GET", ka))
	require.NoError(t, res[0].Err)
	v, _ := res[0].Msg.ToString()
	assert.Equal(t, "c:"+kc, v)
}
