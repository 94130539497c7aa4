package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStdinReadStops: "apply -", "check -nodes -" and "keyslot -" read stdin; when
// slotctl's context ends (SIGINT/SIGTERM) while stdin stays open and
// silent (a terminal, a stalled pipe), they stop at once with exit 1 and
// say they were stopped, as "plan" does, instead of blocking for ever.
// The address is a closed loopback port; nothing is dialled before the
// plan is read.
func TestStdinReadStops(t *testing.T) {
	for _, args := range [][]string{
		{"apply", "-addr", "127.0.0.1:1", "-"},
		{"check", "-nodes", "-"},
		{"keyslot", "-"},
	} {
		t.Run(args[0], func(t *testing.T) {
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close() // releases the read left behind
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errors.New("test signal received"))
			var out, errb bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, stdinR, &out, &errb) }()
			select {
			case code := <-done:
				assert.Equal(t, 1, code)
				assert.Contains(t, errb.String(), "stopped: test signal received")
			case <-time.After(5 * time.Second):
				_ = stdinW.Close() // unblock the read so the goroutine ends
				<-done
				require.Fail(t, "slotctl "+args[0]+" kept reading stdin after its context ended")
			}
		})
	}
}
