package clustertest

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// crc16 is the CRC16-XMODEM of Redis Cluster key hashing.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// tagForSlot returns a hash tag whose keys hash to slot.
func tagForSlot(t *testing.T, slot uint16) string {
	t.Helper()
	for i := range 1 << 20 {
		tag := "t" + strconv.Itoa(i)
		if crc16([]byte(tag))%NumSlots == slot {
			return tag
		}
	}
	t.Fatalf("no tag for slot %d", slot)
	return ""
}

// keysInSlot returns n distinct keys of slot.
func keysInSlot(t *testing.T, slot uint16, n int) []string {
	tag := tagForSlot(t, slot)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "{" + tag + "}:k" + strconv.Itoa(i)
	}
	return keys
}

// setKeys writes key=value-of-key on n and fails the test on error.
func setKeys(t *testing.T, c *Cluster, n *Node, keys []string) {
	t.Helper()
	for _, k := range keys {
		_, err := c.Do(t.Context(), n, "SET", k, "v:"+k)
		require.NoError(t, err, "SET %s on %s", k, n)
	}
}

// requireKeys reads every key from n and checks its value.
func requireKeys(t *testing.T, c *Cluster, n *Node, keys []string) {
	t.Helper()
	for _, k := range keys {
		m, err := c.Do(t.Context(), n, "GET", k)
		require.NoError(t, err, "GET %s on %s", k, n)
		v, err := m.ToString()
		require.NoError(t, err)
		require.Equal(t, "v:"+k, v)
	}
}
