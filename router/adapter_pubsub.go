package router

import (
	"context"
	"errors"

	"github.com/redis/rueidis"
)

// Receive subscribes with subscribe (SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE)
// and calls fn for each message until the subscription ends (see
// rueidis.Client.Receive).
func (a *rueidisClient) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	return errors.New("slotrouter: Receive: not implemented yet")
}
