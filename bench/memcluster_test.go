package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memCluster is an in-process stand-in for a cluster of three primaries,
// for measuring what the clients themselves cost: its nodes live in the
// benchmark's process and are reached over in-memory connections
// (net.Pipe), handed to every client through its dial function
// (rueidis's ClientOption.DialCtxFn), so no system
// call, no TCP stack and no redis-server shares the CPU with the client
// measured. A node answers the handshake (HELLO 3: RESP3, as Redis 6.2,
// so that the clients ask CLUSTER SLOTS), CLUSTER SLOTS and NODES, PING,
// GET (always the same 16-byte value) and SET (+OK, nothing stored). It
// serves rueidis and the clients built on it; go-redis would also want
// COMMAND, which it does not answer. Its addresses are
// 127.0.0.1 ports that nothing listens on and nothing dials: a client
// that dialled one without the dial function would be refused at once.
type memCluster struct {
	addrs  []string
	ids    []string
	ranges [][2]int

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newMemCluster returns a memCluster of three primaries that split the
// slots evenly; close ends its connections and their goroutines.
func newMemCluster() *memCluster {
	m := &memCluster{conns: map[net.Conn]struct{}{}}
	const n, per = 3, 16384 / 3
	for i := range n {
		m.addrs = append(m.addrs, fmt.Sprintf("127.0.0.1:%d", i+1))
		m.ids = append(m.ids, fmt.Sprintf("%040d", i+1))
		hi := (i+1)*per - 1
		if i == n-1 {
			hi = 16383
		}
		m.ranges = append(m.ranges, [2]int{i * per, hi})
	}
	return m
}

// dial connects to the node at dst over a new in-memory connection.
func (m *memCluster) dial(_ context.Context, dst string, _ *net.Dialer, _ *tls.Config) (net.Conn, error) {
	node := slices.Index(m.addrs, dst)
	if node < 0 {
		return nil, fmt.Errorf("memcluster: no node at %s", dst)
	}
	client, server := net.Pipe()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("memcluster: closed")
	}
	m.conns[server] = struct{}{}
	m.wg.Add(1)
	go m.serve(node, server)
	return client, nil
}

