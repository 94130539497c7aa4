package router_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// TestRoutePublishByChannel: PUBLISH has no key (any node takes it and
// the cluster bus forwards it), but it goes to the primary of its
// channel's slot, so that one publisher's messages on a channel leave
// from one node and arrive in order.
func TestRoutePublishByChannel(t *testing.T) {
	s := benchSnapshot(t)
	for _, ch := range []string{"orders", "news", "{user:42}:events", "x"} {
		slot, n, err := router.Route(s, nil, router.ReadPrimary, "PUBLISH", ch, "m")
		require.NoError(t, err)
		assert.Equal(t, router.NoSlot, slot, "no key")
		sh, ok := s.Lookup(slots.Of(ch))
		require.True(t, ok)
		assert.Equal(t, sh.Primary.Addr, n.Addr(), ch)
	}
}
