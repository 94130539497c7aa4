package router_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeNode is a tiny RESP2 server for tests of the redirect loop. It
// refuses HELLO (so rueidis falls back to RESP2), answers the handshake,
// PING and the topology commands, and passes every other command to
// handle, which returns the raw reply ("+OK\r\n", "-MOVED ...\r\n") or
// "" to close the connection without a reply.
type fakeNode struct {
	ln     net.Listener
	addr   string
	id     string
	handle func(conn *fakeConn, args []string) string

	// topology: every fake node of the group, and the slot ranges each
	// owns (set by fakeCluster).
	group *fakeGroup

	accepted atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]bool
	calls    map[string]int64
	wg       sync.WaitGroup
}

// fakeConn is one client connection of a fakeNode.
type fakeConn struct {
	asking   bool
	readonly bool
}

// fakeGroup is a set of fake nodes forming a cluster: node i owns the
// slot range ranges[i].
type fakeGroup struct {
	nodes  []*fakeNode
	ranges [][2]int
}

// newFakeGroup starts n fake nodes, splitting the slots evenly between
// them, and stops them at the end of the test.
func newFakeGroup(t testing.TB, n int) *fakeGroup {
	t.Helper()
	g := &fakeGroup{}
	per := 16384 / n
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f := &fakeNode{
			ln:    ln,
			addr:  ln.Addr().String(),
			id:    fmt.Sprintf("%040d", i+1),
			group: g,
			conns: map[net.Conn]bool{},
			calls: map[string]int64{},
		}
		f.handle = func(*fakeConn, []string) string { return "+OK\r\n" }
		hi := (i+1)*per - 1
		if i == n-1 {
			hi = 16383
		}
		g.nodes = append(g.nodes, f)
		g.ranges = append(g.ranges, [2]int{i * per, hi})
	}
	for _, f := range g.nodes {
		f.wg.Add(1)
		go f.serve()
		t.Cleanup(f.close)
	}
	return g
}

// owner returns the fake node that owns slot.
func (g *fakeGroup) owner(slot int) *fakeNode {
	for i, r := range g.ranges {
		if slot >= r[0] && slot <= r[1] {
			return g.nodes[i]
		}
	}
	return nil
}

func (g *fakeGroup) seeds() []string {
	var s []string
	for _, f := range g.nodes {
		s = append(s, f.addr)
	}
	return s
}

func (f *fakeNode) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.accepted.Add(1)
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serveConn(c)
	}
}

// setHandle replaces the handler of data commands.
func (f *fakeNode) setHandle(h func(conn *fakeConn, args []string) string) {
	f.mu.Lock()
	f.handle = h
	f.mu.Unlock()
}

// count returns how many times the command name (upper case) was received.
func (f *fakeNode) count(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeNode) serveConn(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	fc := &fakeConn{}
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(args[0])
		f.mu.Lock()
		f.calls[name]++
		f.mu.Unlock()
		var reply string
		switch {
		case name == "HELLO":
			reply = "-ERR unknown command 'HELLO', with args beginning with: \r\n"
		case name == "CLIENT" || name == "AUTH" || name == "SELECT":
			reply = "+OK\r\n"
		case name == "PING":
			reply = "+PONG\r\n"
		case name == "READONLY":
			fc.readonly = true
			reply = "+OK\r\n"
		case name == "ASKING":
			fc.asking = true
			reply = "+OK\r\n"
		case name == "CLUSTER" && len(args) > 1:
			reply = f.clusterReply(strings.ToUpper(args[1]))
		case name == "COMMAND":
			reply = "-ERR unknown command 'COMMAND'\r\n"
		default:
			f.mu.Lock()
			h := f.handle
			f.mu.Unlock()
			reply = h(fc, args)
			fc.asking = false
		}
		if reply == "" {
			return // drop the connection: no reply
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// clusterReply answers CLUSTER SLOTS and CLUSTER NODES from the group;
// CLUSTER SHARDS is refused as by Redis 6.
func (f *fakeNode) clusterReply(sub string) string {
	g := f.group
	switch sub {
	case "SLOTS":
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(g.nodes))
		for i, n := range g.nodes {
			host, port, _ := net.SplitHostPort(n.addr)
			fmt.Fprintf(&b, "*3\r\n:%d\r\n:%d\r\n*3\r\n$%d\r\n%s\r\n:%s\r\n$40\r\n%s\r\n",
				g.ranges[i][0], g.ranges[i][1], len(host), host, port, n.id)
		}
		return b.String()
	case "NODES":
		var b strings.Builder
		for i, n := range g.nodes {
			flags := "master"
			if n == f {
				flags = "myself,master"
			}
			_, port, _ := net.SplitHostPort(n.addr)
			p, _ := strconv.Atoi(port)
			fmt.Fprintf(&b, "%s %s@%d %s - 0 0 %d connected %d-%d\n", n.id, n.addr, p+10000, flags, i+1, g.ranges[i][0], g.ranges[i][1])
		}
		s := b.String()
		return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s)
	}
	return "-ERR unknown subcommand '" + sub + "'. Try CLUSTER HELP.\r\n"
}

func (f *fakeNode) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// readCommand reads one RESP array of bulk strings (or an inline command).
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "*") {
		f := strings.Fields(line)
		if len(f) == 0 {
			return nil, fmt.Errorf("empty inline command")
		}
		return f, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n <= 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, 0, n)
	for range n {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		h = strings.TrimRight(h, "\r\n")
		if !strings.HasPrefix(h, "$") {
			return nil, fmt.Errorf("bad bulk header %q", h)
		}
		l, err := strconv.Atoi(h[1:])
		if err != nil || l < 0 || l > 1<<26 {
			return nil, fmt.Errorf("bad bulk length %q", h)
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:l]))
	}
	return args, nil
}
