package router

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
)

// Tracer, set in Options.Tracer, follows every command through the
// client: StartCommand when Do (or DoCmd, or DoMulti for the whole batch)
// begins, EndAttempt after every attempt on a node, EndCommand when the
// call returns. It is what a tracing or metrics integration needs (the
// nested module github.com/slotrouter/slotrouter/otel implements it with
// OpenTelemetry); the library imports no tracing package. The context
// StartCommand returns (the caller's, or one derived from it, carrying a
// span) is the one given to EndAttempt and EndCommand, and is not used
// for the command's I/O. Methods must be fast, safe for concurrent use,
// must not block and must not call the Client. A panic in them is
// recovered and reported to a PanicObserver.
type Tracer interface {
	StartCommand(ctx context.Context, c CommandStart) context.Context
	EndAttempt(ctx context.Context, a Attempt)
	EndCommand(ctx context.Context, e CommandEnd)
}

// CommandStart describes a command (or a DoMulti batch) as it begins.
type CommandStart struct {
	// Name is the command's name as given ("GET", "set") when the
	// client's command table knows it, else OtherCommand (so that names
	// made up at run time do not make a new metric series each);
	// "PIPELINE" for DoMulti.
	Name string
	// Slot is the command's slot (NoSlot without keys, and for DoMulti).
	Slot slots.Slot
	// Batch is the number of commands (1 for Do).
	Batch int
	// Start is when the call began.
	Start time.Time
}

// Outcome is what became of one attempt.
type Outcome uint8

// Attempt outcomes.
const (
	// OutcomeOK: a reply (a nil reply included).
	OutcomeOK Outcome = iota
	// OutcomeServerError: an error reply the command ends with (WRONGTYPE,
	// NOSCRIPT, ...).
	OutcomeServerError
	// OutcomeRedirect: MOVED or ASK, followed.
	OutcomeRedirect
	// OutcomeRetry: retried (TRYAGAIN, LOADING, a connection error on a
	// read, ...).
	OutcomeRetry
	// OutcomeWait: the slot's primary was unreachable; the command waits
	// for a failover and tries again.
	OutcomeWait
	// OutcomeUnknown: a write sent without a reply: ErrUnknownOutcome.
	OutcomeUnknown
	// OutcomeBreakerOpen: the node's breaker refused the call.
	OutcomeBreakerOpen
	// OutcomeCanceled: the caller's context ended.
	OutcomeCanceled
	// OutcomeError: any other error the command ends with.
	OutcomeError
)

// String returns the outcome's name: "ok", "server_error", "redirect",
// "retry", "wait", "unknown_outcome", "breaker_open", "canceled", "error".
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeServerError:
		return "server_error"
	case OutcomeRedirect:
		return "redirect"
	case OutcomeRetry:
		return "retry"
	case OutcomeWait:
		return "wait"
	case OutcomeUnknown:
		return "unknown_outcome"
	case OutcomeBreakerOpen:
		return "breaker_open"
	case OutcomeCanceled:
		return "canceled"
	}
	return "error"
}

// Attempt describes one attempt of a command on a node.
type Attempt struct {
	// Name is the command's name (see CommandStart.Name).
	Name string
	// Addr is the node asked ("" when none could be chosen).
	Addr string
	// Replica reports a read sent to a replica.
	Replica bool
	// Number is the attempt's number, from 1.
	Number int
	// Start and Duration time the attempt.
	Start    time.Time
	Duration time.Duration
	// Outcome is what became of it; Kind is the error's retry.Kind
	// (KindNone on success).
	Outcome Outcome
	Kind    retry.Kind
	// Err is the attempt's error (nil on success).
	Err error
}

// CommandEnd describes a command (or batch) as its call returns.
type CommandEnd struct {
	// Name is the command's name (see CommandStart.Name).
	Name string
	// Addr is the node of the last attempt.
	Addr string
	// Duration is the call's duration.
	Duration time.Duration
	// Attempts counts the attempts (redirects included).
	Attempts int
	// Err is the call's error (for DoMulti: nil; each command's error is
	// in its Result).
	Err error
}

// OtherCommand is the name a Tracer is given for a command that the
// client's command table does not know (after the OpenTelemetry
// conventions' "_OTHER" for unknown HTTP methods).
const OtherCommand = "_OTHER"

// traceName is the name a Tracer is given for the command named name:
// name itself when the client's table knows it, else OtherCommand.
func (c *Client) traceName(name string) string {
	if _, ok := c.table.Lookup(name); ok {
		return name
	}
	return OtherCommand
}

// traceStart starts a trace when a Tracer is set.
func (c *Client) traceStart(ctx context.Context, name string, slot slots.Slot, batch int) (context.Context, time.Time) {
	if c.tracer == nil {
		return ctx, time.Time{}
	}
	start := time.Now()
	tctx := ctx
	c.safeTrace(func() {
		tctx = c.tracer.StartCommand(ctx, CommandStart{Name: name, Slot: slot, Batch: batch, Start: start})
	})
	if tctx == nil {
		tctx = ctx
	}
	return tctx, start
}

// safeTrace runs a Tracer method, recovering a panic.
func (c *Client) safeTrace(fn func()) {
	if err := safe.Call("Tracer", fn); err != nil {
		c.panicked("", err)
	}
}

// traceAttempt reports an attempt of st on addr that began at start and
// ended with err (nil: a reply), retried or not.
func (c *Client) traceAttempt(st *state, name, addr string, replica bool, start time.Time, err error, retried bool) {
	st.attempts++
	if addr != "" {
		st.lastAddr = addr
	}
	a := Attempt{Name: name, Addr: addr, Replica: replica, Number: st.attempts, Start: start, Duration: time.Since(start)}
	if err != nil {
		a.Err = err
		a.Outcome, a.Kind = attemptOutcome(st.tctx, st, err, retried)
	}
	c.safeTrace(func() { c.tracer.EndAttempt(st.tctx, a) })
}

// attemptOutcome names what became of an attempt that failed with err:
// retried (after a redirect, a wait...) or final.
func attemptOutcome(ctx context.Context, st *state, err error, retried bool) (Outcome, retry.Kind) {
	kind := retry.Classify(err).Kind
	switch {
	case retried && kind.IsRedirect():
		return OutcomeRedirect, kind
	case retried && st.wait:
		return OutcomeWait, kind
	case retried:
		return OutcomeRetry, kind
	case errors.Is(err, ErrUnknownOutcome):
		return OutcomeUnknown, kind
	case errors.Is(err, retry.ErrOpen):
		return OutcomeBreakerOpen, kind
	case ctx.Err() != nil:
		return OutcomeCanceled, kind
	}
	if _, ok := rueidis.IsRedisErr(err); ok {
		return OutcomeServerError, kind
	}
	return OutcomeError, kind
}
