package slots_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

var benchLens = []int{4, 8, 12, 16, 32, 64, 256, 1024}

func benchKey(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	k := make([]byte, n)
	for i := range k {
		k[i] = 'a' + byte(r.IntN(26)) // no braces: the whole key is hashed
	}
	return k
}

// BenchmarkSlot compares the library's slicing-by-16 CRC (Of, OfBytes)
// with the textbook one-byte table (Reference: the same hash-tag scan, then
// the CRC loop every Redis client ships) at each key length. Compare
// with: go test -run '^$' -bench BenchmarkSlot -count 10 ./slots | benchstat -col /impl -
func BenchmarkSlot(b *testing.B) {
	for _, n := range benchLens {
		key := benchKey(n)
		s := string(key)
		b.Run(fmt.Sprintf("impl=Reference/len=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = textbookSlot(s)
			}
		})
		b.Run(fmt.Sprintf("impl=Of/len=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = slots.Of(s)
			}
		})
		b.Run(fmt.Sprintf("impl=OfBytes/len=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = slots.OfBytes(key)
			}
		})
	}
}

func BenchmarkSetRanges(b *testing.B) {
	var s slots.Set
	for x := slots.Slot(0); x < slots.Count; x += 3 {
		s.AddRange(slots.Range{Start: x, End: x})
	}
	dst := make([]slots.Range, 0, slots.Count)
	for b.Loop() {
		dst = s.AppendRanges(dst[:0])
	}
}

// textbookSlot is how Redis clients compute a slot today: the hash-tag
// scan, then the one-byte table loop.
func textbookSlot(key string) slots.Slot {
	k := hashtag.Extract(key)
	var crc uint16
	for i := 0; i < len(k); i++ {
		crc = crc<<8 ^ refTable[byte(crc>>8)^k[i]]
	}
	return slots.Slot(crc & (slots.Count - 1))
}
