package topology

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRedis is a tiny loopback server that answers like a cluster node with
// replies captured from a real one (testdata/replies, shapes "healthy",
// "failedover", ...). It can pretend to be a Redis before 7, which does not
// know CLUSTER SHARDS.
type fakeRedis struct {
	t      testing.TB
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	shape  string
	legacy bool
	// payload, when set, answers CLUSTER REPLY (decodeReply).
	payload []byte
	// shards, when set, answers CLUSTER SHARDS.
	shards []byte
	calls  map[string]int
	conns  map[net.Conn]bool
	closed bool
}

func startFakeRedis(t testing.TB, shape string) *fakeRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeRedis{t: t, ln: ln, shape: shape, calls: map[string]int{}, conns: map[net.Conn]bool{}}
	f.wg.Go(f.accept)
	t.Cleanup(f.stop)
	return f
}

func (f *fakeRedis) addr() string { return f.ln.Addr().String() }

func (f *fakeRedis) set(shape string, legacy bool) {
	f.mu.Lock()
	f.shape, f.legacy = shape, legacy
	f.mu.Unlock()
}

func (f *fakeRedis) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[cmd]
}

func (f *fakeRedis) stop() {
	_ = f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeRedis) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			_ = c.Close()
			return
		}
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(c) })
	}
}

