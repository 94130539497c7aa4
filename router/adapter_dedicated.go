package router

import (
	"errors"

	"github.com/redis/rueidis"
)

var errDedicatedTODO = errors.New("slotrouter: Dedicated: not implemented yet")

// Dedicated runs fn with a connection of its own (see Dedicate).
func (a *rueidisClient) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	return errDedicatedTODO
}

// Dedicate returns a connection of its own and the function that gives
// it back.
func (a *rueidisClient) Dedicate() (rueidis.DedicatedClient, func()) {
	return errDedicated{err: errDedicatedTODO, b: a.b}, func() {}
}
