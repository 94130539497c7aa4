package migrate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOutbids: the check before SETSLOT NODE lets a target take the slot
// only when Redis's bump on SETSLOT NODE leaves it with a config epoch
// above the source's; a target that has not heard of the source's latest
// epoch waits (the source's next message, still claiming the slot, would
// take it back).
func TestOutbids(t *testing.T) {
	for _, c := range []struct {
		name              string
		own, known, srcEp uint64
		want              bool
	}{
		{"greater already", 7, 7, 5, true},
		{"smaller, knows the source's", 3, 5, 5, true},
		{"smaller, knows a greater one", 3, 9, 5, true},
		{"smaller, has not heard of the source's", 3, 4, 5, false},
		{"the greatest it knows, below the source's", 4, 4, 5, false},
		{"equal: a collision the cluster resolves first", 5, 5, 5, false},
		{"equal, knowing a greater one: bumped past it", 5, 8, 5, true},
		{"0 always bumps, knowing the source's", 0, 5, 5, true},
		{"0 against 0", 0, 0, 0, true},
		{"0, has not heard of the source's", 0, 4, 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := &nodeState{epoch: c.own, maxKnown: c.known}
			assert.Equal(t, c.want, outbids(dst, c.srcEp))
		})
	}
}
