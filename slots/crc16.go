package slots

import "github.com/slotrouter/slotrouter/internal/wordscan"

// CRC-16/XMODEM (polynomial 0x1021, initial value 0, not reflected, no final
// XOR), the checksum Redis Cluster uses for key slots.
//
// The textbook implementation consumes one byte per step, and each step
// depends on the previous one through a table lookup. crc16 below consumes
// 16 bytes per step with 16 independent lookups (slicing-by-16): CRC16 is
// linear, so the CRC of a block is the XOR of each byte's contribution at
// its distance from the block's end, and the running CRC is folded into the
// block's first two bytes. A remainder of 8 to 15 bytes takes one
// 8-byte step the same way, and one of 4 to 7 bytes a 4-byte step. The tables are computed once from the polynomial
// and never written again.

const poly = 0x1021

// sliceBy is the number of bytes consumed per step by the fast path.
const sliceBy = 16

// crcTables[k<<8+b] is the CRC of byte b followed by k zero bytes: 16
// tables of 256 entries in one array, so that a lookup is one load at a
// constant offset from one base address. crcTables[:256] is the textbook
// table.
var crcTables = makeTables()

func makeTables() [sliceBy * 256]uint16 {
	var t [sliceBy * 256]uint16
	for b := 0; b < 256; b++ {
		crc := uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ poly
			} else {
				crc <<= 1
			}
		}
		t[b] = crc
	}
	for k := 1; k < sliceBy; k++ {
		for b := 0; b < 256; b++ {
			prev := t[(k-1)<<8+b]
			t[k<<8+b] = prev<<8 ^ t[prev>>8]
		}
	}
	return t
}

// CRC16 returns the CRC-16/XMODEM checksum of b.
// CRC16([]byte("123456789")) == 0x31C3.
func CRC16(b []byte) uint16 {
	return crc16(wordscan.View(b))
}

// crc16 is the implementation shared by string and byte keys.
func crc16(s string) uint16 {
	t := &crcTables
	var crc uint16
	for len(s) >= sliceBy {
		// The running CRC is XORed into the block's first two bytes.
		crc = t[15<<8+int(byte(crc>>8)^s[0])] ^ t[14<<8+int(byte(crc)^s[1])] ^
			t[13<<8+int(s[2])] ^ t[12<<8+int(s[3])] ^ t[11<<8+int(s[4])] ^ t[10<<8+int(s[5])] ^
			t[9<<8+int(s[6])] ^ t[8<<8+int(s[7])] ^ t[7<<8+int(s[8])] ^ t[6<<8+int(s[9])] ^
			t[5<<8+int(s[10])] ^ t[4<<8+int(s[11])] ^ t[3<<8+int(s[12])] ^ t[2<<8+int(s[13])] ^
			t[1<<8+int(s[14])] ^ t[int(s[15])]
		s = s[sliceBy:]
	}
	if len(s) >= 8 {
		crc = t[7<<8+int(byte(crc>>8)^s[0])] ^ t[6<<8+int(byte(crc)^s[1])] ^
			t[5<<8+int(s[2])] ^ t[4<<8+int(s[3])] ^ t[3<<8+int(s[4])] ^ t[2<<8+int(s[5])] ^
			t[1<<8+int(s[6])] ^ t[int(s[7])]
		s = s[8:]
	}
	if len(s) >= 4 {
		crc = t[3<<8+int(byte(crc>>8)^s[0])] ^ t[2<<8+int(byte(crc)^s[1])] ^ t[1<<8+int(s[2])] ^ t[int(s[3])]
		s = s[4:]
	}
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ t[int(byte(crc>>8)^s[i])]
	}
	return crc
}
