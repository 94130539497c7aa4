package router

import (
	"sync"
	"time"

	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
)

// Observer receives events of the redirect/retry loop. Callbacks run on
// the caller's goroutine, in the middle of a command: they must be fast,
// must not block, and must be safe for concurrent use.
type Observer interface {
	// OnRedirect is called for every MOVED or ASK reply followed.
	OnRedirect(RedirectEvent)
	// OnRetry is called before every retry that is not a redirect
	// (backoff, refresh, connection error, READONLY fallback...).
	OnRetry(RetryEvent)
}

// EventObserver is implemented by an Observer that wants the client's
// availability events: breaker transitions, failover waits, fallback
// reads, stalled nodes. Like the other callbacks, OnEvent must be fast,
// must not block, and must be safe for concurrent use; it must not call
// the Client either.
type EventObserver interface {
	OnEvent(Event)
}

// EventKind is the kind of an Event.
type EventKind uint8

// Event kinds.
const (
	// EventBreaker: a node's circuit breaker changed state (From, To).
	EventBreaker EventKind = iota + 1
	// EventFailoverWaitBegin: a command began to wait for its slot to
	// have a reachable primary (Addr: the unreachable node; Err: why).
	EventFailoverWaitBegin
	// EventFailoverWaitEnd: the wait ended (Duration; Err nil when the
	// command then succeeded, else its error).
	EventFailoverWaitEnd
	// EventFallbackRead: under PrimaryPreferred (or PreferReplica's last
	// resort), a read went to a replica because the primary was
	// unreachable (Addr: the replica).
	EventFallbackRead
	// EventStall: calls to a node stopped completing (Addr; Duration: for
	// how long); the topology is refreshed.
	EventStall
	// EventConnsCut: the connections of a node replaced by a promotion
	// while its calls were stalled (or it was flagged failed) were cut
	// (Addr).
	EventConnsCut
	// EventResubscribed: a subscription of the rueidis face's Receive
	// (or a sharded subscription made again on a new dedicated
	// connection, as rueidiscompat does, once its hooks are set: see
	// Dedicate) followed its node and is subscribed again — confirmed by
	// the server — at Addr: for SSUBSCRIBE its slot's new owner after a
	// reshard, a failover or a dropped connection (Slot: the channels'
	// slot), for SUBSCRIBE and PSUBSCRIBE another primary after a
	// dropped connection (Slot: NoSlot). Err says why it moved
	// (ErrSlotMoved for the server's own SUNSUBSCRIBE).
	EventResubscribed
	// EventCacheDropped: client-side cache entries of a node were dropped
	// because it lost slots or its connection (Addr; Slot: NoSlot when
	// every entry of the node was dropped).
	EventCacheDropped
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventBreaker:
		return "breaker"
	case EventFailoverWaitBegin:
		return "failover-wait-begin"
	case EventFailoverWaitEnd:
		return "failover-wait-end"
	case EventFallbackRead:
		return "fallback-read"
	case EventStall:
		return "stall"
	case EventConnsCut:
		return "conns-cut"
	case EventResubscribed:
		return "resubscribed"
	case EventCacheDropped:
		return "cache-dropped"
	}
	return "event"
}

// Event is one availability event; which fields are set depends on Kind.
type Event struct {
	// Kind says what happened, and which fields are set.
	Kind EventKind
	// Addr is the node concerned.
	Addr string
	// Slot is the command's slot (failover waits, fallback reads).
	Slot slots.Slot
	// From and To are a breaker's states (EventBreaker).
	From, To retry.State
	// Duration is how long a wait lasted, or a stall has lasted.
	Duration time.Duration
	// Err is the cause (a wait's begin) or the outcome (its end).
	Err error
}

