package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/router/command"
)

// TestRueidisNodesZeroCommandLive: the clients of Nodes() refuse a
// zero-value command (and a nil context) with an error wrapping
// ErrBadCommand, as the face's Do does, instead of panicking inside
// rueidis.
func TestRueidisNodesZeroCommandLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	ctx := liveCtx(t, 20*time.Second)
	nodes := c.Rueidis().Nodes()
	require.NotEmpty(t, nodes)
	var nilCtx context.Context
	for addr, n := range nodes {
		var errs []error
		require.NotPanics(t, func() {
			errs = append(errs, n.Do(ctx, rueidis.Completed{}).Error())
			errs = append(errs, n.DoMulti(ctx, n.B().Ping().Build(), rueidis.Completed{})[1].Error())
			errs = append(errs, n.DoCache(ctx, rueidis.Cacheable{}, time.Second).Error())
			errs = append(errs, n.DoMultiCache(ctx, rueidis.CacheableTTL{})[0].Error())
			s := n.DoStream(ctx, rueidis.Completed{})
			errs = append(errs, s.Error())
			ms := n.DoMultiStream(ctx, rueidis.Completed{})
			errs = append(errs, ms.Error())
			errs = append(errs, n.Receive(ctx, rueidis.Completed{}, func(rueidis.PubSubMessage) {}))
			errs = append(errs, n.Receive(ctx, n.B().Subscribe().Channel("c").Build(), nil))
			errs = append(errs, n.Do(nilCtx, n.B().Ping().Build()).Error())
		}, addr)
		for i, err := range errs {
			assert.ErrorIs(t, err, command.ErrBadCommand, "%s: call %d", addr, i)
		}
		// A good command still works after the refused ones.
		require.NoError(t, n.Do(ctx, n.B().Ping().Build()).Error(), addr)
	}
}
