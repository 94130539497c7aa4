package topology

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzNode serves one connection of the loader over a net.Pipe: it
// answers the handshake (HELLO with a RESP3 map, the rest +OK) unless
// atHandshake, and answers the first other command (CLUSTER SHARDS) with
// payload, then closes.
func fuzzNode(conn net.Conn, payload []byte, atHandshake bool) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(args[0])
		if atHandshake || name == "CLUSTER" {
			_, _ = conn.Write(payload)
			return
		}
		reply := "+OK\r\n"
		if name == "HELLO" {
			reply = "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"
		}
		if _, err := conn.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// fetchFromFuzzNode runs the loader's Fetch against a fuzzNode through a
// real rueidis client and returns the node's reply.
func fetchFromFuzzNode(t testing.TB, payload []byte, atHandshake bool) NodeReply {
	var wg sync.WaitGroup
	defer wg.Wait()
	opts := Options{Seeds: []string{"fuzz:1"}, NodeTimeout: time.Second, ReplyLimits: ReplyLimits{MaxDepth: 64}}
	opts.ClientOption.DialCtxFn = func(ctx context.Context, dst string, _ *net.Dialer, _ *tls.Config) (net.Conn, error) {
		cli, srv := net.Pipe()
		wg.Go(func() { fuzzNode(srv, payload, atHandshake) })
		return cli, nil
	}
	l := NewLoader(opts)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return l.Fetch(ctx, []string{"fuzz:1"})[0]
}

func TestLoaderHostileReplies(t *testing.T) {
	for _, p := range []string{
		"*9223372036854775807\r\n",
		"$9223372036854775807\r\n",
		"%-1\r\n",
		strings.Repeat("*1\r\n", 100000),
	} {
		for _, atHandshake := range []bool{true, false} {
			rep := fetchFromFuzzNode(t, []byte(p), atHandshake)
			require.ErrorIs(t, rep.Err, ErrProtocol, "%.20q at handshake %v", p, atHandshake)
		}
	}
	rep := fetchFromFuzzNode(t, []byte("*0\r\n"), false)
	require.Error(t, rep.Err, "an empty CLUSTER SHARDS with no CLUSTER NODES reply")
}

// FuzzLoaderHostileReplies feeds random bytes as a node's replies (at the
// handshake, or to CLUSTER SHARDS/NODES) through a real rueidis client to
// the topology loader: the result is a view or an error, never a panic
// and never a wait past the context.
func FuzzLoaderHostileReplies(f *testing.F) {
	f.Add([]byte("*9223372036854775807\r\n"), true)
	f.Add([]byte("*9223372036854775807\r\n"), false)
	f.Add([]byte("*0\r\n$0\r\n\r\n"), false)
	f.Add([]byte("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*0\r\n$3\r\nabc\r\n"), false)
	f.Add([]byte("-ERR unknown subcommand\r\n"), false)
	f.Add([]byte("+OK\r\n+OK\r\n+OK\r\n"), false)
	f.Fuzz(func(t *testing.T, payload []byte, atHandshake bool) {
		rep := fetchFromFuzzNode(t, payload, atHandshake)
		if rep.Err == nil && len(rep.View.Shards) == 0 && rep.View.MyID == "" {
			t.Logf("an empty view from %q", payload)
		}
	})
}
