package slotrouterotel

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/rueidis"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router"
)

// The error.type values of the client's own errors (see the package doc).
const (
	errTypeUnknownOutcome = "unknown_outcome"
	errTypeBreakerOpen    = "breaker_open"
	errTypeNoPrimary      = "no_primary"
	errTypeTimeout        = "timeout"
	errTypeCanceled       = "canceled"
	errTypeClosed         = "closed"
	errTypeNoNode         = "no_node"
	errTypeCrossSlot      = "cross_slot"
	errTypeBadCommand     = "bad_command"
	errTypePanic          = "panic"
	errTypeProtocol       = "protocol"
)

// sentinels maps the client's errors to their error.type, in the order
// they are tested (after ErrUnknownOutcome, ErrNoPrimary and error
// replies).
var sentinels = [...]struct {
	err  error
	name string
}{
	{retry.ErrOpen, errTypeBreakerOpen},
	{context.DeadlineExceeded, errTypeTimeout},
	{context.Canceled, errTypeCanceled},
	{router.ErrClosed, errTypeClosed},
	{router.ErrNoNode, errTypeNoNode},
	{router.ErrCrossSlot, errTypeCrossSlot},
	{router.ErrBadCommand, errTypeBadCommand},
	{router.ErrPanic, errTypePanic},
	{router.ErrProtocol, errTypeProtocol},
}

// errorType returns the error.type of err and, when err is (or wraps) an
// error reply, db.response.status_code: the reply's prefix.
func errorType(err error) (errType, status string) {
	// These two wrap their cause (a canceled context, an open breaker,
	// CLUSTERDOWN...), which is not what the command ended with.
	switch {
	case errors.Is(err, router.ErrUnknownOutcome):
		return errTypeUnknownOutcome, ""
	case errors.Is(err, router.ErrNoPrimary):
		return errTypeNoPrimary, ""
	}
	var re *rueidis.RedisError
	if errors.As(err, &re) && re != nil && !re.IsNil() {
		if p := replyPrefix(re.Error()); p != "" {
			return p, p
		}
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name, ""
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errTypeTimeout, ""
	}
	t := semconv.ErrorType(err).Value.AsString()
	if strings.HasPrefix(t, "*errors.") || strings.HasPrefix(t, "*fmt.") {
		// errors.New, errors.Join, fmt.Errorf: no type worth a name.
		return semconv.ErrorTypeOther.Value.AsString(), ""
	}
	return t, ""
}

// replyPrefix returns the first word of an error reply ("WRONGTYPE" of
// "WRONGTYPE Operation against a key..."), "" when there is none.
func replyPrefix(msg string) string {
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		msg = msg[:i]
	}
	// A prefix is an upper-case word; anything else is not one.
	if msg == "" || len(msg) > 32 {
		return ""
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return ""
		}
	}
	return msg
}

// redirectTarget returns the address a MOVED or ASK reply named.
func redirectTarget(err error) string {
	var re *rueidis.RedisError
	if !errors.As(err, &re) || re == nil {
		return ""
	}
	// "MOVED 3999 127.0.0.1:6381", parsed here: rueidis's IsMoved
	// indexes the fields without checking there are three.
	f := strings.Fields(re.Error())
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return ""
	}
	return f[2]
}
