package router_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// benchSnapshot is a 3-shard snapshot (one replica each) built without
// I/O.
func benchSnapshot(b testing.TB) *topology.Snapshot {
	b.Helper()
	var shards []topology.Shard
	per := slots.Count / 3
	for i := range 3 {
		end := (i+1)*per - 1
		if i == 2 {
			end = slots.Count - 1
		}
		shards = append(shards, topology.Shard{
			ID: fmt.Sprintf("shard-%d", i),
			Primary: &topology.Node{
				ID: fmt.Sprintf("%040d", 2*i+1), Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i),
				Role: topology.RolePrimary, Health: topology.HealthOnline,
			},
			Replicas: []*topology.Node{{
				ID: fmt.Sprintf("%040d", 2*i+2), Addr: fmt.Sprintf("127.0.0.1:%d", 7003+i),
				Role: topology.RoleReplica, Health: topology.HealthOnline,
			}},
			Ranges: []slots.Range{{Start: slots.Slot(i * per), End: slots.Slot(end)}},
		})
	}
	s, err := topology.NewSnapshot(shards, topology.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkRoute(b *testing.B) {
	s := benchSnapshot(b)
	t := router.DefaultTable()
	mget := []string{"MGET"}
	for i := range 10 {
		mget = append(mget, fmt.Sprintf("{user:42}:field:%d", i))
	}
	cases := []struct {
		name   string
		policy router.ReadPolicy
		args   []string
	}{
		{"GET", router.ReadPrimary, []string{"GET", "user:42:name"}},
		{"GET/PreferReplica", router.PreferReplica, []string{"GET", "user:42:name"}},
		{"SET", router.ReadPrimary, []string{"SET", "user:42:name", "value"}},
		{"MGET10", router.ReadPrimary, mget},
		{"EVAL2", router.ReadPrimary, []string{"EVAL", "return 1", "2", "{k}a", "{k}b", "arg"}},
		{"XREAD", router.ReadPrimary, []string{"XREAD", "COUNT", "10", "STREAMS", "{s}1", "{s}2", "0", "0"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, n, err := router.Route(s, t, c.policy, c.args...)
				if err != nil || n.Addr() == "" {
					b.Fatal(err)
				}
			}
		})
	}
	// The same GET from every P at once: Route writes no shared memory,
	// so it scales with the cores.
	b.Run("GET/parallel", func(b *testing.B) {
		b.ReportAllocs()
		args := []string{"GET", "user:42:name"}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, n, err := router.Route(s, t, router.ReadPrimary, args...); err != nil || n.Addr() == "" {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkDoGet compares a GET through the router with a GET on a plain
// rueidis single client connected to the node that owns the key: the
// difference is the cost of routing.
func BenchmarkDoGet(b *testing.B) {
	cl := clustertest.Need(b, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const key = "bench:get"
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(key)))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cl.Do(ctx, owner, "SET", key, "value"); err != nil {
		b.Fatal(err)
	}
	b.Run("router", func(b *testing.B) {
		c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, "GET", key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rueidis-single", func(b *testing.B) {
		rc, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress: []string{owner.Addr}, ForceSingleClient: true, DisableCache: true, DisableRetry: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := rc.Do(ctx, rc.B().Arbitrary("GET", key).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("router-parallel", func(b *testing.B) {
		c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Do(ctx, "GET", key); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("rueidis-single-parallel", func(b *testing.B) {
		rc, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress: []string{owner.Addr}, ForceSingleClient: true, DisableCache: true, DisableRetry: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rc.Do(ctx, rc.B().Arbitrary("GET", key).Build()).Error(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
