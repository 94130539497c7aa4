package router

import (
	"errors"
	"fmt"
	"strings"

	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/topology"
)

// Errors of the client; test them with errors.Is. Server errors come back
// as *rueidis.RedisError (wrapped in *retry.ExhaustedError when the retry
// limits were reached).
var (
	// ErrUnknownOutcome means a command that is neither read-only nor
	// marked idempotent was written to a node and no reply came (the
	// connection broke, or the context ended): it may or may not have
	// been executed. It is never sent again. The error is an
	// *UnknownOutcomeError.
	ErrUnknownOutcome = errors.New("slotrouter: outcome unknown: the command was sent but no reply came")
	// ErrClosed means the client has been closed.
	ErrClosed = errors.New("slotrouter: client closed")
	// ErrNoNode means no node serves the command's slot (the slot is not
	// covered by the current topology), or the topology is empty.
	ErrNoNode = errors.New("slotrouter: no node serves the slot")
	// ErrMultiBlock means a MULTI ... EXEC block in DoMulti is malformed
	// (MULTI without EXEC or DISCARD, nested MULTI, EXEC without MULTI).
	ErrMultiBlock = errors.New("slotrouter: malformed MULTI/EXEC block")
)

// Errors of input validation; each wraps ErrBadCommand.
var (
	// errEmptyCommand is the error for a command without a name.
	errEmptyCommand = fmt.Errorf("%w: empty command (no name)", command.ErrBadCommand)
	// errNilContext is the error of an entry point given a nil context.
	errNilContext = fmt.Errorf("%w: nil context", command.ErrBadCommand)
	// errSubscribe is the error for the subscribe family, which puts a
	// connection in pub/sub mode.
	errSubscribe = fmt.Errorf("%w: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBE forms need a connection of their own, not a command on the shared one: "+
		"subscribe with Client.Rueidis().Receive (which follows a sharded channel's slot to its new owner), or a Dedicated connection's SetPubSubHooks", command.ErrBadCommand)
)

// ErrPanic is wrapped by the error that replaces a panic recovered in a
// goroutine the client started (a DoMulti pipeline, a DoPrimaries call, a
// dial): the panic fails the command or node it was serving instead of
// the process. Errors that wrap it are reported to an Observer that
// implements PanicObserver.
var ErrPanic = safe.ErrPanic

// ErrProtocol is wrapped by the error of a connection that a node broke
// the RESP protocol on (a length or element count beyond
// Options.ReplyLimits, nesting too deep, a reply nobody asked for): the
// connection is closed before rueidis allocates what the node announced,
// and the commands on it fail as on any broken connection.
var ErrProtocol = topology.ErrProtocol

// errNodeClosing is the error of an attempt that found its connection
// being closed by the pool before sending anything: pick again.
var errNodeClosing = errors.New("slotrouter: the node's connection was being closed (nothing sent)")

// connStateError is the error for a command that would change the state
// of the connection it is sent on, which the client shares between
// callers. It wraps ErrBadCommand.
func connStateError(name string) error {
	return &connStateErr{name: strings.ReplaceAll(name, "|", " ")}
}

// connStateErr is the error connStateError returns.
type connStateErr struct{ name string }

func (e *connStateErr) Error() string {
	return "slotrouter: malformed " + strings.ToUpper(e.name) + ": it changes the state of the connection, which this client shares between callers " +
		"(credentials and protocol belong in Options; MONITOR, SYNC and CLIENT REPLY need a connection of their own: Client.Node)"
}

func (e *connStateErr) Is(target error) bool { return target == command.ErrBadCommand }

// sharedConnError is a connection error a caller saw because another
// caller's context ended the connection they shared (rueidis fails every
// call on a connection with the error that broke it). For this caller it
// is a connection failure, not a cancellation: it does not unwrap to the
// context error, which was never its own.
type sharedConnError struct {
	addr string
	msg  string
}

func (e *sharedConnError) Error() string {
	return "slotrouter: connection to " + e.addr + " failed (" + e.msg + ", from another call on the same connection)"
}

// RetryKind classifies the error as a connection error (retry.Kinder).
func (e *sharedConnError) RetryKind() retry.Kind { return retry.KindConn }

// UnknownOutcomeError is the error for a write whose fate is unknown; see
// ErrUnknownOutcome.
type UnknownOutcomeError struct {
	// Addr is the node the command was sent to.
	Addr string
	// Command is the command's name.
	Command string
	// Err is the connection (or context) error.
	Err error
}

// Error says which command on which node has an unknown outcome, and why.
func (e *UnknownOutcomeError) Error() string {
	var b strings.Builder
	b.WriteString("slotrouter: outcome of ")
	b.WriteString(strings.ToUpper(e.Command))
	b.WriteString(" on ")
	b.WriteString(e.Addr)
	b.WriteString(" unknown: it was sent but no reply came (not retried)")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the connection error.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnknownOutcome) hold.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrUnknownOutcome }

// NodeError wraps an error with the node it came from, for errors that are
// not server replies (a dial failure, an open circuit breaker).
type NodeError struct {
	// Addr is the node's dialable address.
	Addr string
	// Err is the cause.
	Err error

	counted bool // a failed dial the node's breaker has counted already
}

// Error names the node and the cause.
func (e *NodeError) Error() string { return "slotrouter: node " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }
