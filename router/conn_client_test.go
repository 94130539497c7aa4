package router

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadonlyDialerAuthenticates checks the bytes the READONLY dialer
// writes on a new connection (AUTH first when credentials are set) and
// that it refuses a connection whose READONLY is refused.
func TestReadonlyDialerAuthenticates(t *testing.T) {
	for _, tc := range []struct {
		user, pass string
		reply      string
		want       string
		ok         bool
	}{
		{"", "", "+OK\r\n", "*1\r\n$8\r\nREADONLY\r\n", true},
		{"", "pw", "+OK\r\n+OK\r\n", "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$8\r\nREADONLY\r\n", true},
		{"u", "pw", "+OK\r\n+OK\r\n", "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n*1\r\n$8\r\nREADONLY\r\n", true},
		{"u", "bad", "-WRONGPASS invalid username-password pair\r\n-NOAUTH Authentication required.\r\n", "", false},
		{"", "", "-ERR This instance has cluster support disabled\r\n", "", false},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- ""
				return
			}
			defer c.Close()
			buf := make([]byte, 256)
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b strings.Builder
			for !strings.Contains(b.String(), "READONLY\r\n") {
				n, err := c.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			_, _ = c.Write([]byte(tc.reply))
			got <- b.String()
			_, _ = c.Read(buf) // wait for the client to close
		}()
		dial := readonlyDialer(rueidis.ClientOption{Username: tc.user, Password: tc.pass})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := dial(ctx, ln.Addr().String(), &net.Dialer{Timeout: 2 * time.Second}, nil)
		cancel()
		if tc.ok {
			require.NoError(t, err)
			conn.Close()
			assert.Equal(t, tc.want, <-got)
		} else {
			require.Error(t, err)
			assert.ErrorIs(t, err, errReadonlyReply)
			<-got
		}
		ln.Close()
	}
}

// TestClientOptionForcesSingleNode checks the rueidis template.
func TestClientOptionForcesSingleNode(t *testing.T) {
	o := Options{Username: "u", Password: "p", CommandTimeout: time.Second, DialTimeout: 3 * time.Second,
		ClientOption: rueidis.ClientOption{ClientName: "x", InitAddress: []string{"a:1"}, ReplicaOnly: true}}
	co := o.clientOption()
	assert.True(t, co.ForceSingleClient)
	assert.True(t, co.DisableCache)
	assert.True(t, co.DisableRetry)
	assert.False(t, co.ReplicaOnly)
	assert.False(t, co.DisableAutoPipelining)
	assert.Nil(t, co.InitAddress)
	assert.Equal(t, "u", co.Username)
	assert.Equal(t, "p", co.Password)
	assert.Equal(t, "x", co.ClientName)
	assert.Equal(t, time.Second, co.ConnWriteTimeout)
	assert.Equal(t, 3*time.Second, co.Dialer.Timeout)
	assert.Equal(t, DefaultDialTimeout, (&Options{}).clientOption().Dialer.Timeout)
}
