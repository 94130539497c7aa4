package router_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestUnknownOutcomeThroughProxyLive cuts the connection after an INCR
// reached the real node: the caller gets ErrUnknownOutcome and the
// counter was incremented exactly once; a GET cut the same way is retried
// and succeeds.
func TestUnknownOutcomeThroughProxyLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	k := testKey(t, "counter")
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "41")
	require.NoError(t, err)

	p := newCutProxy(t, owner.Addr)
	var ctr router.Counters
	c := newLiveClient(t, cl, router.Options{
		Observer: &ctr,
		MapAddr: func(announced string) string {
			if announced == owner.Addr {
				return p.addr
			}
			return ""
		},
	})
	_, n, err := c.Route("INCR", k)
	require.NoError(t, err)
	require.Equal(t, p.addr, n.Addr(), "the owner is reached through the proxy")

	p.cutAfterSend(k)
	_, err = c.Do(ctx, "INCR", k)
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	assert.Equal(t, int64(1), p.cuts.Load())
	m, err := cl.Do(ctx, owner, "GET", k)
	require.NoError(t, err)
	v, _ := m.ToString()
	assert.Equal(t, "42", v, "INCR was executed exactly once")

	p.cutAfterSend(k)
	msg, err := c.Do(ctx, "GET", k)
	require.NoError(t, err, "a read is retried")
	v, _ = msg.ToString()
	assert.Equal(t, "42", v)
	assert.Equal(t, int64(2), p.cuts.Load())
	assert.GreaterOrEqual(t, ctr.Retries()[retry.KindConn], int64(1))

	// An idempotent write is retried too.
	p.cutAfterSend(k)
	_, err = c.DoCmd(ctx, router.Idempotent("SET", k, "7"))
	require.NoError(t, err)
	m, err = cl.Do(ctx, owner, "GET", k)
	require.NoError(t, err)
	v, _ = m.ToString()
	assert.Equal(t, "7", v)
}
