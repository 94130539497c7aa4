package safe

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCallRecovers(t *testing.T) {
	err := Call("job", func() { panic("boom") })
	require.ErrorIs(t, err, ErrPanic)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "job", pe.Where)
	require.Equal(t, "boom", pe.Value)
	require.NotEmpty(t, pe.Stack)
	require.Contains(t, err.Error(), "recovered panic in job: boom")
}

func TestCallErrorValue(t *testing.T) {
	err := Call("job", func() { panic(io.EOF) })
	require.ErrorIs(t, err, ErrPanic)
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, Call("job", func() {}))
}

func TestRecoverInGoroutine(t *testing.T) {
	done := make(chan error, 1)
	var reported *PanicError
	go func() {
		var err error
		defer func() { done <- err }()
		defer Recover("worker", &err, func(pe *PanicError) { reported = pe })
		var s []int
		_ = s[len(s)] // index out of range: a runtime panic
	}()
	err := <-done
	require.ErrorIs(t, err, ErrPanic)
	require.NotNil(t, reported)
	require.True(t, errors.Is(reported, ErrPanic))
}
