package retry_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func TestParseRedirectValid(t *testing.T) {
	tests := []struct {
		msg  string
		want retry.Redirect
		same bool
	}{
		{"MOVED 3999 127.0.0.1:6381", retry.Redirect{Kind: retry.KindMoved, Slot: 3999, Addr: "127.0.0.1:6381"}, false},
		{"ASK 3999 127.0.0.1:6381", retry.Redirect{Kind: retry.KindAsk, Slot: 3999, Addr: "127.0.0.1:6381"}, false},
		{"MOVED 0 10.1.2.3:1", retry.Redirect{Kind: retry.KindMoved, Slot: 0, Addr: "10.1.2.3:1"}, false},
		{"MOVED 16383 redis-node-1.example.com:65535", retry.Redirect{Kind: retry.KindMoved, Slot: 16383, Addr: "redis-node-1.example.com:65535"}, false},
		{"ASK 7 localhost:7000", retry.Redirect{Kind: retry.KindAsk, Slot: 7, Addr: "localhost:7000"}, false},
		{"MOVED 12 my_host:7000", retry.Redirect{Kind: retry.KindMoved, Slot: 12, Addr: "my_host:7000"}, false},
		{"MOVED 1 ::1:6381", retry.Redirect{Kind: retry.KindMoved, Slot: 1, Addr: "[::1]:6381"}, false},
		{"MOVED 1 [::1]:6381", retry.Redirect{Kind: retry.KindMoved, Slot: 1, Addr: "[::1]:6381"}, false},
		{"ASK 2 2001:db8::7:7000", retry.Redirect{Kind: retry.KindAsk, Slot: 2, Addr: "[2001:db8::7]:7000"}, false},
		{"MOVED 3 fe80::1%eth0:7000", retry.Redirect{Kind: retry.KindMoved, Slot: 3, Addr: "[fe80::1%eth0]:7000"}, false},
		{"MOVED 4 ::ffff:10.0.0.1:7000", retry.Redirect{Kind: retry.KindMoved, Slot: 4, Addr: "[::ffff:10.0.0.1]:7000"}, false},
		{"MOVED 3999 :6381", retry.Redirect{Kind: retry.KindMoved, Slot: 3999, Addr: ":6381"}, true},
		{"ASK 5 :7000", retry.Redirect{Kind: retry.KindAsk, Slot: 5, Addr: ":7000"}, true},
		{"MOVED 0099 a:1", retry.Redirect{Kind: retry.KindMoved, Slot: 99, Addr: "a:1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			got, err := retry.ParseRedirect(tt.msg)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.same, got.SameEndpoint())

			again, err := retry.ParseRedirect(got.String())
			require.NoError(t, err, "re-parse %q", got.String())
			assert.Equal(t, got, again)
		})
	}
}

func TestParseRedirectMalformed(t *testing.T) {
	long := "MOVED 1 " + strings.Repeat("h", 300) + ":1"
	tests := []struct {
		msg    string
		reason string // substring of the error message
	}{
		{"", "not a MOVED or ASK reply"},
		{"MOVED", "missing slot and address"},
		{"ASK", "missing slot and address"},
		{"MOVED ", "missing address"},
		{"ASK 1", "missing address"},
		{"MOVED x y", `slot "x" is not a decimal number`},
		{"MOVED 99999 a:1", "slot 99999 out of range 0-16383"},
		{"MOVED 16384 a:1", "slot 16384 out of range"},
		{"MOVED 99999999999999999999999 a:1", "out of range"},
		{"MOVED -1 a:1", `slot "-1" is not a decimal number`},
		{"MOVED +1 a:1", "not a decimal number"},
		{"MOVED 0x10 a:1", "not a decimal number"},
		{"MOVED \u0661 a:1", "not a decimal number"}, // ARABIC-INDIC DIGIT ONE
		{"MOVED \uff11 a:1", "not a decimal number"}, // FULLWIDTH DIGIT ONE
		{"MOVED  1 a:1", "empty slot"},
		{"MOVED 1 ", "empty address"},
		{"MOVED 1 a", "has no port"},
		{"MOVED 1 127.0.0.1", "has no port"},
		{"MOVED 1 a:", "empty port"},
		{"MOVED 1 a:0", "port 0 out of range 1-65535"},
		{"MOVED 1 a:65536", "port 65536 out of range"},
		{"MOVED 1 a:99999999999999999999", "out of range"},
		{"MOVED 1 a:-1", "not a decimal number"},
		{"MOVED 1 a:+1", "not a decimal number"},
		{"MOVED 1 a:\uff16\uff13\uff18\uff11", "not a decimal number"},
		{"MOVED 1 a:1 extra", "extra fields"},
		{"MOVED 1 a:1 ", "extra fields"},
		{"MOVED 1 a:1\r\n", "not a decimal number"},
		{"moved 1 a:1", "not a MOVED or ASK reply"},
		{"MOVEDX 1 a:1", "not a MOVED or ASK reply"},
		{"ERR something", "not a MOVED or ASK reply"},
		{" MOVED 1 a:1", "not a MOVED or ASK reply"},
		{"MOVED 1 [::1:6381", "not a bracketed IPv6"},
		{"MOVED 1 [1.2.3.4]:6381", "not a bracketed IPv6"},
		{"MOVED 1 []:6381", "not a bracketed IPv6"},
		{"MOVED 1 [:1", "not a bracketed IPv6"},
		{"MOVED 1 ::g:6381", "not a valid IPv6"},
		{"MOVED 1 ::1]:6381", "not a valid IPv6"},
		{"MOVED 1 1:2:3:4:5:6:7:8:9:6381", "not a valid IPv6"},
		{"MOVED 1 999.1.1.1:6381", "not a valid IPv4"},
		{"MOVED 1 1.2.3:6381", "not a valid IPv4"},
		{"MOVED 1 h/st:6381", "invalid byte"},
		{"MOVED 1 h\x00st:6381", "invalid byte"},
		{"MOVED 1 hö:6381", "invalid byte"},
		{"MOVED 1 ?:", "empty port"},
		{"MOVED 1 ?", "has no port"},
		{long, "host longer than 255 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			var got retry.Redirect
			var err error
			require.NotPanics(t, func() { got, err = retry.ParseRedirect(tt.msg) })
			require.Error(t, err)
			assert.ErrorIs(t, err, retry.ErrMalformedRedirect)
			assert.NotErrorIs(t, err, retry.ErrUnknownEndpoint)
			assert.Contains(t, err.Error(), tt.reason)
			assert.Equal(t, retry.Redirect{}, got)
		})
	}
}