// event reports e to the Observer when it implements EventObserver. It
// runs on callers' goroutines and on the client's and rueidis's own (a
// stall, cut connections, a resubscription, a cache store's report): a
// panic in OnEvent is recovered and reported (panicked), so that it ends
// nothing and leaves no state half-updated.
func (c *Client) event(e Event) {
	if eo, ok := c.obs.(EventObserver); ok {
		if err := safe.Call("EventObserver.OnEvent", func() { eo.OnEvent(e) }); err != nil {
			c.panicked(e.Addr, err)
		}
	}
}

// PanicObserver is implemented by an Observer that wants to hear of
// panics the client recovered in its goroutines (a DoMulti pipeline, a
// DoPrimaries call, a dial), or in the caller's callbacks those run
// (pub/sub hooks, cache stores, invalidation callbacks, the Logger, the
// topology Observer: see the package documentation). The panic fails
// the command or node it was serving with an error wrapping ErrPanic.
type PanicObserver interface {
	OnPanic(PanicEvent)
}

// PanicEvent describes one recovered panic.
type PanicEvent struct {
	// Addr is the node the goroutine was serving ("" when none).
	Addr string
	// Err wraps ErrPanic; errors.As gives the panic value and stack
	// through its Unwrap when the value is an error.
	Err error
}

// panicked reports a recovered panic to the Observer, when it implements
// PanicObserver.
func (c *Client) panicked(addr string, err error) {
	if po, ok := c.obs.(PanicObserver); ok {
		_ = safe.Call("OnPanic", func() { po.OnPanic(PanicEvent{Addr: addr, Err: err}) })
	}
}

// RedirectEvent describes one redirect.
type RedirectEvent struct {
	// Kind is retry.KindMoved or retry.KindAsk.
	Kind retry.Kind
	// Slot is the slot the redirect names.
	Slot slots.Slot
	// From is the address of the node that sent the redirect.
	From string
	// To is the dialable address of the target.
	To string
}

// RetryEvent describes one retry.
type RetryEvent struct {
	// Cause is the kind of error that caused the retry (retry.KindTryAgain,
	// retry.KindConn, ...).
	Cause retry.Kind
	// Addr is the node that answered with the error.
	Addr string
	// Attempt is the number of the attempt about to be made (2 for the
	// first retry).
	Attempt int
	// Delay is the backoff waited before the retry (0 for none).
	Delay time.Duration
}

// Counters is an Observer that counts events: MOVED and ASK per node (the
// node that sent them) and retries per cause. The zero value is ready;
// it is safe for concurrent use.
type Counters struct {
	mu      sync.Mutex
	moved   map[string]int64
	ask     map[string]int64
	retries map[retry.Kind]int64
}

// OnRedirect counts a redirect.
func (c *Counters) OnRedirect(e RedirectEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := &c.moved
	if e.Kind == retry.KindAsk {
		m = &c.ask
	}
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[e.From]++
}

// OnRetry counts a retry.
func (c *Counters) OnRetry(e RetryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.retries == nil {
		c.retries = make(map[retry.Kind]int64)
	}
	c.retries[e.Cause]++
}

// Moved returns the number of MOVED replies per node.
func (c *Counters) Moved() map[string]int64 { return c.copyOf(&c.moved) }

// Asked returns the number of ASK replies per node.
func (c *Counters) Asked() map[string]int64 { return c.copyOf(&c.ask) }

// Retries returns the number of retries per cause.
func (c *Counters) Retries() map[retry.Kind]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[retry.Kind]int64, len(c.retries))
	for k, v := range c.retries {
		out[k] = v
	}
	return out
}

// Total returns the total numbers of MOVED, ASK and retries.
func (c *Counters) Total() (moved, asked, retries int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.moved {
		moved += v
	}
	for _, v := range c.ask {
		asked += v
	}
	for _, v := range c.retries {
		retries += v
	}
	return moved, asked, retries
}

func (c *Counters) copyOf(m *map[string]int64) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(*m))
	for k, v := range *m {
		out[k] = v
	}
	return out
}
