package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/slotrouter/slotrouter/internal/clustertest"
)

var cluster *clustertest.Cluster

// TestMain starts a three-primary cluster; goleak ignores the two
// rueidis cluster-client goroutines that can outlive Close briefly (see
// bench/main_test.go).
func TestMain(m *testing.M) {
	clustertest.Main(m, clustertest.Options{Primaries: 3}, &cluster,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}

func TestSlotloadEveryClient(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := strings.Join(cl.Addrs(), ",")
	for _, client := range []string{"slotrouter", "rueidis", "go-redis"} {
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"-addr", addr, "-client", client, "-duration", "500ms", "-workers", "8", "-json", "-live", "on"}, &out, &errOut, false)
		require.Equal(t, 0, code, "%s: %s", client, errOut.String())
		var r result
		require.NoError(t, json.Unmarshal(out.Bytes(), &r), out.String())
		assert.Equal(t, client, r.Client)
		assert.Positive(t, r.Ops, client)
		assert.Zero(t, r.Errors, "%s: %v", client, r.ByClass)
		assert.Positive(t, r.P99, client)
	}
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"-addr", addr, "-duration", "300ms", "-workload", "mixed-40-40-20", "-pipeline", "10"}, &out, &errOut, false)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "ops/s; latency p50")
}

func TestSlotloadUsage(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{},
		{"-addr", "nonsense"},
		{"-addr", "127.0.0.1:1", "-workload", "nope"},
		{"-addr", "127.0.0.1:1", "-duration", "0s"},
		{"-addr", "127.0.0.1:1", "-workers", "0"},
		{"-addr", "127.0.0.1:1", "-client", "jedis"},
		{"-addr", "127.0.0.1:1", "-client", "rueidis", "-pipeline", "5"},
		{"-addr", "127.0.0.1:1", "-live", "maybe"},
		{"-addr", "127.0.0.1:1", "extra"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(ctx, args, &out, &errOut, false), "%q", args)
		assert.Contains(t, errOut.String(), "slotload", "%q", args)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run(ctx, []string{"-h"}, &out, &errOut, false))
}