// close closes every connection and waits for their goroutines.
func (m *memCluster) close() {
	m.mu.Lock()
	m.closed = true
	for c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// memValue is the reply to every GET: the benchmarks' 16-byte value.
var memValue = []byte("$16\r\n" + value + "\r\n")

// memHello is the reply to HELLO 3: a RESP3 map, as Redis 6.2 sends it.
const memHello = "%7\r\n" +
	"$6\r\nserver\r\n$5\r\nredis\r\n" +
	"$7\r\nversion\r\n$5\r\n6.2.0\r\n" +
	"$5\r\nproto\r\n:3\r\n" +
	"$2\r\nid\r\n:1\r\n" +
	"$4\r\nmode\r\n$7\r\ncluster\r\n" +
	"$4\r\nrole\r\n$6\r\nmaster\r\n" +
	"$7\r\nmodules\r\n*0\r\n"

// serve answers the commands read from c, as node node, until c is
// closed. Replies are buffered and written when no command is left to
// read (a server's pipelining).
func (m *memCluster) serve(node int, c net.Conn) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.conns, c)
		m.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 16<<10)
	w := bufio.NewWriterSize(c, 16<<10)
	var name, sub []byte
	for {
		n, err := readArgs(r, &name, &sub)
		if err != nil {
			w.Flush() // the replies to the commands before, then hang up
			return
		}
		upperASCII(name)
		switch string(name) { // (no allocation: the switch compares in place)
		case "GET":
			w.Write(memValue)
		case "SET", "CLIENT", "AUTH", "SELECT", "READONLY", "READWRITE", "ASKING":
			w.WriteString("+OK\r\n")
		case "PING":
			w.WriteString("+PONG\r\n")
		case "HELLO":
			w.WriteString(memHello)
		case "CLUSTER":
			upperASCII(sub)
			w.WriteString(m.clusterReply(node, string(sub)))
		default:
			fmt.Fprintf(w, "-ERR unknown command '%s' (%d args)\r\n", name, n)
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// clusterReply answers CLUSTER SLOTS and CLUSTER NODES; anything else
// (CLUSTER SHARDS) is refused as by Redis 6.
func (m *memCluster) clusterReply(self int, sub string) string {
	var b bytes.Buffer
	switch sub {
	case "SLOTS":
		fmt.Fprintf(&b, "*%d\r\n", len(m.addrs))
		for i, a := range m.addrs {
			host, port, _ := net.SplitHostPort(a)
			fmt.Fprintf(&b, "*3\r\n:%d\r\n:%d\r\n*3\r\n$%d\r\n%s\r\n:%s\r\n$40\r\n%s\r\n",
				m.ranges[i][0], m.ranges[i][1], len(host), host, port, m.ids[i])
		}
	case "NODES":
		var s bytes.Buffer
		for i, a := range m.addrs {
			flags := "master"
			if i == self {
				flags = "myself,master"
			}
			_, port, _ := net.SplitHostPort(a)
			p, _ := strconv.Atoi(port)
			fmt.Fprintf(&s, "%s %s@%d %s - 0 0 %d connected %d-%d\n", m.ids[i], a, p+10000, flags, i+1, m.ranges[i][0], m.ranges[i][1])
		}
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", s.Len(), s.Bytes())
	default:
		fmt.Fprintf(&b, "-ERR unknown subcommand '%s'. Try CLUSTER HELP.\r\n", sub)
	}
	return b.String()
}

// readArgs reads one RESP array of bulk strings from r, keeping its
// first two arguments in *name and *sub (reused buffers), and returns
// how many arguments it had.
func readArgs(r *bufio.Reader, name, sub *[]byte) (int, error) {
	n, err := readHeader(r, '*')
	if err != nil {
		return 0, err
	}
	if n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("memcluster: bad array length %d", n)
	}
	*name, *sub = (*name)[:0], (*sub)[:0]
	for i := range n {
		l, err := readHeader(r, '$')
		if err != nil {
			return 0, err
		}
		if l < 0 || l > 1<<26 {
			return 0, fmt.Errorf("memcluster: bad bulk length %d", l)
		}
		switch i {
		case 0, 1:
			dst := name
			if i == 1 {
				dst = sub
			}
			if cap(*dst) < l+2 {
				*dst = make([]byte, l+2)
			}
			*dst = (*dst)[:l+2]
			if _, err := io.ReadFull(r, *dst); err != nil {
				return 0, err
			}
			*dst = (*dst)[:l]
		default:
			if _, err := r.Discard(l + 2); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// upperASCII upper-cases b's ASCII letters in place (a node's commands
// are read without allocating).
func upperASCII(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
}

// readHeader reads a line "<kind><integer>\r\n".
func readHeader(r *bufio.Reader, kind byte) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 4 || line[0] != kind || line[len(line)-2] != '\r' {
		return 0, fmt.Errorf("memcluster: bad header %q", line)
	}
	return strconv.Atoi(string(line[1 : len(line)-2]))
}

// memClientNames are the clients measured against a memCluster by
// default (SLOTROUTER_BENCH_CLIENTS may name the diagnostic ones too; not
// go-redis).
var memClientNames = []string{"rueidis", "slotrouter", "slotrouter-face"}

// eachMemClient runs fn as a sub-benchmark per client, each against its
// own memCluster, in a random order (see eachClient).
func eachMemClient(b *testing.B, fn func(b *testing.B, c client)) {
	names := benchClientsOr(b, memClientNames)
	if slices.Contains(names, "go-redis") {
		b.Fatal("go-redis is not measured against a memCluster (it wants COMMAND)")
	}
	forEachClient(b, names, func(ctx context.Context, name string) (client, func(), error) {
		m := newMemCluster()
		c, err := newClientDial(ctx, name, m.addrs, m.dial)
		if err != nil {
			m.close()
			return nil, nil, err
		}
		return c, func() { c.Close(); m.close() }, nil
	}, fn)
}

// BenchmarkMemMixed is BenchmarkMixed against a memCluster: what each
// client costs per operation when the network and the servers cost
// nothing (the goroutines' share of two cores, the clients' own work
// and rueidis's pipelines).
func BenchmarkMemMixed(b *testing.B) {
	for _, g := range []int{16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			eachMemClient(b, func(b *testing.B, c client) { mixed(b, c, g) })
		})
	}
}

// BenchmarkMemGet is BenchmarkGet against a memCluster.
func BenchmarkMemGet(b *testing.B) {
	eachMemClient(b, getLoop)
}

// TestMemCluster: every client measured against a memCluster reads the
// value back, routed to all three nodes, and the cluster refuses what it
// does not serve (an unknown address, a malformed command).
func TestMemCluster(t *testing.T) {
	for _, name := range append(slices.Clone(memClientNames), "rueidis-nodes-sr") {
		t.Run(name, func(t *testing.T) {
			m := newMemCluster()
			defer m.close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := newClientDial(ctx, name, m.addrs, m.dial)
			require.NoError(t, err)
			defer c.Close()
			for _, k := range benchKeys[:64] { // over every node
				require.NoError(t, c.Set(ctx, k, value))
				v, err := c.Get(ctx, k)
				require.NoError(t, err)
				assert.Equal(t, value, v)
			}
		})
	}
	m := newMemCluster()
	defer m.close()
	_, err := m.dial(context.Background(), "127.0.0.1:9", nil, nil)
	assert.ErrorContains(t, err, "no node at 127.0.0.1:9")

	conn, err := m.dial(context.Background(), m.addrs[0], nil, nil)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("*1\r\n$4\r\nPING\r\n*1\r\n:oops\r\n"))
	require.NoError(t, err)
	got, err := io.ReadAll(conn) // PONG, then the node hangs up
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", string(got))
}
