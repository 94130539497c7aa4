package topology

import "errors"

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
