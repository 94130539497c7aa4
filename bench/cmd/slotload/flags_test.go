package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSlotloadBoundsAreUsageErrors: -workers and -pipeline above what the
// load generator accepts are usage errors (exit 2, naming the flag), found
// before any client is made, like -workers 0; the address is a closed
// loopback port, so a dial would fail with exit 1 instead.
func TestSlotloadBoundsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "127.0.0.1:1", "-workers", "5000"},
		{"-addr", "127.0.0.1:1", "-pipeline", "100000"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errOut, false), "%q: %s", args, errOut.String())
		assert.Contains(t, errOut.String(), args[2], "%q", args)
	}
}
