package router

import (
	"errors"
	"strings"
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
}

// Error names the node and the cause.
func (e *NodeError) Error() string { return "slotrouter: node " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }
