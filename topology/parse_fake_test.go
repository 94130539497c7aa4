package topology

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// replyFile reads a captured reply from testdata/replies. A missing file
// fails the test with Errorf (safe from a fake server's goroutine) and reads
// as a Redis error reply.
func replyFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replies", name))
	if err != nil {
		t.Errorf("captured reply: %v", err)
		return []byte("-ERR test: " + err.Error() + "\r\n")
	}
	return b
}

// answeredOf returns the address the captured shape was taken from.
func answeredOf(t testing.TB, shape string) string {
	return strings.TrimSpace(string(replyFile(t, shape+".answered")))
}

// readCommand reads one client command: a RESP array of bulk strings, the
// only thing clients send. Test-only: it never sees server replies.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 1 || n > 64 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		h = strings.TrimRight(h, "\r\n")
		if !strings.HasPrefix(h, "$") {
			return nil, fmt.Errorf("not a bulk string: %q", h)
		}
		size, err := strconv.Atoi(h[1:])
		if err != nil || size < 0 || size > 1<<20 {
			return nil, fmt.Errorf("bad bulk length %q", h)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// decodeReply turns captured reply bytes into a rueidis.RedisMessage the
// honest way: the fake server (fakeRedis, with the captured HELLO reply of
// the same protocol) answers a real rueidis client's CLUSTER REPLY with the
// exact bytes.
func decodeReply(t testing.TB, payload []byte, resp3 bool) rueidis.RedisMessage {
	t.Helper()
	f := startFakeRedis(t, "")
	defer f.stop()
	f.mu.Lock()
	f.payload = payload
	f.mu.Unlock()
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{f.addr()},
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		AlwaysRESP2:       !resp3,
		ConnWriteTimeout:  5 * time.Second,
	})
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := client.Do(ctx, client.B().Arbitrary("CLUSTER", "REPLY").Build()).ToMessage()
	if err != nil {
		// A Redis error reply is still a message worth handing to a parser.
		if _, ok := rueidis.IsRedisErr(err); !ok {
			require.NoError(t, err, fmt.Sprintf("decoding %d bytes", len(payload)))
		}
	}
	return msg
}

// capturedMessage decodes testdata/replies/<shape>.<cmd>.resp<proto>.resp.
func capturedMessage(t testing.TB, shape, cmd string, resp3 bool) rueidis.RedisMessage {
	proto := "2"
	if resp3 {
		proto = "3"
	}
	return decodeReply(t, replyFile(t, fmt.Sprintf("%s.%s.resp%s.resp", shape, cmd, proto)), resp3)
}

func TestDecodeReplyFakeServer(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		msg := capturedMessage(t, "healthy", "shards", resp3)
		arr, err := msg.ToArray()
		require.NoError(t, err)
		require.Len(t, arr, 3)
		if resp3 {
			require.True(t, arr[0].IsMap())
		} else {
			require.True(t, arr[0].IsArray())
		}
		nodes := capturedMessage(t, "healthy", "nodes", resp3)
		text, err := nodes.ToString()
		require.NoError(t, err)
		require.Contains(t, text, "myself")
		// rueidis keeps the RESP3 verbatim format prefix; ParseNodes drops it.
		require.Equal(t, resp3, strings.HasPrefix(text, "txt:"))
	}
}
