package topology

import "github.com/slotrouter/slotrouter/slots"

const (
	epochChunk  = 256
	epochChunks = slots.Count / epochChunk
)

// epochTable holds one config epoch per slot in copy-on-write chunks, so a
// snapshot derived from another (ApplyMoved) shares every chunk it does not
// change. A nil chunk is all zeros.
type epochTable struct {
	chunks [epochChunks]*[epochChunk]uint64
}

func (t *epochTable) get(x slots.Slot) uint64 {
	c := t.chunks[int(x)/epochChunk]
	if c == nil {
		return 0
	}
	return c[int(x)%epochChunk]
}

// epochWriter writes into an epochTable, copying shared chunks once.
type epochWriter struct {
	t     epochTable
	owned [epochChunks]bool
}

func (w *epochWriter) set(x slots.Slot, v uint64) {
	i := int(x) / epochChunk
	c := w.t.chunks[i]
	if !w.owned[i] {
		if c == nil && v == 0 {
			return
		}
		n := new([epochChunk]uint64)
		if c != nil {
			*n = *c
		}
		w.t.chunks[i], w.owned[i], c = n, true, n
	}
	c[int(x)%epochChunk] = v
}
