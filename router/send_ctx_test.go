package router

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// ownCtx is a context of a caller's own type whose Done is its own
// channel: context.WithTimeout over it starts a goroutine that reads it
// later.
type ownCtx struct {
	context.Context
	done chan struct{}
}

func (c ownCtx) Done() <-chan struct{} { return c.done }

// TestIsStdCancelCtx: send reuses its deadline-hiding wrapper only over
// the standard library's own cancelable contexts.
func TestIsStdCancelCtx(t *testing.T) {
	tctx, cancelT := context.WithTimeout(context.Background(), time.Minute)
	defer cancelT()
	dctx, cancelD := context.WithDeadline(context.Background(), time.Now().Add(time.Minute))
	defer cancelD()
	cctx, cancelC := context.WithCancel(context.Background())
	defer cancelC()
	assert.True(t, isStdCancelCtx(tctx), "WithTimeout")
	assert.True(t, isStdCancelCtx(dctx), "WithDeadline")
	assert.True(t, isStdCancelCtx(cctx), "WithCancel")
	type key struct{}
	assert.False(t, isStdCancelCtx(context.WithValue(tctx, key{}, 1)), "a value over a timeout")
	assert.False(t, isStdCancelCtx(ownCtx{Context: tctx, done: make(chan struct{})}), "a type of the caller's own")
	assert.False(t, isStdCancelCtx(context.Background()), "Background")
	assert.False(t, isStdCancelCtx(noDeadline{tctx}), "the wrapper itself")
}
