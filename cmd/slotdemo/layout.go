package main

import (
	"context"
	"net"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/livelayout"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// liveLayout reads the live layout through addr as "slotctl plan -addr"
// does (livelayout.Read), over plain connections with the given dial
// timeout (the demo's local cluster has no authentication or TLS).
func liveLayout(ctx context.Context, addr string, timeout time.Duration) (*plan.Layout, error) {
	return livelayout.Read(ctx, addr, func(a string) (rueidis.Client, error) {
		return rueidis.NewClient(rueidis.ClientOption{
			InitAddress:       []string{a},
			ForceSingleClient: true,
			DisableCache:      true,
			DisableRetry:      true,
			Dialer:            net.Dialer{Timeout: timeout},
		})
	})
}
