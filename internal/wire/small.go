package wire

import "github.com/redis/rueidis"

// SmallConn caps the buffers and the command ring of the connections
// made with o at read and write bytes and 2^ringScale commands, for
// connections that carry few, small commands at a time. rueidis's
// defaults (0.5 MiB to read, 0.5 MiB to write, a ring of 1,024 commands
// with their locks and channels) cost about 1.4 MB per connection, all
// of it live heap, which the garbage collector's pacing doubles. Values
// of o that are already smaller are kept; rueidis's markers for its
// defaults (a buffer below 32 bytes, a ring scale of 0 or less) are
// capped too. A reply larger than the read buffer is read through it.
func SmallConn(o *rueidis.ClientOption, read, write, ringScale int) {
	o.ReadBufferEachConn = capSize(o.ReadBufferEachConn, read)
	o.WriteBufferEachConn = capSize(o.WriteBufferEachConn, write)
	if o.RingScaleEachConn <= 0 || o.RingScaleEachConn > ringScale {
		o.RingScaleEachConn = ringScale
	}
}

// capSize returns a rueidis buffer size at most limit: v, unless it is
// rueidis's default (below 32) or larger than limit.
func capSize(v, limit int) int {
	if v < 32 || v > limit {
		return limit
	}
	return v
}
