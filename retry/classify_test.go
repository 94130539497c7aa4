package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

// kindErr is an error that states its kind.
type kindErr struct {
	kind retry.Kind
	err  error
}

func (e *kindErr) Error() string         { return "marked: " + e.err.Error() }
func (e *kindErr) Unwrap() error         { return e.err }
func (e *kindErr) RetryKind() retry.Kind { return e.kind }

// nilUnwrap wraps nothing although it has an Unwrap method: it is a leaf.
type nilUnwrap struct{ msg string }

func (e nilUnwrap) Error() string { return e.msg }
func (e nilUnwrap) Unwrap() error { return nil }

// selfLoop unwraps to itself forever.
type selfLoop struct{}

func (e *selfLoop) Error() string { return "MOVED 1 a:1" }
func (e *selfLoop) Unwrap() error { return e }

// uncomparable is an error value type that cannot be compared with ==.
type uncomparable struct{ parts []string }

func (e uncomparable) Error() string { return "ERR uncomparable" }

// isEOF claims, via an Is method, to be io.EOF.
type isEOF struct{}

func (isEOF) Error() string        { return "custom eof" }
func (isEOF) Is(target error) bool { return target == io.EOF }

func TestClassify(t *testing.T) {
	moved := errors.New("MOVED 3999 127.0.0.1:6381")
	ask := errors.New("ASK 3999 127.0.0.1:6381")
	resetOp := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

	tests := []struct {
		name    string
		err     error
		want    retry.Kind
		wantErr error // the Class.Err expected; nil means "don't check"
	}{
		{"nil", nil, retry.KindNone, nil},
		{"moved", moved, retry.KindMoved, moved},
		{"ask", ask, retry.KindAsk, ask},
		{"wrapped moved", fmt.Errorf("do GET k: %w", moved), retry.KindMoved, moved},
		{"twice wrapped ask", fmt.Errorf("a: %w", fmt.Errorf("b: %w", ask)), retry.KindAsk, ask},
		{"tryagain", errors.New("TRYAGAIN Multiple keys request during rehashing of slot"), retry.KindTryAgain, nil},
		{"clusterdown", errors.New("CLUSTERDOWN The cluster is down"), retry.KindClusterDown, nil},
		{"clusterdown slot", errors.New("CLUSTERDOWN Hash slot not served"), retry.KindClusterDown, nil},
		{"loading", errors.New("LOADING Redis is loading the dataset in memory"), retry.KindLoading, nil},
		{"readonly", errors.New("READONLY You can't write against a read only replica."), retry.KindReadOnly, nil},
		{"masterdown", errors.New("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), retry.KindMasterDown, nil},
		{"bare word", errors.New("TRYAGAIN"), retry.KindTryAgain, nil},
		{"leaf with nil Unwrap", nilUnwrap{"LOADING x"}, retry.KindLoading, nil},
		{"wrongtype", errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), retry.KindOther, nil},
		{"err", errors.New("ERR unknown command"), retry.KindOther, nil},
		{"crossslot", errors.New("CROSSSLOT Keys in request don't hash to the same slot"), retry.KindOther, nil},
		{"noscript", errors.New("NOSCRIPT No matching script."), retry.KindOther, nil},
		{"lowercase", errors.New("moved 1 a:1"), retry.KindOther, nil},
		{"longer word", errors.New("MOVEDX 1 a:1"), retry.KindOther, nil},
		{"asking", errors.New("ASKING"), retry.KindOther, nil},
		{"leading space", errors.New(" MOVED 1 a:1"), retry.KindOther, nil},
		{"wrapper text is not read", fmt.Errorf("MOVED 1 a:1 %w", errors.New("boom")), retry.KindOther, nil},
		{"wrapper text over conn", fmt.Errorf("CLUSTERDOWN while reading: %w", io.EOF), retry.KindConn, io.EOF},
		{"eof", io.EOF, retry.KindConn, io.EOF},
		{"unexpected eof", io.ErrUnexpectedEOF, retry.KindConn, nil},
		{"wrapped eof", fmt.Errorf("read reply: %w", io.EOF), retry.KindConn, io.EOF},
		{"net closed", net.ErrClosed, retry.KindConn, nil},
		{"econnreset", syscall.ECONNRESET, retry.KindConn, nil},
		{"econnrefused", syscall.ECONNREFUSED, retry.KindConn, nil},
		{"epipe", syscall.EPIPE, retry.KindConn, nil},
		{"net.OpError reset", resetOp, retry.KindConn, resetOp},
		{"net.OpError generic", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("whatever")}, retry.KindConn, nil},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, retry.KindConn, nil},
		{"i/o timeout", os.ErrDeadlineExceeded, retry.KindConn, nil},
		{"Is method", isEOF{}, retry.KindConn, nil},
		{"other errno", syscall.ENOENT, retry.KindOther, nil},
		{"canceled", context.Canceled, retry.KindCanceled, nil},
		{"deadline", context.DeadlineExceeded, retry.KindCanceled, nil},
		{"wrapped canceled", fmt.Errorf("do: %w", context.Canceled), retry.KindCanceled, context.Canceled},
		{"canceled beats server", errors.Join(moved, context.Canceled), retry.KindCanceled, context.Canceled},
		{"canceled beats conn", fmt.Errorf("%w: %w", io.EOF, context.DeadlineExceeded), retry.KindCanceled, nil},
		{"server beats conn", errors.Join(io.EOF, moved), retry.KindMoved, moved},
		{"first server leaf wins", errors.Join(errors.New("ERR x"), moved, ask), retry.KindMoved, moved},
		{"kinder", &kindErr{retry.KindConn, errors.New("client closing")}, retry.KindConn, nil},
		{"kinder over server", &kindErr{retry.KindOther, moved}, retry.KindOther, nil},
		{"kinder none ignored", &kindErr{retry.KindNone, moved}, retry.KindMoved, moved},
		{"kinder invalid ignored", &kindErr{retry.Kind(200), moved}, retry.KindMoved, moved},
		{"canceled beats kinder", &kindErr{retry.KindMoved, context.Canceled}, retry.KindCanceled, nil},
		{"self loop terminates", &selfLoop{}, retry.KindOther, nil},
		{"uncomparable", uncomparable{parts: []string{"a"}}, retry.KindOther, nil},
		{"empty join member", errors.Join(nil, errors.New("LOADING")), retry.KindLoading, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := retry.Classify(tt.err)
			assert.Equal(t, tt.want, c.Kind, "kind of %v", tt.err)
			switch {
			case tt.err == nil:
				assert.NoError(t, c.Err)
			case tt.wantErr != nil:
				assert.Same(t, any(tt.wantErr), any(c.Err))
			default:
				assert.Error(t, c.Err)
			}
		})
	}
}

