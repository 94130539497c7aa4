package router_test

import (
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
)

// TestRueidisFaceDoLive: typed commands built with B() go to the slot's
// node, in Do and DoMulti; a cross-slot command is a typed error.
func TestRueidisFaceDoLive(t *testing.T) {
	c := newLiveClient(t, nil, router.Options{})
	rc := c.Rueidis()
	ctx := liveCtx(t, 20*time.Second)
	assert.Equal(t, rueidis.ClientModeCluster, rc.Mode())
	for i := range 50 {
		k := testKey(t, "k", string(rune('a'+i%26)), string(rune('0'+i%10)))
		require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v").Build()).Error())
		v, err := rc.Do(ctx, rc.B().Get().Key(k).Build()).ToString()
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	}
	a, b := testKey(t, "a"), testKey(t, "b")
	rs := rc.DoMulti(ctx, rc.B().Set().Key(a).Value("1").Build(), rc.B().Set().Key(b).Value("2").Build(),
		rc.B().Get().Key(a).Build(), rc.B().Get().Key(b).Build())
	require.Len(t, rs, 4)
	for _, r := range rs {
		require.NoError(t, r.Error())
	}
	v, _ := rs[3].ToString()
	assert.Equal(t, "2", v)
	// Moved slot: the router patches and retries a fresh command.
	assert.Len(t, rc.Nodes(), len(c.Topology().Current().Nodes()))
}