func TestParseRedirectUnknownEndpoint(t *testing.T) {
	r, err := retry.ParseRedirect("MOVED 3999 ?:6381")
	require.ErrorIs(t, err, retry.ErrUnknownEndpoint)
	assert.NotErrorIs(t, err, retry.ErrMalformedRedirect)
	assert.Equal(t, retry.Redirect{Kind: retry.KindMoved, Slot: 3999}, r, "kind and slot are kept for a refresh")

	r, err = retry.ParseRedirect("ASK 1 ?:1")
	require.ErrorIs(t, err, retry.ErrUnknownEndpoint)
	assert.Equal(t, retry.KindAsk, r.Kind)
}

func TestParseRedirectErrorIsClipped(t *testing.T) {
	msg := "MOVED x " + strings.Repeat("y", 10000)
	_, err := retry.ParseRedirect(msg)
	require.ErrorIs(t, err, retry.ErrMalformedRedirect)
	assert.Less(t, len(err.Error()), 300)
}

func TestRedirectResolve(t *testing.T) {
	same := retry.Redirect{Kind: retry.KindMoved, Slot: 1, Addr: ":6381"}
	tests := []struct {
		r        retry.Redirect
		answered string
		want     string
	}{
		{same, "10.0.0.1:7000", "10.0.0.1:6381"},
		{same, "[::1]:7000", "[::1]:6381"},
		{same, "node-a.example:7000", "node-a.example:6381"},
		{same, "node-a", "node-a:6381"},
		{same, "[::1]", "[::1]:6381"},
		{retry.Redirect{Kind: retry.KindAsk, Slot: 1, Addr: "10.0.0.9:7001"}, "10.0.0.1:7000", "10.0.0.9:7001"},
	}
	for _, tt := range tests {
		t.Run(tt.r.Addr+" from "+tt.answered, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.Resolve(tt.answered))
		})
	}
}

func TestRedirectString(t *testing.T) {
	assert.Equal(t, "MOVED 3999 127.0.0.1:6381", retry.Redirect{Kind: retry.KindMoved, Slot: 3999, Addr: "127.0.0.1:6381"}.String())
	assert.Equal(t, "ASK 0 [::1]:1", retry.Redirect{Kind: retry.KindAsk, Slot: 0, Addr: "[::1]:1"}.String())
}

func TestParseRedirectAllocs(t *testing.T) {
	var r retry.Redirect
	var err error
	allocs := testing.AllocsPerRun(100, func() { r, err = retry.ParseRedirect("MOVED 3999 127.0.0.1:6381") })
	require.NoError(t, err)
	assert.Equal(t, uint16(3999), r.Slot)
	assert.Zero(t, allocs, "valid IPv4 redirect keeps a substring")

	allocs = testing.AllocsPerRun(100, func() { r, err = retry.ParseRedirect("MOVED 3999 redis-1.example:6381") })
	require.NoError(t, err)
	assert.Zero(t, allocs, "valid hostname redirect keeps a substring")
}
