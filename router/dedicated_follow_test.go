package router

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
)

// TestDedicatedFollowMemory: a lost sharded subscription makes the next
// pin of its channels wait for another owner than the node that lost it,
// until the wait is given up; once subscribed again, its first cause is
// reported only when it had been subscribed before; entries expire and
// their number is bounded.
func TestDedicatedFollowMemory(t *testing.T) {
	var f dedicatedFollow
	ttl := time.Minute
	slot := slots.Of("{a}")
	moved := errors.New("moved")
	f.lose(slot, []string{"{a}1", "{a}2"}, "n1:1", moved, true, true, ttl)
	old, since, ok := f.pending(slot, []string{"{a}2"}, ttl)
	require.True(t, ok)
	assert.Equal(t, "n1:1", old)
	assert.WithinDuration(t, time.Now(), since, time.Second)
	_, _, ok = f.pending(slots.Of("{b}"), []string{"{a}2"}, ttl)
	assert.False(t, ok, "another slot")

	// A later failure keeps the first cause, moves the node to avoid.
	f.lose(slot, []string{"{a}1"}, "n2:1", errors.New("refused"), false, true, ttl)
	old, _, ok = f.pending(slot, []string{"{a}1"}, ttl)
	require.True(t, ok)
	assert.Equal(t, "n2:1", old)

	f.waited([]string{"{a}1", "{a}2"})
	_, _, ok = f.pending(slot, []string{"{a}1", "{a}2"}, ttl)
	assert.False(t, ok, "the wait was given up: the next pin goes at once")

	assert.Equal(t, moved, f.found([]string{"{a}1", "{a}2"}))
	assert.Nil(t, f.found([]string{"{a}1"}), "reported once")

	// Never subscribed (a first SSUBSCRIBE that failed): paced, not reported.
	f.lose(slot, []string{"{a}3"}, "n1:1", moved, false, true, ttl)
	_, _, ok = f.pending(slot, []string{"{a}3"}, ttl)
	assert.True(t, ok)
	assert.Nil(t, f.found([]string{"{a}3"}))

	// A dropped connection: the next pin goes at once.
	f.lose(slot, []string{"{a}5"}, "n1:1", moved, true, false, ttl)
	_, _, ok = f.pending(slot, []string{"{a}5"}, ttl)
	assert.False(t, ok)
	assert.Equal(t, moved, f.found([]string{"{a}5"}), "reported once subscribed again")

	// Expiry and the bound.
	f.lose(slot, []string{"{a}4"}, "n1:1", moved, true, true, ttl)
	_, _, ok = f.pending(slot, []string{"{a}4"}, -time.Nanosecond)
	assert.False(t, ok, "expired")
	for i := range maxFollowed + 10 {
		f.lose(slot, []string{"{a}x" + strconv.Itoa(i)}, "n1:1", moved, true, true, ttl)
	}
	assert.Len(t, f.lost, maxFollowed)
}
