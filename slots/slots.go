// Package slots computes Redis Cluster hash slots and provides the Slot,
// Range and Set types used throughout slotrouter.
//
// A key's slot is CRC16(hashtag.Extract(key)) mod 16384. Of and OfBytes
// allocate nothing.
package slots

import (
	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/internal/wordscan"
)

// Count is the number of hash slots in a Redis Cluster.
const Count = 16384

// Max is the highest slot number.
const Max Slot = Count - 1

// Slot is a Redis Cluster hash slot, 0 to 16383.
type Slot uint16

// Valid reports whether s is a slot number a cluster can have.
func (s Slot) Valid() bool { return s < Count }

// Of returns the hash slot of key, honouring hash tags.
func Of(key string) Slot {
	k := key
	if n := len(key); n < 8 || n > 16 || wordscan.Braces(key[:8])|wordscan.Braces(key[n-8:]) != 0 {
		k = hashtag.Extract(key)
	} // else a key of 8 to 16 bytes without '{' (the common case) is hashed whole
	n := len(k)
	if n >= sliceBy {
		return Slot(crc16(k) & (Count - 1))
	}
	// Short keys, the common case, without the call into crc16 (whose
	// tail this repeats, from a zero CRC): an 8-byte step and a 4-byte
	// step (independent lookups) at constant offsets, then the one-byte
	// loop.
	t := &crcTables
	var crc uint16
	i := 0
	if n >= 8 {
		_ = k[7]
		crc = t[7<<8+int(k[0])] ^ t[6<<8+int(k[1])] ^ t[5<<8+int(k[2])] ^ t[4<<8+int(k[3])] ^
			t[3<<8+int(k[4])] ^ t[2<<8+int(k[5])] ^ t[1<<8+int(k[6])] ^ t[int(k[7])]
		i = 8
		if n >= 12 {
			_ = k[11]
			crc = t[3<<8+int(byte(crc>>8)^k[8])] ^ t[2<<8+int(byte(crc)^k[9])] ^ t[1<<8+int(k[10])] ^ t[int(k[11])]
			i = 12
		}
	} else if n >= 4 {
		_ = k[3]
		crc = t[3<<8+int(k[0])] ^ t[2<<8+int(k[1])] ^ t[1<<8+int(k[2])] ^ t[int(k[3])]
		i = 4
	}
	for ; i < n; i++ {
		crc = crc<<8 ^ t[int(byte(crc>>8)^k[i])]
	}
	return Slot(crc & (Count - 1))
}

// OfBytes returns the hash slot of key, honouring hash tags.
func OfBytes(key []byte) Slot {
	return Of(wordscan.View(key))
}
