package slots_test

// refTable is the textbook CRC-16/XMODEM table, built bit by bit from the
// polynomial, exactly as Redis's crc16.c tabulates it.
var refTable = func() (t [256]uint16) {
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

// refCRC16 is the one-byte-at-a-time CRC every Redis client ships. It is
// the reference for fuzzing and the baseline in the benchmarks.
func refCRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ refTable[byte(crc>>8)^c]
	}
	return crc
}

// refSlot is the slot rule of the Redis Cluster specification (keyHashSlot
// in cluster.c) with the textbook CRC.
func refSlot(key []byte) uint16 {
	s := -1
	for i := range key {
		if key[i] == '{' {
			s = i
			break
		}
	}
	if s >= 0 {
		for e := s + 1; e < len(key); e++ {
			if key[e] == '}' {
				if e == s+1 {
					break
				}
				return refCRC16(key[s+1:e]) & 16383
			}
		}
	}
	return refCRC16(key) & 16383
}
