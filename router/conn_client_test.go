package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/wire"
	"github.com/slotrouter/slotrouter/retry"
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
	o.ClientSideCaching = true
	assert.False(t, o.clientOption().DisableCache)
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

// TestNoWriteYieldOption: the template's dialer guards every connection,
// yielding after shared writes by default and never with NoWriteYield.
func TestNoWriteYieldOption(t *testing.T) {
	for _, off := range []bool{false, true} {
		o := Options{NoWriteYield: off}
		o.ClientOption.DialCtxFn = func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
			c, s := net.Pipe()
			s.Close()
			return c, nil
		}
		c, err := o.clientOption().DialCtxFn(context.Background(), "n:1", &net.Dialer{}, nil)
		require.NoError(t, err)
		g, ok := c.(*wire.Conn)
		require.True(t, ok, "%T", c)
		assert.Equal(t, !off, g.Yields(), "NoWriteYield %v", off)
		require.NoError(t, c.Close())
	}
}

// TestPoolDialsOncePrunesAndCloses checks the pool: concurrent gets share
// one dial, prune closes the clients of addresses that left, close waits
// for everything.
func TestPoolDialsOncePrunesAndCloses(t *testing.T) {
	p, addrs := newOKPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan *nodeConn, 8)
	for range 8 {
		go func() {
			nc, err := p.get(ctx, addrs[0], false)
			assert.NoError(t, err)
			done <- nc
		}()
	}
	first := <-done
	for range 7 {
		assert.Same(t, first, <-done, "one client per address")
	}
	_, err := p.get(ctx, addrs[1], false)
	require.NoError(t, err)
	ro, err := p.get(ctx, addrs[1], true)
	require.NoError(t, err)
	assert.True(t, ro.key.readonly)
	assert.Len(t, p.addrs(), 3)

	p.prune(func(a string) bool { return a == addrs[0] })
	assert.Equal(t, []string{addrs[0]}, p.addrs())
	again, err := p.get(ctx, addrs[0], false)
	require.NoError(t, err)
	assert.Same(t, first, again)

	p.drop(first)
	assert.Empty(t, p.addrs())
	p.close()
	_, err = p.get(ctx, addrs[0], false)
	assert.ErrorIs(t, err, ErrClosed)
}

// newOKPool returns a pool and the addresses of two loopback servers
// that answer every command with +OK (serveOK).
func newOKPool(t *testing.T) (*pool, [2]string) {
	var addrs [2]string
	for i := range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs[i] = ln.Addr().String()
		go serveOK(ln, new(atomicCounter))
		t.Cleanup(func() { ln.Close() })
	}
	opt := (&Options{}).clientOption()
	opt.ClientSetInfo = rueidis.DisableClientSetInfo
	return newPool(opt, retryBreakerDefaults()), addrs
}

type atomicCounter struct{ n atomic.Int64 }

func retryBreakerDefaults() retry.BreakerOptions { return retry.BreakerOptions{} }

// serveOK answers every command of every connection with +OK (HELLO with
// an error so that rueidis falls back to RESP2).
func serveOK(ln net.Listener, accepted *atomicCounter) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted.n.Add(1)
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if !strings.HasPrefix(line, "*") {
					continue
				}
				var n int
				fmt.Sscanf(line[1:], "%d", &n)
				var name string
				for i := range n {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					arg, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if i == 0 {
						name = strings.ToUpper(strings.TrimSpace(arg))
					}
				}
				reply := "+OK\r\n"
				if name == "HELLO" {
					reply = "-ERR unknown command 'HELLO'\r\n"
				}
				if _, err := c.Write([]byte(reply)); err != nil {
					return
				}
			}
		}()
	}
}
