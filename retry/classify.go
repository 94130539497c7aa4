package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Class is the result of Classify: the error's Kind and the error in the
// chain that decided it.
type Class struct {
	// Kind is the error's category.
	Kind Kind
	// Err is the error in the chain that decided Kind: for server-reply
	// kinds it is the server error itself (so Err.Error() is the reply line
	// without any wrapping text, ready for ParseRedirect); for KindConn and
	// KindCanceled the matching error; for KindOther the error passed to
	// Classify; nil for KindNone.
	Err error
}

// Kinder can be implemented by an error type to state its Kind explicitly.
// Classify honours it (outermost first) before looking at messages; this
// lets callers mark their own errors, e.g. a client's "closing" error as
// KindConn. Context cancellation still wins over a Kinder. The marked
// error becomes Class.Err, so one marked as a redirect must have the reply
// line as its Error().
type Kinder interface {
	RetryKind() Kind
}

// maxChain bounds how many errors of a chain (or tree) Classify and
// Unsent visit.
const maxChain = 64

// Classify maps err to its Class. The rules, first match wins:
//
//  1. nil is KindNone.
//  2. If any error in the chain is context.Canceled or
//     context.DeadlineExceeded (by == or an Is method), KindCanceled.
//  3. The first error in the chain (outermost first) implementing Kinder
//     with a valid kind other than KindNone decides.
//  4. Server replies: the first LEAF of the chain (an error that wraps
//     nothing, such as *rueidis.RedisError or errors.New(...)) whose
//     Error() begins with one of the words MOVED, ASK, TRYAGAIN,
//     CLUSTERDOWN, LOADING, READONLY or MASTERDOWN followed by a space or
//     the end of the message decides. Only leaves are read, so wrapping text
//     such as fmt.Errorf("MOVED while doing x: %w", err) cannot fool it, and
//     fmt.Errorf("x: %w", movedErr) is still KindMoved. The match is
//     case-sensitive, as the server's replies are.
//  5. Connection errors: any error in the chain that is io.EOF,
//     io.ErrUnexpectedEOF, net.ErrClosed, syscall.ECONNRESET, ECONNREFUSED,
//     ECONNABORTED, EPIPE, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ENETDOWN,
//     or implements net.Error (which includes *net.OpError, *net.DNSError
//     and os.ErrDeadlineExceeded, but not other syscall.Errno values),
//     gives KindConn.
//  6. Everything else is KindOther.
//
// The chain is walked with Unwrap() error and Unwrap() []error (depth
// first, at most 64 errors). Classify does not allocate.
func Classify(err error) Class {
	if err == nil {
		return Class{}
	}
	var w walker
	w.walk(err)
	switch {
	case w.canceled != nil:
		return Class{Kind: KindCanceled, Err: w.canceled}
	case w.marked != nil:
		return Class{Kind: w.markedKind, Err: w.marked}
	case w.server != nil:
		return Class{Kind: w.serverKind, Err: w.server}
	case w.conn != nil:
		return Class{Kind: KindConn, Err: w.conn}
	}
	return Class{Kind: KindOther, Err: err}
}

// Redirect parses c.Err as a redirect. It fails with ErrMalformedRedirect
// when c is not a redirect class.
func (c Class) Redirect() (Redirect, error) {
	if !c.Kind.IsRedirect() || c.Err == nil {
		return Redirect{}, malformed("not a redirect: "+c.Kind.String(), "")
	}
	return ParseRedirect(c.Err.Error())
}

type walker struct {
	visited    int
	canceled   error
	marked     error
	markedKind Kind
	server     error
	serverKind Kind
	conn       error
}

// walk visits err and its wrapped errors depth first. It stops early only
// when cancellation is found (which wins regardless of the rest).
func (w *walker) walk(err error) {
	for err != nil && w.canceled == nil {
		if w.visited >= maxChain {
			return
		}
		w.visited++
		w.visit(err)
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				for _, e := range errs {
					w.walk(e)
				}
				return
			}
		}
		if next == nil {
			// A leaf (wraps nothing): the only place a server reply is read.
			if w.server == nil {
				if k := serverKind(err.Error()); k != KindNone {
					w.server, w.serverKind = err, k
				}
			}
			return
		}
		err = next
	}
}

func (w *walker) visit(err error) {
	if isCanceled(err) {
		w.canceled = err
		return
	}
	if w.marked == nil {
		if m, ok := err.(Kinder); ok {
			if k := m.RetryKind(); k != KindNone && k < numKinds {
				w.marked, w.markedKind = err, k
			}
		}
	}
	if w.conn == nil && isConn(err) {
		w.conn = err
	}
}

func isCanceled(err error) bool {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return true
	}
	if x, ok := err.(interface{ Is(error) bool }); ok {
		return x.Is(context.Canceled) || x.Is(context.DeadlineExceeded)
	}
	return false
}

// connErrors are the sentinel values that mean a connection-level failure.
var connErrors = [...]error{
	io.EOF,
	io.ErrUnexpectedEOF,
	net.ErrClosed,
	syscall.ECONNRESET,
	syscall.ECONNREFUSED,
	syscall.ECONNABORTED,
	syscall.EPIPE,
	syscall.ETIMEDOUT,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.ENETDOWN,
}

func isConn(err error) bool {
	if errno, ok := err.(syscall.Errno); ok {
		// Errno has Timeout and Temporary methods, so it satisfies
		// net.Error; only the listed numbers are connection failures.
		for _, s := range connErrors {
			if errno == s {
				return true
			}
		}
		return false
	}
	if _, ok := err.(net.Error); ok {
		return true
	}
	// Comparing against a sentinel cannot panic: the sentinels' dynamic
	// types are comparable, and values of different dynamic types are
	// simply unequal.
	for _, s := range connErrors {
		if err == s {
			return true
		}
	}
	if x, ok := err.(interface{ Is(error) bool }); ok {
		for _, s := range connErrors {
			if x.Is(s) {
				return true
			}
		}
	}
	return false
}

// serverKind returns the kind named by the first word of a server error
// line, or KindNone when the word is not one of the retry-relevant ones.
func serverKind(msg string) Kind {
	word := msg
	for i := 0; i < len(msg); i++ {
		if msg[i] == ' ' {
			word = msg[:i]
			break
		}
	}
	switch word {
	case "MOVED":
		return KindMoved
	case "ASK":
		return KindAsk
	case "TRYAGAIN":
		return KindTryAgain
	case "CLUSTERDOWN":
		return KindClusterDown
	case "LOADING":
		return KindLoading
	case "READONLY":
		return KindReadOnly
	case "MASTERDOWN":
		return KindMasterDown
	}
	return KindNone
}

// Unsent reports whether err proves that the command never reached the
// network: the connection could not be established (a *net.OpError whose
// Op is "dial", a *net.DNSError, or ECONNREFUSED). Use it to fill
// Op.Unsent. It answers false when in doubt.
func Unsent(err error) bool {
	if err == nil {
		return false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
