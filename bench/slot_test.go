package bench_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

// Slot computation. go-redis computes slots in internal/hashtag.Slot,
// which an outside module cannot import; its code is the textbook
// one-byte-table CRC16 loop, so client=textbook below (written here from
// the polynomial, as in the slots package's tests, nothing copied) stands
// for it. rueidis exports no slot function either; the only exported
// path to its slot code (internal/cmds.slot, also the textbook loop) is
// Completed.SetSlot(key).Slot(), which is what client=rueidis measures.

// crcTable is the CRC-16/XMODEM table (polynomial 0x1021) that Redis's
// crc16.c tabulates, built bit by bit.
var crcTable = func() (t [256]uint16) {
	for b := range 256 {
		crc := uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[b] = crc
	}
	return t
}()

// textbookSlot is the slot as most Redis clients compute it: the hash-tag
// rule, then the one-byte-at-a-time table loop.
func textbookSlot(key string) uint16 {
	k := hashtag.Extract(key)
	var crc uint16
	for i := 0; i < len(k); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^k[i]]
	}
	return crc & (slots.Count - 1)
}

// rueidisSlot is rueidis's slot of key through its exported API.
func rueidisSlot(key string) uint16 {
	c := rueidis.Completed{}.SetSlot(key)
	return c.Slot()
}

// slotKey returns a key of n random lower-case letters (no braces: the
// whole key is hashed).
func slotKey(n int) string {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	k := make([]byte, n)
	for i := range k {
		k[i] = 'a' + byte(r.IntN(26))
	}
	return string(k)
}

// TestSlotAgree checks that the three slot functions compared agree, on
// keys with and without hash tags.
func TestSlotAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	keys := []string{"", "{", "{}", "{}x", "x{}y", "{a}", "a{b}c{d}", "{{a}}", "}{a}", "foo", "123456789"}
	for range 2000 {
		k := make([]byte, r.IntN(40))
		for i := range k {
			k[i] = "ab{}:xyz"[r.IntN(8)]
		}
		keys = append(keys, string(k))
	}
	for _, k := range keys {
		want := textbookSlot(k)
		if got := uint16(slots.Of(k)); got != want {
			t.Fatalf("slots.Of(%q) = %d, textbook %d", k, got, want)
		}
		if got := rueidisSlot(k); got != want {
			t.Fatalf("rueidis slot of %q = %d, textbook %d", k, got, want)
		}
	}
}

// slotSink keeps the compiler from dropping the slot computations.
var slotSink uint16

// BenchmarkSlot is the slot of one key per iteration at key lengths 8, 64
// and 256: slots.Of, the textbook loop (go-redis's algorithm) and
// rueidis.
func BenchmarkSlot(b *testing.B) {
	for _, n := range []int{8, 64, 256} {
		key := slotKey(n)
		for _, impl := range []struct {
			name string
			fn   func(string) uint16
		}{
			{"slotrouter", func(k string) uint16 { return uint16(slots.Of(k)) }},
			{"textbook", textbookSlot},
			{"rueidis", rueidisSlot},
		} {
			b.Run(fmt.Sprintf("len=%d/client=%s", n, impl.name), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var s uint16
				for b.Loop() {
					s += impl.fn(key)
				}
				slotSink = s
			})
		}
	}
}
