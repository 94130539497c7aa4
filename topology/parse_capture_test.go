package topology

// This file captures real replies into testdata/replies. It runs only with
// TOPOLOGY_CAPTURE=1 (it starts its own local cluster):
//
//	TOPOLOGY_CAPTURE=1 go test -run TestCaptureReplies -v ./topology/

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/stretchr/testify/require"
)

// rawCommand encodes a command as a RESP array of bulk strings.
func rawCommand(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// rawExchange sends one command on conn and returns the exact reply bytes,
// read until the server has been quiet for a while (capture tool only: the
// reply is not parsed here).
func rawExchange(t *testing.T, conn net.Conn, args ...string) []byte {
	t.Helper()
	_, err := conn.Write(rawCommand(args...))
	require.NoError(t, err)
	var out []byte
	buf := make([]byte, 64<<10)
	first := time.Now().Add(3 * time.Second)
	require.NoError(t, conn.SetReadDeadline(first))
	for {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() && len(out) > 0 {
				return out
			}
			require.NoError(t, err)
		}
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	}
}

// captureAll saves CLUSTER SHARDS/SLOTS/NODES of node n in RESP2 and RESP3.
func captureAll(t *testing.T, addr, shape string) {
	t.Helper()
	dir := filepath.Join("testdata", "replies")
	for _, proto := range []string{"2", "3"} {
		conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
		require.NoError(t, err)
		hello := rawExchange(t, conn, "HELLO", proto)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hello"+proto+".resp"), hello, 0o644))
		for _, cmd := range []string{"SHARDS", "SLOTS", "NODES"} {
			reply := rawExchange(t, conn, "CLUSTER", cmd)
			name := fmt.Sprintf("%s.%s.resp%s.resp", shape, strings.ToLower(cmd), proto)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), reply, 0o644))
			t.Logf("captured %s from %s (%d bytes)", name, addr, len(reply))
		}
		// The answering address, so tests pass the same "answered".
		require.NoError(t, os.WriteFile(filepath.Join(dir, shape+".answered"), []byte(addr), 0o644))
		conn.Close()
	}
}

func TestCaptureReplies(t *testing.T) {
	if os.Getenv("TOPOLOGY_CAPTURE") != "1" {
		t.Skip("set TOPOLOGY_CAPTURE=1 to capture replies from a real cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// No automatic failover, so the failed shape stays failed until the
	// replica is told to take over.
	c, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1, NodeTimeout: 1500 * time.Millisecond,
		ExtraConfig: []string{"cluster-replica-no-failover yes"}})
	require.NoError(t, err)
	defer c.Stop()

	prims, err := c.Primaries(ctx)
	require.NoError(t, err)
	require.Len(t, prims, 3)

	// 1. Healthy 3 primaries x 1 replica.
	captureAll(t, prims[0].Addr, "healthy")

	// 2. An open slot: prims[1] migrating slot s to prims[0].
	s := uint16(0)
	for ; s < 16384; s++ {
		o, err := c.OwnerOf(ctx, s)
		require.NoError(t, err)
		if o.ID == prims[1].ID {
			break
		}
	}
	require.NoError(t, c.BeginMigration(ctx, s, prims[0]))
	captureAll(t, prims[1].Addr, "migrating")
	require.NoError(t, c.FinishMigration(ctx, s))

	// 3. A failed primary (kill -9), as seen by another primary.
	victim := prims[2]
	require.NoError(t, c.Kill(victim))
	deadline := time.Now().Add(30 * time.Second)
	for {
		reply, err := c.Do(ctx, prims[0], "CLUSTER", "NODES")
		require.NoError(t, err)
		text, _ := reply.ToString()
		if lineHasFlag(text, victim.ID, "fail") {
			break
		}
		require.True(t, time.Now().Before(deadline), "victim never marked fail")
		time.Sleep(100 * time.Millisecond)
	}
	captureAll(t, prims[0].Addr, "failed")
	// 4. After the replica took over (the failed node still listed).
	var replica *clustertest.Node
	for _, n := range c.Nodes() {
		if n.ID == victim.ID {
			continue
		}
		reply, err := c.Do(ctx, n, "CLUSTER", "NODES")
		require.NoError(t, err)
		text, _ := reply.ToString()
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && strings.Contains(f[2], "myself") && f[3] == victim.ID {
				replica = n
			}
		}
	}
	require.NotNil(t, replica)
	_, err = c.Do(ctx, replica, "CLUSTER", "FAILOVER", "TAKEOVER")
	require.NoError(t, err)
	deadline = time.Now().Add(30 * time.Second)
	for {
		ps, err := c.Primaries(ctx)
		require.NoError(t, err)
		if len(ps) == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no failover")
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	captureAll(t, prims[0].Addr, "failedover")
}

func lineHasFlag(text, id, flag string) bool {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 2 && f[0] == id {
			for _, fl := range strings.Split(f[2], ",") {
				if fl == flag {
					return true
				}
			}
		}
	}
	return false
}

func TestCaptureHostnameReplies(t *testing.T) {
	if os.Getenv("TOPOLOGY_CAPTURE") != "1" {
		t.Skip("set TOPOLOGY_CAPTURE=1 to capture replies from a real cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1,
		ExtraConfig: []string{"cluster-announce-hostname localhost", "cluster-preferred-endpoint-type hostname"}})
	require.NoError(t, err)
	defer c.Stop()
	prims, err := c.Primaries(ctx)
	require.NoError(t, err)
	captureAll(t, prims[0].Addr, "hostname")
}
