// Package safe turns a panic in a goroutine the library started into an
// error, so that nothing from a caller, a callback or the network can
// kill the process.
package safe

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrPanic is wrapped by every *PanicError: errors.Is(err, ErrPanic)
// tells a recovered panic from other errors. The router and topology
// packages export it under their own names.
var ErrPanic = errors.New("slotrouter: recovered panic")

// PanicError is a panic recovered in a library goroutine.
type PanicError struct {
	// Where names the goroutine's job ("DoMulti pipeline to 127.0.0.1:7000").
	Where string
	// Value is what was passed to panic.
	Value any
	// Stack is the stack of the panicking goroutine.
	Stack []byte
}

// Error names the job and the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("slotrouter: recovered panic in %s: %v", e.Where, e.Value)
}

// Is makes errors.Is(err, ErrPanic) hold.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover is deferred at the top of a goroutine (or around a callback):
// when the goroutine panics it stores a *PanicError in *err (when err is
// not nil) and calls report (when not nil) with it. It must be called
// directly by defer.
//
//	defer safe.Recover("pipeline", &err, nil)
func Recover(where string, err *error, report func(*PanicError)) {
	v := recover()
	if v == nil {
		return
	}
	pe := &PanicError{Where: where, Value: v, Stack: debug.Stack()}
	if err != nil {
		*err = pe
	}
	if report != nil {
		report(pe)
	}
}

// Call runs fn and returns the panic it raised as a *PanicError (nil when
// it returned normally).
func Call(where string, fn func()) (err error) {
	defer Recover(where, &err, nil)
	fn()
	return nil
}