func (f *fakeRedis) serve(c net.Conn) {
	defer func() {
		_ = c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		name := strings.ToUpper(strings.Join(args[:min(2, len(args))], " "))
		f.mu.Lock()
		f.calls[name]++
		shape, legacy, payload, shards := f.shape, f.legacy, f.payload, f.shards
		f.mu.Unlock()
		var reply []byte
		switch {
		case name == "HELLO 3":
			reply = replyFile(f.t, "hello3.resp")
		case strings.HasPrefix(name, "HELLO"):
			reply = replyFile(f.t, "hello2.resp")
		case strings.HasPrefix(name, "CLIENT"):
			reply = []byte("+OK\r\n")
		case name == "CLUSTER REPLY" && payload != nil:
			reply = payload
		case name == "CLUSTER SHARDS" && shards != nil:
			reply = shards
		case name == "CLUSTER SHARDS" && legacy:
			reply = []byte("-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n")
		case name == "CLUSTER SHARDS", name == "CLUSTER SLOTS", name == "CLUSTER NODES":
			reply = replyFile(f.t, shape+"."+strings.ToLower(args[1])+".resp3.resp")
		default:
			reply = []byte("-ERR unknown command\r\n")
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// toFake maps every announced address to the fake server.
func toFake(f *fakeRedis) AddrMapper { return func(string) string { return f.addr() } }

func TestLoaderFallsBackToClusterSlots(t *testing.T) {
	ctx := liveCtx(t, 10*time.Second)
	f := startFakeRedis(t, "healthy")
	f.set("healthy", true)
	l := NewLoader(Options{Seeds: []string{f.addr()}})
	defer l.Close()

	for range 2 {
		rep := l.Fetch(ctx, []string{f.addr()})
		require.Len(t, rep, 1)
		require.NoError(t, rep[0].Err)
		assert.Equal(t, SourceSlots, rep[0].View.Source)
		assert.True(t, rep[0].View.HasEpochs(), "epochs come from CLUSTER NODES")
		assert.NotZero(t, rep[0].Digest)
	}
	assert.Equal(t, 1, f.count("CLUSTER SHARDS"), "asked once, then remembered")
	assert.Equal(t, 2, f.count("CLUSTER SLOTS"))
	assert.Equal(t, 2, f.count("CLUSTER NODES"))

	s, rep, err := l.Load(ctx, nil)
	require.NoError(t, err)
	assert.True(t, rep.FromSeeds)
	assert.True(t, s.Covered())
	assert.Equal(t, []string{f.addr()}, l.Conns())
	l.Prune(func(string) bool { return false })
	assert.Empty(t, l.Conns())
}

// TestLoaderConnectionSizes: the topology's connections get small
// buffers and a small ring (wire.SmallConn covers the other cases).
func TestLoaderConnectionSizes(t *testing.T) {
	l := NewLoader(Options{Seeds: []string{"127.0.0.1:1"}, ClientOption: rueidis.ClientOption{ReadBufferEachConn: 1 << 20}})
	defer l.Close()
	assert.Equal(t, loaderReadBuffer, l.template.ReadBufferEachConn)
	assert.Equal(t, loaderWriteBuffer, l.template.WriteBufferEachConn)
	assert.Equal(t, loaderRingScale, l.template.RingScaleEachConn)
}

// manyShardsReply is a RESP3 CLUSTER SHARDS reply of n shards, each a
// primary alone (127.0.0.1, ports from 30000) with 16384/n slots.
func manyShardsReply(n int) []byte {
	var b strings.Builder
	bulk := func(s string) { fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s) }
	fmt.Fprintf(&b, "*%d\r\n", n)
	per := slots.Count / n
	for i := range n {
		last := (i+1)*per - 1
		if i == n-1 {
			last = slots.Count - 1
		}
		b.WriteString("%2\r\n")
		bulk("slots")
		fmt.Fprintf(&b, "*2\r\n:%d\r\n:%d\r\n", i*per, last)
		bulk("nodes")
		b.WriteString("*1\r\n%7\r\n")
		bulk("id")
		bulk(fmt.Sprintf("%040x", i+1))
		bulk("port")
		fmt.Fprintf(&b, ":%d\r\n", 30000+i)
		bulk("ip")
		bulk("127.0.0.1")
		bulk("endpoint")
		bulk("127.0.0.1")
		bulk("role")
		bulk("master")
		bulk("replication-offset")
		b.WriteString(":0\r\n")
		bulk("health")
		bulk("online")
	}
	return []byte(b.String())
}

// TestLoaderReadsReplyLargerThanBuffer: a CLUSTER SHARDS reply several
// times the topology connection's read buffer (a cluster of 1,000
// shards) is read whole.
func TestLoaderReadsReplyLargerThanBuffer(t *testing.T) {
	ctx := liveCtx(t, 10*time.Second)
	f := startFakeRedis(t, "healthy")
	const n = 1000
	f.shards = manyShardsReply(n)
	require.Greater(t, len(f.shards), 3*loaderReadBuffer)
	l := NewLoader(Options{Seeds: []string{f.addr()}})
	defer l.Close()
	rep := l.Fetch(ctx, []string{f.addr()})
	require.Len(t, rep, 1)
	require.NoError(t, rep[0].Err)
	require.Len(t, rep[0].View.Shards, n)
	last := rep[0].View.Shards[n-1]
	require.NotNil(t, last.Primary)
	assert.Equal(t, "127.0.0.1:30999", last.Primary.Addr)
}

func TestLoaderSnapshotFromShards(t *testing.T) {
	ctx := liveCtx(t, 10*time.Second)
	f := startFakeRedis(t, "healthy")
	l := NewLoader(Options{Seeds: []string{f.addr()}})
	defer l.Close()
	s, rep, err := l.Load(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{f.addr()}, rep.Answered)
	assert.Equal(t, SourceShards, rep.Replies[0].View.Source)
	assert.True(t, s.Covered())
	assert.Len(t, s.Nodes(), 6)
	assert.Zero(t, f.count("CLUSTER SLOTS"))
}

// TestRefresherStaleReplyCannotRollBack: a node (the fake) first answers
// with the map after a failover, then with the map from before it (real
// captured replies of one cluster): the snapshot does not go backwards.
func TestRefresherStaleReplyCannotRollBack(t *testing.T) {
	ctx := liveCtx(t, 10*time.Second)
	f := startFakeRedis(t, "failedover")
	r, err := New(ctx, Options{Seeds: []string{f.addr()}, MapAddr: toFake(f), Period: NoPeriodicRefresh, MinInterval: time.Millisecond})
	require.NoError(t, err)
	defer r.Close()
	owner := func(x slots.Slot) string {
		p, ok := r.Current().Primary(x)
		require.True(t, ok, "slot %d uncovered", x)
		return p.Announced
	}
	after := map[slots.Slot]string{16383: owner(16383), 5461: owner(5461), 0: owner(0)}
	assert.Equal(t, "127.0.0.1:22499", after[16383], "promoted replica")
	assert.Equal(t, "127.0.0.1:22115", after[5461])

	f.set("healthy", false) // the stale view: before the failover
	require.NoError(t, r.Refresh(ctx))
	for x, want := range after {
		assert.Equal(t, want, owner(x), "slot %d rolled back", x)
	}
	f.set("healthy", true) // the same, through CLUSTER SLOTS
	require.NoError(t, r.Refresh(ctx))
	for x, want := range after {
		assert.Equal(t, want, owner(x), "slot %d rolled back (CLUSTER SLOTS)", x)
	}
}

func TestLoaderNoAnswer(t *testing.T) {
	ctx := liveCtx(t, 10*time.Second)
	seeds := closedAddrs(t, 4)
	l := NewLoader(Options{Seeds: seeds, NodesPerRefresh: 3})
	_, rep, err := l.Load(ctx, nil)
	require.ErrorIs(t, err, ErrNoNodeAnswered)
	assert.True(t, rep.FromSeeds)
	assert.ElementsMatch(t, seeds, rep.Asked, "all seeds, in groups")
	assert.Empty(t, rep.Answered)
	l.Close()
	_, _, err = l.Load(ctx, nil)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestResolveSeeds(t *testing.T) {
	ctx := context.Background()
	var asked []string
	lookup := func(_ context.Context, host string) ([]string, error) {
		asked = append(asked, host)
		switch host {
		case "two.test":
			return []string{"127.0.0.1", "127.0.0.2"}, nil
		}
		return nil, errors.New("no such host")
	}
	got, err := resolveSeeds(ctx, []string{"127.0.0.1:7000", "two.test:7001", "bad.test:1", "[::1]:7002", "127.0.0.1:7000"}, lookup)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.2:7001", "[::1]:7002"}, got)
	assert.Equal(t, []string{"two.test", "bad.test"}, asked, "IP literals are not looked up")

	_, err = resolveSeeds(ctx, []string{"bad.test:1", "noport"}, lookup)
	assert.ErrorIs(t, err, ErrNoSeeds)
	assert.ErrorContains(t, err, "noport")
}

func TestNodesDigest(t *testing.T) {
	a := "id1 127.0.0.1:1@2 myself,master - 0 100 3 connected 0-100\nid2 127.0.0.1:3@4 slave id1 0 200 3 connected\n"
	b := "id2 127.0.0.1:3@4 slave id1 5 999 3 disconnected\nid1 127.0.0.1:1@2 myself,master - 7 101 3 connected 0-100\n"
	assert.Equal(t, nodesDigest(a), nodesDigest(b), "ping/pong times, link state and order do not count")
	for _, changed := range []string{
		strings.Replace(a, "0-100", "0-99", 1),                          // a slot moved
		strings.Replace(a, "slave id1 0 200 3", "slave id1 0 200 4", 1), // an epoch
		strings.Replace(a, "slave id1", "slave,fail id1", 1),            // a flag
		a + "id3 127.0.0.1:5@6 master - 0 0 5 connected\n",              // a node joined
	} {
		assert.NotEqual(t, nodesDigest(a), nodesDigest(changed), changed)
	}
}

func TestIsUnknownSubcommand(t *testing.T) {
	assert.False(t, isUnknownSubcommand(nil))
	assert.False(t, isUnknownSubcommand(errors.New("unknown subcommand")), "only server replies count")
	assert.False(t, isUnknownSubcommand(rueidis.Nil))
}

func TestPickNodesPrefersHealthy(t *testing.T) {
	bad := fakeNode(7003, 1)
	bad.Health = HealthFailed
	s, err := NewSnapshot([]Shard{
		{Primary: fakeNode(7001, 1), Replicas: []*Node{replicaOf(fakeNode(7004, 1)), bad}, Ranges: []slots.Range{{Start: 0, End: 100}}},
		{Primary: fakeNode(7002, 2), Ranges: []slots.Range{{Start: 101, End: slots.Max}}},
	}, SnapshotOptions{})
	require.NoError(t, err)
	l := NewLoader(Options{})
	defer l.Close()
	for range 20 {
		got := l.PickNodes(s, 3)
		require.Len(t, got, 3)
		assert.NotContains(t, got, "127.0.0.1:7003")
	}
	assert.Len(t, l.PickNodes(s, 10), 4)
	assert.Equal(t, "127.0.0.1:7003", l.PickNodes(s, 10)[3], "failed nodes last")
	assert.Nil(t, l.PickNodes(nil, 3))
}

func replicaOf(n *Node) *Node {
	n.Role = RoleReplica
	return n
}

// TestFetchDoesNotWaitForSilentNode: Fetch returns AnswerGrace after the
// fake node's answer; the silent node's reply is an error wrapping
// context.Canceled, and Close does not wait for its dial (10 s timeout).
func TestFetchDoesNotWaitForSilentNode(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	f := startFakeRedis(t, "healthy")
	silent := silentSeed(t)
	opts := patient(f.addr())
	l := NewLoader(opts)
	start := time.Now()
	reps := l.Fetch(ctx, []string{silent, f.addr()})
	took := time.Since(start)
	t.Logf("Fetch of a silent and a good node: %v", took)
	assert.Less(t, took, opts.NodeTimeout/2)
	require.Len(t, reps, 2)
	assert.Equal(t, silent, reps[0].Addr)
	assert.ErrorIs(t, reps[0].Err, context.Canceled)
	assert.Equal(t, f.addr(), reps[1].Addr)
	require.NoError(t, reps[1].Err)

	start = time.Now()
	l.Close()
	assert.Less(t, time.Since(start), opts.NodeTimeout/2, "Close waited for the silent node's dial")
	for _, r := range l.Fetch(ctx, []string{silent, f.addr()}) {
		assert.ErrorIs(t, r.Err, ErrClosed)
	}
}

// TestEachGroups: groups start one after the other: at once when the
// previous one failed, SeedGroupDelay later while it is silent, never once
// an answer arrived; a panic is a reply's error; ctx bounds the wait.
func TestEachGroups(t *testing.T) {
	ctx := liveCtx(t, 30*time.Second)
	l := NewLoader(Options{NodeTimeout: 10 * time.Second})
	defer l.Close()
	l.stagger = time.Hour // only failures start the next group
	var mu sync.Mutex
	var asked []string
	one := func(ctx context.Context, a string) NodeReply {
		mu.Lock()
		asked = append(asked, a)
		mu.Unlock()
		switch a {
		case "fail":
			return NodeReply{Err: errors.New("refused")}
		case "panic":
			panic("boom")
		case "silent":
			<-ctx.Done()
			return NodeReply{Err: ctx.Err()}
		}
		return NodeReply{}
	}
	reps := l.each(ctx, []string{"fail", "panic", "good", "silent", "never"}, 2, "test ", one)
	require.Len(t, reps, 4, "the last group is not started")
	assert.ErrorContains(t, reps[0].Err, "refused")
	assert.ErrorIs(t, reps[1].Err, ErrPanic)
	assert.NoError(t, reps[2].Err)
	assert.ErrorIs(t, reps[3].Err, context.Canceled, "cancelled AnswerGrace after the good answer")
	assert.NotContains(t, asked, "never")

	l.stagger = 10 * time.Millisecond // a silent group does not hold the next one
	reps = l.each(ctx, []string{"silent", "good"}, 1, "test ", one)
	require.Len(t, reps, 2)
	assert.NoError(t, reps[1].Err)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	reps = l.each(short, []string{"silent", "silent"}, 0, "test ", one)
	require.Len(t, reps, 2)
	for _, r := range reps {
		assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
	}
}

// TestLoaderNilContext: the Loader's entries refuse a nil context with an
// error, as New does (Load dereferenced it; Fetch and Probe panicked
// making a child context). No address is dialed: the port is 1 on
// loopback and nothing is sent.
func TestLoaderNilContext(t *testing.T) {
	var nilctx context.Context
	l := NewLoader(Options{Seeds: []string{"127.0.0.1:1"}})
	defer l.Close()
	assert.NotPanics(t, func() {
		_, _, err := l.Load(nilctx, nil)
		assert.ErrorIs(t, err, errNilContext)
	})
	for _, f := range []func(context.Context, []string) []NodeReply{l.Fetch, l.Probe} {
		assert.NotPanics(t, func() {
			rs := f(nilctx, []string{"127.0.0.1:1"})
			require.Len(t, rs, 1)
			assert.ErrorIs(t, rs[0].Err, errNilContext)
		})
	}
}
