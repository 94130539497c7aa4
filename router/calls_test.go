package router

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallCounts checks a node's striped call counts: calls in flight
// and answered, summed over the stripes, whatever stripes the calls
// drew; a blocking call is counted answered without having been in
// flight; and startCall's verdict (alone, or the node marked busy).
func TestCallCounts(t *testing.T) {
	var n nodeState
	a, lone := n.startCall(false)
	assert.Equal(t, 0, a, "a caller on a node not busy takes the first stripe")
	assert.True(t, lone, "nothing else in flight: alone")
	assert.False(t, n.busy.Load())
	b, lone := n.startCall(false)
	assert.False(t, lone, "another call in flight: not alone")
	assert.True(t, n.busy.Load(), "and the node is marked busy")
	c, lone := n.startCall(true)
	assert.False(t, lone, "a busy node's caller is never alone")
	in, done := n.callCounts()
	assert.Equal(t, uint32(3), in)
	assert.Equal(t, uint32(0), done)

	n.callEnded(a, false, true)
	n.callEnded(b, false, false) // a connection error: not answered
	n.callEnded(0, true, true)   // a blocking call answered
	in, done = n.callCounts()
	assert.Equal(t, uint32(1), in)
	assert.Equal(t, uint32(2), done)
	n.callEnded(c, false, true)
	in, done = n.callCounts()
	assert.Equal(t, uint32(0), in)
	assert.Equal(t, uint32(3), done)

	// Concurrent callers: every count adds up once they are done.
	const callers, calls = 32, 500
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				k, _ := n.startCall(i%3 != 0)
				if in, _ := n.callCounts(); in == 0 {
					t.Error("a call in flight is not counted")
					return
				}
				n.callEnded(k, false, (g+i)%2 == 0)
			}
		}()
	}
	wg.Wait()
	in, done = n.callCounts()
	require.Equal(t, uint32(0), in)
	assert.Equal(t, uint32(3+callers*calls/2), done)
}
