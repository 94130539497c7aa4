package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// readCommand reads one RESP array of bulk strings (a command) from r.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[0] != '*' {
		return nil, io.ErrUnexpectedEOF
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, n)
	for range n {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(h[1:]))
		if err != nil {
			return nil, err
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args = append(args, string(b[:l]))
	}
	return args, nil
}

// hostileNode serves one connection: it answers the handshake (HELLO with
// a RESP3 map, anything else +OK) unless atHandshake, and then sends
// payload in answer to the first other command, and closes.
func hostileNode(conn net.Conn, payload []byte, atHandshake bool) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(args[0])
		if atHandshake || (name != "HELLO" && name != "CLIENT" && name != "AUTH" && name != "SELECT") {
			_, _ = conn.Write(payload)
			return
		}
		reply := "+OK\r\n"
		if name == "HELLO" {
			reply = "%3\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n+version\r\n+7.0.15\r\n"
		}
		if _, err := conn.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// askThroughRueidis dials a hostile node over a guarded net.Pipe with a
// real rueidis client and sends PING; it returns the error (nil when
// rueidis accepted the payload as a reply).
func askThroughRueidis(t testing.TB, payload []byte, atHandshake bool) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	dial := func(ctx context.Context, dst string, _ *net.Dialer, _ *tls.Config) (net.Conn, error) {
		cli, srv := net.Pipe()
		wg.Go(func() { hostileNode(srv, payload, atHandshake) })
		return Guard(cli, dst, Limits{MaxDepth: 64}), nil
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{"hostile:1"},
		DialCtxFn:         dial,
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		AlwaysPipelining:  true,
		Dialer:            net.Dialer{Timeout: time.Second},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

func TestGuardHostileHandshake(t *testing.T) {
	for _, p := range []string{
		"*9223372036854775807\r\n",
		"$9223372036854775807\r\n",
		"|9223372036854775807\r\n",
		"%-1\r\n",
		"$-2\r\n",
		"$?\r\n;-1\r\n",
		strings.Repeat("*1\r\n", 100000),
	} {
		err := askThroughRueidis(t, []byte(p), true)
		require.ErrorIs(t, err, ErrProtocol, "%.20q", p)
	}
}

func TestGuardHostileReply(t *testing.T) {
	for _, p := range []string{
		"*9223372036854775807\r\n",
		"+PONG\r\n+EXTRA\r\n", // a reply nobody asked for: rueidis panics "protocol bug"
		"$3\r\nabc\r\n:1\r\n",
	} {
		err := askThroughRueidis(t, []byte(p), false)
		if p == "+PONG\r\n+EXTRA\r\n" || p == "$3\r\nabc\r\n:1\r\n" {
			// The first reply may be delivered before the extra one is read.
			if err == nil {
				continue
			}
		}
		require.ErrorIs(t, err, ErrProtocol, "%q", p)
	}
	require.NoError(t, askThroughRueidis(t, []byte("+PONG\r\n"), false))
}

// FuzzGuardRueidis sends random bytes as a node's replies, at the
// handshake or to a PING, to a real rueidis client over a guarded
// connection: rueidis must end with a value or an error, never a panic
// (which would crash the test binary from rueidis's goroutine) and never
// a hang past the context.
func FuzzGuardRueidis(f *testing.F) {
	for _, c := range validReplies {
		f.Add([]byte(c.in), false)
	}
	f.Add([]byte("*9223372036854775807\r\n"), true)
	f.Add([]byte("$9223372036854775807\r\n"), false)
	f.Add([]byte("+PONG\r\n+PONG\r\n+PONG\r\n"), false)
	f.Add([]byte("%-1\r\n"), true)
	f.Fuzz(func(t *testing.T, payload []byte, atHandshake bool) {
		_ = askThroughRueidis(t, payload, atHandshake)
	})
}

// TestGuardHostilePushes: pushes rueidis would take for replies (a null
// push, a subscribe confirmation on a connection that never subscribed)
// fail the connection instead of tripping rueidis's "protocol bug" panic.
func TestGuardHostilePushes(t *testing.T) {
	for _, p := range []string{
		">-1\r\n+extra\r\n",
		">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
		">3\r\n+psubscribe\r\n+ch\r\n:1\r\n",
		">2\r\n$10\r\nssubscribe\r\n$2\r\nch\r\n",
		">?\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n.\r\n",
		">3\r\n$?\r\n;9\r\nsubscribe\r\n;0\r\n$2\r\nch\r\n:1\r\n",
	} {
		err := askThroughRueidis(t, []byte(p), false)
		require.ErrorIs(t, err, ErrProtocol, "%q", p)
	}
	// Harmless pushes pass: an invalidation, an unsubscribe notice.
	require.NoError(t, askThroughRueidis(t, []byte(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n"), false))
	require.NoError(t, askThroughRueidis(t, []byte(">3\r\n$12\r\nsunsubscribe\r\n$2\r\nch\r\n:0\r\n+PONG\r\n"), false))
}

func TestScanFirstElement(t *testing.T) {
	var got []string
	in := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n+PING\r\n*1\r\n:1\r\n*1\r\n$40\r\n" + strings.Repeat("x", 40) + "\r\n"
	for at := 0; at <= len(in); at++ {
		got = nil
		s := newScanner(Limits{}, "n", nil)
		s.firstOf = '*'
		s.first = func(content []byte, count int64, streamed bool) string {
			got = append(got, string(content))
			return ""
		}
		require.NoError(t, s.feed([]byte(in[:at])))
		require.NoError(t, s.feed([]byte(in[at:])))
		require.Equal(t, []string{"GET", "PING", "", ""}, got, "split at %d", at)
	}
}
