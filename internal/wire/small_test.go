package wire

import (
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
)

func TestSmallConn(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		in                     rueidis.ClientOption
		read, write, ringScale int
	}{
		{"defaults", rueidis.ClientOption{}, 1024, 512, 3},
		{"larger capped", rueidis.ClientOption{ReadBufferEachConn: 1 << 20, WriteBufferEachConn: 1 << 20, RingScaleEachConn: 10}, 1024, 512, 3},
		{"smaller kept", rueidis.ClientOption{ReadBufferEachConn: 100, WriteBufferEachConn: 64, RingScaleEachConn: 2}, 100, 64, 2},
		{"rueidis's default markers", rueidis.ClientOption{ReadBufferEachConn: 8, WriteBufferEachConn: -1, RingScaleEachConn: -3}, 1024, 512, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.in
			SmallConn(&o, 1024, 512, 3)
			assert.Equal(t, tc.read, o.ReadBufferEachConn)
			assert.Equal(t, tc.write, o.WriteBufferEachConn)
			assert.Equal(t, tc.ringScale, o.RingScaleEachConn)
		})
	}
}
