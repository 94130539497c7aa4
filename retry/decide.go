package retry

import "strconv"

// Action is what the redirect/retry loop should do next after an error.
type Action uint8

// The actions Decide returns.
const (
	// ActionDone: there was no error; return the result.
	ActionDone Action = iota
	// ActionFail: return the error to the caller; do not retry.
	ActionFail
	// ActionFollow: MOVED; patch the slot map, trigger a refresh and send
	// the command to the redirect's target.
	ActionFollow
	// ActionAsk: ASK; send ASKING plus the command to the redirect's
	// target once, without changing the slot map.
	ActionAsk
	// ActionBackoff: wait (Backoff.Delay, within the ctx deadline) and
	// retry against the same slot owner.
	ActionBackoff
	// ActionRefresh: refresh the topology, then retry (READONLY: the node
	// is no longer the slot's primary).
	ActionRefresh
	// ActionRetryConn: a connection error on a command that is safe to
	// send again (never written, or read-only / idempotent); report it to
	// the node's breaker, trigger a refresh, back off and retry.
	ActionRetryConn
	// ActionFailUnknownOutcome: a connection error after a write may have
	// been sent; the server may or may not have executed it. Never retried
	// silently: fail with an error that says the outcome is unknown.
	ActionFailUnknownOutcome

	numActions
)

var actionNames = [numActions]string{
	ActionDone:               "Done",
	ActionFail:               "Fail",
	ActionFollow:             "Follow",
	ActionAsk:                "Ask",
	ActionBackoff:            "Backoff",
	ActionRefresh:            "Refresh",
	ActionRetryConn:          "RetryConn",
	ActionFailUnknownOutcome: "FailUnknownOutcome",
}

// String returns the action's name.
func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// IsRetry reports whether a sends the command again (Follow, Ask, Backoff,
// Refresh, RetryConn).
func (a Action) IsRetry() bool {
	switch a {
	case ActionFollow, ActionAsk, ActionBackoff, ActionRefresh, ActionRetryConn:
		return true
	}
	return false
}

// Op describes the command attempt an error came from. The zero value is
// the most cautious description: a write that may have been sent.
type Op struct {
	// Unsent is true only when it is certain that no byte of the command
	// was written to the network (e.g. the dial failed, see Unsent, or a
	// breaker refused the node). When in doubt leave it false.
	Unsent bool
	// ReadOnly is true for commands that do not modify data (GET, MGET...).
	ReadOnly bool
	// Idempotent is true for writes the caller marked as safe to repeat
	// (SET k v without options, DEL...).
	Idempotent bool
}

// Decide is the decision table of the redirect/retry loop. It is pure; it
// does not count hops or attempts (see Counter).
//
//	KindNone                                   -> ActionDone
//	KindMoved                                  -> ActionFollow
//	KindAsk                                    -> ActionAsk
//	KindTryAgain, KindClusterDown,
//	KindLoading, KindMasterDown                -> ActionBackoff
//	KindReadOnly                               -> ActionRefresh
//	KindConn, op.Unsent                        -> ActionRetryConn
//	KindConn, op.ReadOnly or op.Idempotent     -> ActionRetryConn
//	KindConn, otherwise (a write maybe sent)   -> ActionFailUnknownOutcome
//	KindCanceled, KindOther, unknown kinds     -> ActionFail
//
// Server replies other than KindOther prove the command was not executed,
// so they are retried whatever the command is; only a connection error
// leaves the outcome unknown.
func Decide(k Kind, op Op) Action {
	switch k {
	case KindNone:
		return ActionDone
	case KindMoved:
		return ActionFollow
	case KindAsk:
		return ActionAsk
	case KindTryAgain, KindClusterDown, KindLoading, KindMasterDown:
		return ActionBackoff
	case KindReadOnly:
		return ActionRefresh
	case KindConn:
		if op.Unsent || op.ReadOnly || op.Idempotent {
			return ActionRetryConn
		}
		return ActionFailUnknownOutcome
	}
	return ActionFail
}
