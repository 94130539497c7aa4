package router

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/router/command"
)

// unsubscribe sends the rueidis face's UNSUBSCRIBE, PUNSUBSCRIBE or
// SUNSUBSCRIBE cmd (args: a copy of its args) where Receive subscribes:
// SUNSUBSCRIBE of channels to their slot's primary, the others (and
// SUNSUBSCRIBE of every channel) to every primary the client is
// connected to. A subscription it ends makes its Receive return nil. Any
// other command of the subscribe family gets errSubscribe (use Receive).
func (a *rueidisClient) unsubscribe(ctx context.Context, args []string, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	c := a.c
	name := strings.ToUpper(args[0])
	switch name {
	case "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
	default:
		return rueidis.RedisMessage{}, errSubscribe
	}
	chans := args[1:]
	// The Receives it ends are marked before it is sent: one between
	// nodes (its node down, waiting for another) must not subscribe
	// again, and one the server's confirmation ends must not take it for
	// the server's.
	if name == "SUNSUBSCRIBE" && len(chans) > 0 {
		slot, _, err := command.CheckSlot(name, chans...)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		c.recvs.unsubscribed(name, chans)
		nc, err := c.connFor(ctx, decision{slot: slot, hasKeys: true}, true)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		return nc.client.Do(sharedConnContext(ctx), cmd).ToMessage()
	}
	c.recvs.unsubscribed(name, chans)
	var (
		msg   rueidis.RedisMessage
		first error
		sent  bool
	)
	for k, nc := range *c.pool.conns.Load() {
		if k.readonly || nc.closing.Load() {
			continue
		}
		one := cmd
		if sent {
			one = buildUnsubscribe(a.b, name, chans)
		}
		sent = true
		m, err := nc.client.Do(sharedConnContext(ctx), one).ToMessage()
		if err != nil && first == nil {
			first = err
		} else if err == nil && first == nil {
			msg = m
		}
	}
	return msg, first
}

// buildUnsubscribe builds an unsubscribe command of the kind name (which
// rueidis marks as such: Arbitrary cannot build one).
func buildUnsubscribe(b rueidis.Builder, name string, chans []string) rueidis.Completed {
	switch name {
	case "PUNSUBSCRIBE":
		return b.Punsubscribe().Pattern(chans...).Build()
	case "SUNSUBSCRIBE":
		return b.Sunsubscribe().Channel(chans...).Build()
	}
	return b.Unsubscribe().Channel(chans...).Build()
}

// receiverSet is the set of a Client's running Receives.
type receiverSet struct {
	mu sync.Mutex
	m  map[*receiver]struct{}
}

func (s *receiverSet) add(r *receiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[*receiver]struct{})
	}
	s.m[r] = struct{}{}
}

func (s *receiverSet) remove(r *receiver) {
	s.mu.Lock()
	delete(s.m, r)
	s.mu.Unlock()
}

// unsubscribed marks the Receives that the caller's unsubscribe command
// name (of chans; none: all) ends: those of its kind with one of chans
// (rueidis ends a Receive when any of its channels is unsubscribed).
func (s *receiverSet) unsubscribed(name string, chans []string) {
	var kind subKind
	switch name {
	case "UNSUBSCRIBE":
		kind = subChannel
	case "PUNSUBSCRIBE":
		kind = subPattern
	default:
		kind = subShard
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := range s.m {
		if r.sub.kind != kind {
			continue
		}
		if len(chans) == 0 || slices.ContainsFunc(r.sub.chans, func(ch string) bool { return slices.Contains(chans, ch) }) {
			r.markUnsubscribed()
		}
	}
}
