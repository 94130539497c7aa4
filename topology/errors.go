package topology

import (
	"errors"

	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/internal/wire"
)

var (
	// ErrMalformedReply is wrapped by every error a parser returns for a
	// reply whose shape or values it cannot make sense of (wrong types,
	// missing fields, slot numbers out of range, odd key/value arrays).
	ErrMalformedReply = errors.New("topology: malformed reply")

	// ErrErrorReply is wrapped when the reply handed to a parser is a Redis
	// error (for example "ERR This instance has cluster support disabled").
	ErrErrorReply = errors.New("topology: error reply")

	// ErrInvalidShards is wrapped by NewSnapshot when shards overlap, have
	// no primary, or hold invalid slot ranges.
	ErrInvalidShards = errors.New("topology: invalid shards")

	// ErrNoViews is returned by Reconcile when it is given no view at all.
	ErrNoViews = errors.New("topology: no views to reconcile")
)

var (
	// ErrProtocol is wrapped by the error of a connection that a node
	// broke the RESP protocol on: a reply announcing a length, element
	// count or nesting beyond Options.ReplyLimits, or a reply no command
	// was waiting for. The connection is closed; nothing is allocated for
	// what the node announced.
	ErrProtocol = wire.ErrProtocol

	// ErrPanic is wrapped by the error that replaces a panic recovered in
	// one of the package's goroutines (a fetch, a dial, a refresh).
	ErrPanic = safe.ErrPanic
)

// errNilContext is returned by entry points given a nil context.
var errNilContext = errors.New("topology: nil context")

// ReplyLimits bounds what a node may announce in one reply: MaxBulk
// (bytes of one string, default 512 MiB, Redis's proto-max-bulk-len),
// MaxElements (elements of one aggregate, default 16,777,216) and
// MaxDepth (nesting of aggregates, default 1024). Zero fields mean the
// defaults.
type ReplyLimits = wire.Limits
