package topology

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/slotrouter/slotrouter/slots"
)

// BenchmarkLookup measures the slot lookup the router's hot path uses
// (lookup: the snapshot's own shard, no copy); BenchmarkLookupCopy the
// exported Lookup, which hands out a copy.
func BenchmarkLookup(b *testing.B) {
	s, err := NewSnapshot(threeShards(b, false), SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sink *Shard
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sh, _ := s.lookup(slots.Slot(i & (slots.Count - 1)))
		sink = sh
	}
	if sink == nil {
		b.Fatal("no shard")
	}
}

func BenchmarkLookupCopy(b *testing.B) {
	s, err := NewSnapshot(threeShards(b, false), SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sink Shard
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink, _ = s.Lookup(slots.Slot(i & (slots.Count - 1)))
	}
	if sink.Primary == nil {
		b.Fatal("no shard")
	}
}

func BenchmarkApplyMoved(b *testing.B) {
	s, err := NewSnapshot(threeShards(b, true), SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	targets := []string{"10.0.0.1:7001", "10.0.0.1:7002"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ns, res := s.ApplyMoved(slots.Slot(i%5461), targets[i&1])
		if res.Kind != MovedToPrimary || ns == s {
			b.Fatal(res.Kind)
		}
	}
}

// shardsReply100 builds a 100-shard CLUSTER SHARDS reply (RESP3 maps) shaped
// like the captured ones: each shard 1 primary + 1 replica.
func shardsReply100() rueidis.RedisMessage {
	const n = 100
	per := slots.Count / n
	var shards []rueidis.RedisMessage
	node := func(i int, role string) rueidis.RedisMessage {
		return mock.RedisMap(map[string]rueidis.RedisMessage{
			"id":                 mock.RedisBlobString(fmt.Sprintf("%040x", i)),
			"port":               mock.RedisInt64(int64(30000 + i)),
			"ip":                 mock.RedisBlobString("10.1.2.3"),
			"endpoint":           mock.RedisBlobString("10.1.2.3"),
			"role":               mock.RedisBlobString(role),
			"replication-offset": mock.RedisInt64(123456),
			"health":             mock.RedisBlobString("online"),
		})
	}
	for i := 0; i < n; i++ {
		start, end := i*per, (i+1)*per-1
		if i == n-1 {
			end = slots.Count - 1
		}
		shards = append(shards, mock.RedisMap(map[string]rueidis.RedisMessage{
			"slots": mock.RedisArray(mock.RedisInt64(int64(start)), mock.RedisInt64(int64(end))),
			"nodes": mock.RedisArray(node(2*i, "master"), node(2*i+1, "replica")),
		}))
	}
	return mock.RedisArray(shards...)
}

func BenchmarkParseShards3(b *testing.B) {
	msg := capturedMessage(b, "healthy", "shards", true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := ParseShards(msg, "127.0.0.1:7000")
		if err != nil || len(v.Shards) != 3 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseShards100(b *testing.B) {
	msg := shardsReply100()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := ParseShards(msg, "127.0.0.1:7000")
		if err != nil || len(v.Shards) != 100 {
			b.Fatal(err, len(v.Shards))
		}
	}
}

// nodesText100 is a 100-node CLUSTER NODES text: 50 primaries, 50 replicas.
func nodesText100() string {
	var sb strings.Builder
	per := slots.Count / 50
	for i := 0; i < 50; i++ {
		start, end := i*per, (i+1)*per-1
		if i == 49 {
			end = slots.Count - 1
		}
		flags := "master"
		if i == 0 {
			flags = "myself,master"
		}
		fmt.Fprintf(&sb, "%040x 10.1.2.3:%d@%d %s - 0 1795327061824 %d connected %d-%d\n", 2*i, 30000+2*i, 40000+2*i, flags, i+1, start, end)
		fmt.Fprintf(&sb, "%040x 10.1.2.3:%d@%d slave %040x 0 1795327061824 %d connected\n", 2*i+1, 30001+2*i, 40001+2*i, 2*i, i+1)
	}
	return sb.String()
}

func BenchmarkParseNodes100(b *testing.B) {
	text := nodesText100()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := ParseNodes(text, "10.1.2.3:30000")
		if err != nil || len(v.Shards) != 50 {
			b.Fatal(err)
		}
	}
}

func BenchmarkReconcile3Views100Shards(b *testing.B) {
	v, err := ParseShards(shardsReply100(), "127.0.0.1:7000")
	if err != nil {
		b.Fatal(err)
	}
	views := []View{v, v, v}
	prev, err := Reconcile(nil, views, ReconcileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Reconcile(prev, views, ReconcileOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
