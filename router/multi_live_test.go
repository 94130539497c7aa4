package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

func TestDoMultiOrderLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	const n = 300
	var sets, gets []router.Cmd
	for i := range n {
		k := testKey(t, fmt.Sprint(i))
		sets = append(sets, router.C("SET", k, fmt.Sprint(i)))
		gets = append(gets, router.C("GET", k))
	}
	for i, r := range c.DoMulti(ctx, sets...) {
		require.NoError(t, r.Err, i)
	}
	// Mixed: gets, a missing key, a cross-slot command (MSETNX: never
	// split), a bad command.
	cmds := append([]router.Cmd{}, gets...)
	cmds = append(cmds, router.C("GET", testKey(t, "missing")), router.C("MSETNX", "user:1", "a", "user:2", "b"), router.C("GET"))
	res := c.DoMulti(ctx, cmds...)
	require.Len(t, res, len(cmds))
	for i := range n {
		require.NoError(t, res[i].Err, i)
		v, _ := res[i].Msg.ToString()
		assert.Equal(t, fmt.Sprint(i), v)
	}
	assert.True(t, isNil(res[n].Err))
	assert.ErrorIs(t, res[n+1].Err, router.ErrCrossSlot)
	assert.ErrorIs(t, res[n+2].Err, router.ErrBadCommand)
	assert.Empty(t, c.DoMulti(ctx))
}

func TestDoMultiTransactionLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	tag := "{" + t.Name() + "}"
	a, b := tag+":a", tag+":b"
	res := c.DoMulti(ctx,
		router.C("SET", testKey(t, "before"), "x"),
		router.C("MULTI"),
		router.C("SET", a, "1"),
		router.C("INCR", a),
		router.C("SET", b, "2"),
		router.C("PING"),
		router.C("EXEC"),
		router.C("GET", a),
	)
	require.Len(t, res, 8)
	for i, r := range res {
		require.NoError(t, r.Err, i)
	}
	queued, _ := res[2].Msg.ToString()
	assert.Equal(t, "QUEUED", queued)
	exec, err := res[6].Msg.ToArray()
	require.NoError(t, err)
	require.Len(t, exec, 4)
	n, _ := exec[1].AsInt64()
	assert.Equal(t, int64(2), n)
	v, _ := res[7].Msg.ToString()
	assert.Equal(t, "2", v)

	// A block must be single-slot: nothing of it is sent.
	x, y := "user:1", "user:2"
	require.NotEqual(t, slots.Of(x), slots.Of(y))
	res = c.DoMulti(ctx, router.C("MULTI"), router.C("SET", x, "1"), router.C("SET", y, "2"), router.C("EXEC"), router.C("GET", a))
	for i := range 4 {
		assert.ErrorIs(t, res[i].Err, router.ErrCrossSlot, i)
	}
	var cs *router.CrossSlotError
	if assert.ErrorAs(t, res[0].Err, &cs) {
		var named []string
		for _, ks := range cs.Keys {
			named = append(named, ks.Key)
		}
		assert.Equal(t, []string{x, y}, named, "the error names the block's keys")
	}
	require.NoError(t, res[4].Err)
	for _, k := range []string{x, y} {
		_, err := c.Do(ctx, "GET", k)
		assert.True(t, isNil(err), "%s was not written: %v", k, err)
	}
	// Malformed blocks.
	res = c.DoMulti(ctx, router.C("MULTI"), router.C("SET", a, "1"))
	assert.ErrorIs(t, res[0].Err, router.ErrMultiBlock)
	assert.ErrorIs(t, res[1].Err, router.ErrMultiBlock)
	res = c.DoMulti(ctx, router.C("EXEC"))
	assert.ErrorIs(t, res[0].Err, router.ErrMultiBlock)
}

// TestDoMultiRegroupsRedirectedLive moves a slot behind the client's back:
// the commands of that slot are redirected and regrouped, the others are
// not disturbed, and results keep the caller's order.
func TestDoMultiRegroupsRedirectedLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 60*time.Second)
	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{Observer: &ctr})
	tag := "{" + t.Name() + "}"
	slot := uint16(slots.Of(tag))
	var cmds []router.Cmd
	for i := range 50 {
		cmds = append(cmds, router.C("SET", fmt.Sprintf("%s:%d", tag, i), fmt.Sprint(i)))
		cmds = append(cmds, router.C("SET", testKey(t, fmt.Sprint(i)), fmt.Sprint(i)))
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Err)
	}
	owner, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to := otherPrimary(ctx, t, cl, owner)
	require.NoError(t, cl.MoveSlot(ctx, slot, to))
	var gets []router.Cmd
	for i := range 50 {
		gets = append(gets, router.C("GET", fmt.Sprintf("%s:%d", tag, i)), router.C("GET", testKey(t, fmt.Sprint(i))))
	}
	res := c.DoMulti(ctx, gets...)
	for i, r := range res {
		require.NoError(t, r.Err, i)
		v, _ := r.Msg.ToString()
		assert.Equal(t, fmt.Sprint(i/2), v, i)
	}
	assert.Equal(t, int64(50), ctr.Moved()[owner.Addr], "each redirected command followed its MOVED")
}

// TestNewCloseNoLeak checks that New then Close leaves no goroutine.
func TestNewCloseNoLeak(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := liveCtx(t, 30*time.Second)
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()[:1]})
	require.NoError(t, err)
	for i := range 20 {
		_, err := c.Do(ctx, "SET", testKey(t, fmt.Sprint(i)), "v")
		require.NoError(t, err)
	}
	res := c.DoMulti(ctx, router.C("GET", "a"), router.C("GET", "b"), router.C("GET", "c"))
	require.Len(t, res, 3)
	c.Close()
	c.Close()
	_, err = c.Do(ctx, "GET", "a")
	assert.ErrorIs(t, err, router.ErrClosed)
	assert.ErrorIs(t, c.DoMulti(ctx, router.C("GET", "a"))[0].Err, router.ErrClosed)
}
