package retry

import "strconv"

// Kind is the retry-relevant category of an error. The zero value is
// KindNone (no error).
type Kind uint8

// The kinds of error Classify recognises.
const (
	// KindNone means there was no error.
	KindNone Kind = iota
	// KindMoved is a "MOVED <slot> <endpoint>" reply: the slot lives on
	// another node for good; follow it and update the slot map.
	KindMoved
	// KindAsk is an "ASK <slot> <endpoint>" reply: the slot is being
	// migrated and this key is on the target; send ASKING plus the command
	// there once, without changing the slot map.
	KindAsk
	// KindTryAgain is a "TRYAGAIN" reply: a multi-key command hit a slot
	// in the middle of a migration; retry after a short wait.
	KindTryAgain
	// KindClusterDown is a "CLUSTERDOWN" reply: the cluster (or the slot)
	// is not served right now.
	KindClusterDown
	// KindLoading is a "LOADING" reply: the node is loading its dataset.
	KindLoading
	// KindReadOnly is a "READONLY" reply: a write reached a replica,
	// typically a demoted primary after a failover.
	KindReadOnly
	// KindMasterDown is a "MASTERDOWN" reply: a replica lost its primary
	// and is configured not to serve stale data.
	KindMasterDown
	// KindConn is a connection-level failure (reset, refused, EOF, broken
	// pipe, I/O timeout, closed connection, any net.Error). Whether the
	// server executed the command is unknown unless it was never sent.
	KindConn
	// KindCanceled is context.Canceled or context.DeadlineExceeded: the
	// caller gave up. Never retried.
	KindCanceled
	// KindOther is every other error, including server replies such as
	// "ERR ...", "WRONGTYPE ...", "CROSSSLOT ...", "NOSCRIPT ...".
	// Never retried.
	KindOther

	numKinds
)

var kindNames = [numKinds]string{
	KindNone:        "None",
	KindMoved:       "MOVED",
	KindAsk:         "ASK",
	KindTryAgain:    "TRYAGAIN",
	KindClusterDown: "CLUSTERDOWN",
	KindLoading:     "LOADING",
	KindReadOnly:    "READONLY",
	KindMasterDown:  "MASTERDOWN",
	KindConn:        "Conn",
	KindCanceled:    "Canceled",
	KindOther:       "Other",
}

// String returns the kind's name; server-reply kinds use the reply's
// prefix (e.g. "MOVED").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsRedirect reports whether k is KindMoved or KindAsk.
func (k Kind) IsRedirect() bool { return k == KindMoved || k == KindAsk }

// NotExecuted reports whether an error of kind k is a server reply that
// proves the command was NOT executed (redirects, TRYAGAIN, CLUSTERDOWN,
// LOADING, READONLY, MASTERDOWN). Such commands may be retried even when
// they are writes.
func (k Kind) NotExecuted() bool {
	switch k {
	case KindMoved, KindAsk, KindTryAgain, KindClusterDown, KindLoading, KindReadOnly, KindMasterDown:
		return true
	}
	return false
}

// NeedsRefresh reports whether an error of kind k means the client's view
// of the cluster topology is probably stale (MOVED, READONLY, CLUSTERDOWN,
// connection errors), so a topology refresh should be triggered.
func (k Kind) NeedsRefresh() bool {
	switch k {
	case KindMoved, KindReadOnly, KindClusterDown, KindConn:
		return true
	}
	return false
}

// NeedsBackoff reports whether a retry after an error of kind k should
// wait first (TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, connection
// errors): retrying at once would most likely meet the same condition.
// Redirects and READONLY are retried at once, against a different node.
func (k Kind) NeedsBackoff() bool {
	switch k {
	case KindTryAgain, KindClusterDown, KindLoading, KindMasterDown, KindConn:
		return true
	}
	return false
}