func TestClassifyOtherKeepsWholeError(t *testing.T) {
	err := fmt.Errorf("ctx: %w", errors.New("WRONGTYPE x"))
	c := retry.Classify(err)
	require.Equal(t, retry.KindOther, c.Kind)
	assert.Same(t, any(err), any(c.Err))
}

func TestClassifyRealDialError(t *testing.T) {
	// A loopback port that was just closed refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	_, err = net.Dial("tcp", addr)
	require.Error(t, err)
	assert.Equal(t, retry.KindConn, retry.Classify(err).Kind, "%v", err)
	assert.True(t, retry.Unsent(err), "a failed dial never sent anything: %v", err)
	assert.True(t, retry.Unsent(fmt.Errorf("wrapped: %w", err)))
}

func TestUnsent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dial op", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("x")}, true},
		{"read op", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{"write op", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, false},
		{"dns", &net.DNSError{Err: "no such host", Name: "x"}, true},
		{"refused", fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{"eof", io.EOF, false},
		{"server reply", errors.New("MOVED 1 a:1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, retry.Unsent(tt.err))
		})
	}
}

func TestClassRedirect(t *testing.T) {
	err := fmt.Errorf("get: %w", errors.New("ASK 12 10.0.0.2:7001"))
	r, perr := retry.Classify(err).Redirect()
	require.NoError(t, perr)
	assert.Equal(t, retry.Redirect{Kind: retry.KindAsk, Slot: 12, Addr: "10.0.0.2:7001"}, r)

	_, perr = retry.Classify(io.EOF).Redirect()
	require.ErrorIs(t, perr, retry.ErrMalformedRedirect)
	assert.Contains(t, perr.Error(), "not a redirect")

	_, perr = retry.Classify(errors.New("MOVED")).Redirect()
	require.ErrorIs(t, perr, retry.ErrMalformedRedirect)
}

func TestKindFacts(t *testing.T) {
	type facts struct{ redirect, notExecuted, refresh, backoff bool }
	want := map[retry.Kind]facts{
		retry.KindNone:        {},
		retry.KindMoved:       {redirect: true, notExecuted: true, refresh: true},
		retry.KindAsk:         {redirect: true, notExecuted: true},
		retry.KindTryAgain:    {notExecuted: true, backoff: true},
		retry.KindClusterDown: {notExecuted: true, refresh: true, backoff: true},
		retry.KindLoading:     {notExecuted: true, backoff: true},
		retry.KindReadOnly:    {notExecuted: true, refresh: true},
		retry.KindMasterDown:  {notExecuted: true, backoff: true},
		retry.KindConn:        {refresh: true, backoff: true},
		retry.KindCanceled:    {},
		retry.KindOther:       {},
		retry.Kind(99):        {},
	}
	for k, f := range want {
		t.Run(k.String(), func(t *testing.T) {
			got := facts{k.IsRedirect(), k.NotExecuted(), k.NeedsRefresh(), k.NeedsBackoff()}
			assert.Equal(t, f, got)
		})
	}
	assert.Equal(t, "MOVED", retry.KindMoved.String())
	assert.Equal(t, "Conn", retry.KindConn.String())
	assert.Equal(t, "Kind(99)", retry.Kind(99).String())
}

func TestClassifyAllocs(t *testing.T) {
	moved := fmt.Errorf("wrap: %w", errors.New("MOVED 3999 127.0.0.1:6381"))
	var c retry.Class
	allocs := testing.AllocsPerRun(100, func() { c = retry.Classify(moved) })
	assert.Equal(t, retry.KindMoved, c.Kind)
	assert.Zero(t, allocs)
}
