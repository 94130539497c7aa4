package router

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// ErrSlotMoved is wrapped by the cause of an EventResubscribed reported
// when the server ended a sharded subscription (an SUNSUBSCRIBE it sent on
// its own) because the channels' slot left the node: a reshard, or a
// failover that demoted it.
var ErrSlotMoved = errors.New("slotrouter: the server ended the sharded subscription: its slot left the node")

// errReceiveClosed is the error of a Receive ended by Close: both
// rueidis's ErrClosing (what rueidis's Receive returns) and ErrClosed.
var errReceiveClosed = fmt.Errorf("%w (%w)", rueidis.ErrClosing, ErrClosed)

// errNilHandler is the error of a Receive without a message handler.
var errNilHandler = fmt.Errorf("%w: Receive: nil message handler", command.ErrBadCommand)

// subKind is the kind of a subscription.
type subKind uint8

const (
	subChannel subKind = iota // SUBSCRIBE
	subPattern                // PSUBSCRIBE
	subShard                  // SSUBSCRIBE
)

// subscription is what one Receive subscribes to: its own copy of the
// channels (or patterns), and for SSUBSCRIBE their slot.
type subscription struct {
	kind  subKind
	chans []string
	slot  slots.Slot
}

// subscribeKind returns the kind of the subscribe command named name
// (any case); an error for any other command (rueidis panics on one).
func subscribeKind(name string) (subKind, error) {
	switch {
	case strings.EqualFold(name, "subscribe"):
		return subChannel, nil
	case strings.EqualFold(name, "psubscribe"):
		return subPattern, nil
	case strings.EqualFold(name, "ssubscribe"):
		return subShard, nil
	}
	return 0, fmt.Errorf("%w: Receive takes SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE, not %q", command.ErrBadCommand, name)
}

// parseSubscribe checks the args of Receive's command and copies them.
func parseSubscribe(args []string) (subscription, error) {
	var s subscription
	if len(args) == 0 || args[0] == "" {
		return s, errEmptyCommand
	}
	kind, err := subscribeKind(args[0])
	if err != nil {
		return s, err
	}
	s.kind = kind
	if len(args) < 2 {
		return s, fmt.Errorf("%w: Receive: %s without a channel", command.ErrBadCommand, strings.ToUpper(args[0]))
	}
	s.chans = append([]string(nil), args[1:]...)
	if s.kind == subShard {
		slot, _, err := command.CheckSlot("SSUBSCRIBE", s.chans...)
		if err != nil {
			return s, err
		}
		s.slot = slot
	}
	return s, nil
}

// build returns a new subscribe command (rueidis recycles the one it was
// given once Receive returns nil, and needs the exact upper-case name).
func (s *subscription) build(b rueidis.Builder) rueidis.Completed {
	switch s.kind {
	case subPattern:
		return b.Psubscribe().Pattern(s.chans...).Build()
	case subShard:
		return b.Ssubscribe().Channel(s.chans...).Build()
	}
	return b.Subscribe().Channel(s.chans...).Build()
}

// confirmKind is the kind of the server's confirmation of one channel.
func (s *subscription) confirmKind() string {
	switch s.kind {
	case subPattern:
		return "psubscribe"
	case subShard:
		return "ssubscribe"
	}
	return "subscribe"
}

// slotOrNone is the subscription's slot, NoSlot for SUBSCRIBE and
// PSUBSCRIBE.
func (s *subscription) slotOrNone() slots.Slot {
	if s.kind != subShard {
		return NoSlot
	}
	return s.slot
}

// Receive subscribes with subscribe (SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE,
// built with B()) and calls fn for each message, on the caller's
// goroutine, until the subscription ends. As rueidis's Receive, it
// returns nil when the subscription ends by an unsubscribe, an error that
// is rueidis.ErrClosing (and ErrClosed) when the client is closed,
// ctx.Err() when ctx ends, and the error when the subscription failed (a
// refused command, or no node to subscribe on within
// Options.FailoverWait: a *FailoverWaitError).
//
// SUBSCRIBE and PSUBSCRIBE go to a reachable primary (classic pub/sub is
// cluster-wide); SSUBSCRIBE goes to the primary of its channels' slot (the
// channels must share one: a *CrossSlotError otherwise). Beyond rueidis,
// a subscription follows its node: when the connection drops (the node
// was killed, failed over or left), and for SSUBSCRIBE when the slot
// moves — the server's own SUNSUBSCRIBE after a reshard or failover, a
// MOVED reply — Receive subscribes again where the channels are served
// now, waiting for a new owner within ctx and Options.FailoverWait, and
// reports an EventResubscribed once the new subscription is confirmed
// (an unsubscribe of its channels sent through Do while it is between
// nodes ends it: Receive returns nil) (a
// frozen node is noticed within Options.CommandTimeout, rueidis's
// keepalive, or when the client's other traffic shows its failover):
// every message published after that event is delivered. Messages
// published while no node held the subscription are lost, as pub/sub's
// at-most-once delivery always allows.
//
// rueidis.WithOnSubscriptionHook's hook sees every confirmation,
// resubscriptions included; rueidis.WithOnReceiveReturnHook's hook runs
// once, when Receive returns, with the last node's client. The
// subscription hook runs on rueidis's reader goroutine: a panic in it is
// recovered and reported to the PanicObserver, and ends Receive with an
// error wrapping ErrPanic.
func (a *rueidisClient) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	if ctx == nil {
		return errNilContext
	}
	if fn == nil {
		return errNilHandler
	}
	if subscribe.IsEmpty() {
		return errEmptyCommand
	}
	sub, err := parseSubscribe(subscribe.Commands())
	if err != nil {
		return err
	}
	if a.c.closed.Load() {
		return errReceiveClosed
	}
	r := newReceiver(a, ctx, sub, fn)
	return r.run(ctx)
}
