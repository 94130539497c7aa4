// Package slots computes Redis Cluster hash slots and provides the Slot,
// Range and Set types used throughout slotrouter.
//
// A key's slot is CRC16(hashtag.Extract(key)) mod 16384. Of and OfBytes
// allocate nothing.
package slots

import (
	"unsafe"

	"github.com/slotrouter/slotrouter/hashtag"
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
	if n := len(key); n < 8 || n > 16 || hasBrace(key[:8]) || hasBrace(key[n-8:]) {
		k = hashtag.Extract(key)
	} // else a key of 8 to 16 bytes without '{' (the common case) is hashed whole
	if len(k) < sliceBy {
		// Short keys, the common case, without the call into crc16
		// (whose tail this repeats, from a zero CRC): one 8-byte step,
		// one 4-byte step (independent lookups), then the one-byte loop.
		t := &crcTables
		var crc uint16
		if len(k) >= 8 {
			crc = t[7<<8+int(k[0])] ^ t[6<<8+int(k[1])] ^ t[5<<8+int(k[2])] ^ t[4<<8+int(k[3])] ^
				t[3<<8+int(k[4])] ^ t[2<<8+int(k[5])] ^ t[1<<8+int(k[6])] ^ t[int(k[7])]
			k = k[8:]
		}
		if len(k) >= 4 {
			crc = t[3<<8+int(byte(crc>>8)^k[0])] ^ t[2<<8+int(byte(crc)^k[1])] ^ t[1<<8+int(k[2])] ^ t[int(k[3])]
			k = k[4:]
		}
		for i := 0; i < len(k); i++ {
			crc = crc<<8 ^ t[int(byte(crc>>8)^k[i])]
		}
		return Slot(crc & (Count - 1))
	}
	return Slot(crc16(k) & (Count - 1))
}

// OfBytes returns the hash slot of key, honouring hash tags.
func OfBytes(key []byte) Slot {
	return Of(view(key))
}

// view returns b as a string without copying, for read-only scanning.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// hasBrace reports whether one of the first 8 bytes of s is '{' (s has at
// least 8 bytes): it XORs them, as one word, with '{' in every byte and
// tests the word for a zero byte (exactly, without false positives). It is
// hashtag's test, repeated so that Of calls nothing for a short key.
func hasBrace(s string) bool {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	x ^= 0x7b7b7b7b7b7b7b7b
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}
