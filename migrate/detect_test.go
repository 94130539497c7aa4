package migrate

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

func TestParseInfoServer(t *testing.T) {
	for _, tc := range []struct{ text, server, version string }{
		{"# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n", "redis", "7.0.15"},
		{"txt:# Server\r\nredis_version:8.4.0\r\n", "redis", "8.4.0"},
		{"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.0.0\r\n", "valkey", "9.0.0"},
		{"", "redis", ""},
	} {
		s, v := parseInfoServer(tc.text)
		require.Equal(t, tc.server, s, tc.text)
		require.Equal(t, tc.version, v, tc.text)
	}
}

// commandEntry is the start of a COMMAND INFO entry: name, arity, flags,
// key positions.
func commandEntry(name string) rueidis.RedisMessage {
	return mock.RedisArray(mock.RedisBlobString(name), mock.RedisInt64(-3),
		mock.RedisArray(mock.RedisString("admin")), mock.RedisInt64(0), mock.RedisInt64(0), mock.RedisInt64(0))
}

func TestParseCommandInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  rueidis.RedisMessage
		want string
	}{
		{"redis 7.0: both unknown", mock.RedisArray(mock.RedisNil(), mock.RedisNil()), ""},
		{"valkey 9", mock.RedisArray(commandEntry("cluster|migrateslots"), mock.RedisNil()), "CLUSTER MIGRATESLOTS"},
		{"redis 8.4", mock.RedisArray(mock.RedisNil(), commandEntry("cluster|migration")), "CLUSTER MIGRATION"},
		{"wrong name ignored", mock.RedisArray(commandEntry("cluster|nodes"), mock.RedisNil()), ""},
		{"not an array", mock.RedisString("OK"), ""},
		{"empty entry", mock.RedisArray(mock.RedisArray(), mock.RedisNil()), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, parseCommandInfo(tc.msg))
		})
	}
	require.Equal(t, atomicValkey, Capability{Atomic: "CLUSTER MIGRATESLOTS"}.kind())
	require.Equal(t, atomicRedis, Capability{Atomic: "CLUSTER MIGRATION"}.kind())
	require.Equal(t, atomicNone, Capability{}.kind())
}

func TestAtomicCommand(t *testing.T) {
	rs := []slots.Range{{Start: 0, End: 9}, {Start: 20, End: 20}}
	args, toTarget := atomicCommand(atomicValkey, "tid", rs)
	require.False(t, toTarget)
	require.Equal(t, []string{"CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", "0", "9", "20", "20", "NODE", "tid"}, args)
	args, toTarget = atomicCommand(atomicRedis, "tid", rs)
	require.True(t, toTarget)
	require.Equal(t, []string{"CLUSTER", "MIGRATION", "IMPORT", "0", "9", "20", "20"}, args)
	require.Equal(t, rs, rangesOf([]slots.Slot{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20}))
}

// TestDetectLive asks the real server (7.0 here): no atomic migration, so
// ModeAuto falls back to the key-by-key path (every other live test runs
// it), and ModeAtomic refuses with ErrAtomicUnsupported before moving
// anything.
func TestDetectLive(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: c.Addrs()[:1], ForceSingleClient: true, DisableCache: true})
	require.NoError(t, err)
	defer cl.Close()
	capab, err := Detect(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, "redis", capab.Server)
	require.NotEmpty(t, capab.Version)
	require.Empty(t, capab.Atomic, "redis %s offers no atomic slot migration", capab.Version)

	l := layoutOf(t, ctx, c)
	p, err := reshard(l, 3)
	require.NoError(t, err)
	_, err = Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Mode: ModeAtomic})
	require.ErrorIs(t, err, ErrAtomicUnsupported)
	requireNoOpenSlot(t, ctx, c)
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Mode: ModeAuto})
	require.NoError(t, err)
	require.Equal(t, 3, res.Slots)
	require.Zero(t, res.AtomicSlots)
}

func TestOptionsValidation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Seeds"},
		{Options{Seeds: []string{""}}, "Seeds"},
		{Options{Seeds: []string{"127.0.0.1:1"}, Parallel: -1}, "Parallel"},
		{Options{Seeds: []string{"127.0.0.1:1"}, KeysPerBatch: -1}, "KeysPerBatch"},
		{Options{Seeds: []string{"127.0.0.1:1"}, SlotsPerRound: 20000}, "SlotsPerRound"},
		{Options{Seeds: []string{"127.0.0.1:1"}, MigrateTimeout: time.Microsecond}, "MigrateTimeout"},
		{Options{Seeds: []string{"127.0.0.1:1"}, DialTimeout: -1}, "DialTimeout"},
		{Options{Seeds: []string{"127.0.0.1:1"}, ConflictWait: -1}, "ConflictWait"},
		{Options{Seeds: []string{"127.0.0.1:1"}, Mode: 9}, "Mode"},
	} {
		_, err := Apply(ctx, validPlan(t), tc.o)
		require.ErrorIs(t, err, ErrInvalidOptions)
		require.Contains(t, err.Error(), tc.want)
	}
	res, err := Apply(ctx, nil, Options{Seeds: []string{"127.0.0.1:1"}})
	require.ErrorIs(t, err, ErrInvalidPlan)
	require.NotNil(t, res, "the Result is never nil")
	bad := validPlan(t)
	bad.Summary.SlotsMoved++
	_, err = Apply(ctx, bad, Options{Seeds: []string{"127.0.0.1:1"}})
	require.ErrorIs(t, err, ErrInvalidPlan)
}

// reshard plans n slots to the first node.
func reshard(l *plan.Layout, n int) (*plan.Plan, error) {
	return plan.Reshard(l, plan.ReshardRequest{Target: l.Nodes[0].ID, Slots: n})
}

// validPlan is a small valid plan for a two-node layout.
func validPlan(t *testing.T) *plan.Plan {
	t.Helper()
	l := &plan.Layout{Version: 1, Nodes: []plan.Node{
		{ID: "a", Slots: plan.Ranges{{Start: 0, End: 8191}}},
		{ID: "b", Slots: plan.Ranges{{Start: 8192, End: slots.Max}}},
	}}
	p, err := reshard(l, 10)
	require.NoError(t, err)
	return p
}

// TestApplyUnreachableSeed: a closed loopback port gives ErrUnreachable
// after the retries, quickly.
func TestApplyUnreachableSeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Apply(ctx, validPlan(t), Options{Seeds: []string{"127.0.0.1:1"}, Attempts: 2})
	require.ErrorIs(t, err, ErrUnreachable)
}
