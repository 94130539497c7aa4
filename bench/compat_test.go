package bench_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidiscompat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// The go-redis API (rueidiscompat v1.0.79, a module of its own, hence this
// nested module) over slotrouter's rueidis face, on the shared cluster:
// rueidiscompat.NewAdapter(c.Rueidis()). Each test uses keys of its own
// (compatPrefix), so they do not depend on each other or on a -count.

// compatTimeout bounds each compat test.
const compatTimeout = 20 * time.Second

// newCompat returns a router client on the shared cluster (closed when t
// ends), its go-redis face, and a context bounded by compatTimeout. opts
// (optional, at most one) are the client's options; Seeds is filled in.
func newCompat(t *testing.T, opts ...router.Options) (*router.Client, rueidiscompat.Cmdable, context.Context) {
	t.Helper()
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
	t.Cleanup(cancel)
	var o router.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Seeds = cl.Addrs()
	c, err := router.New(ctx, o)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, rueidiscompat.NewAdapter(c.Rueidis()), ctx
}

// compatPrefix returns a key prefix unique to t and this run.
func compatPrefix(t *testing.T) string {
	return fmt.Sprintf("compat:%s:%d:", t.Name(), time.Now().UnixNano())
}

// spreadKeys returns n keys under prefix whose slots are owned by every
// primary of the shared cluster (at least one key per primary; n >= the
// number of primaries), and checks that they are.
func spreadKeys(t *testing.T, ctx context.Context, prefix string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	ps, err := cluster.Primaries(ctx)
	require.NoError(t, err)
	owners := make(map[string]bool)
	for _, k := range keys {
		o, err := cluster.OwnerOf(ctx, uint16(slots.Of(k)))
		require.NoError(t, err)
		owners[o.Addr] = true
	}
	require.Len(t, owners, len(ps), "keys %v do not cover every primary", keys)
	return keys
}

// TestCompatStrings: SET, GET (and redis.Nil), INCR, SETNX, GETDEL,
// EXPIRE and TTL through the go-redis API.
func TestCompatStrings(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	k, n := p+"s", p+"n"

	require.NoError(t, rdb.Set(ctx, k, "hello", 0).Err())
	v, err := rdb.Get(ctx, k).Result()
	require.NoError(t, err)
	assert.Equal(t, "hello", v)

	_, err = rdb.Get(ctx, p+"missing").Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil)

	for i := 1; i <= 3; i++ {
		got, err := rdb.Incr(ctx, n).Result()
		require.NoError(t, err)
		assert.EqualValues(t, i, got)
	}
	got, err := rdb.IncrBy(ctx, n, 10).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 13, got)

	ok, err := rdb.SetNX(ctx, p+"nx", "first", 0).Result()
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = rdb.SetNX(ctx, p+"nx", "second", 0).Result()
	require.NoError(t, err)
	assert.False(t, ok, "SETNX of an existing key")
	v, err = rdb.Get(ctx, p+"nx").Result()
	require.NoError(t, err)
	assert.Equal(t, "first", v)

	v, err = rdb.GetDel(ctx, p+"nx").Result()
	require.NoError(t, err)
	assert.Equal(t, "first", v)
	_, err = rdb.Get(ctx, p+"nx").Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil, "GETDEL deleted it")

	ttl, err := rdb.TTL(ctx, k).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl, "no expiry yet (go-redis reports -1 as -1ns)")
	ok, err = rdb.Expire(ctx, k, time.Hour).Result()
	require.NoError(t, err)
	assert.True(t, ok)
	ttl, err = rdb.TTL(ctx, k).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 59*time.Minute)
	assert.LessOrEqual(t, ttl, time.Hour)
	ok, err = rdb.Expire(ctx, p+"missing", time.Hour).Result()
	require.NoError(t, err)
	assert.False(t, ok, "EXPIRE of a missing key")

	assert.NoError(t, rdb.Set(ctx, p+"ex", "v", time.Minute).Err())
	ttl, err = rdb.TTL(ctx, p+"ex").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 50*time.Second)
}

// TestCompatHashes: HSET, HGET, HGETALL, HINCRBY, HEXISTS, HDEL, HLEN,
// HMGET.
func TestCompatHashes(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	h := compatPrefix(t) + "h"

	n, err := rdb.HSet(ctx, h, "name", "Ada", "lang", "Go", "visits", 1).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	v, err := rdb.HGet(ctx, h, "name").Result()
	require.NoError(t, err)
	assert.Equal(t, "Ada", v)
	_, err = rdb.HGet(ctx, h, "nope").Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil)

	got, err := rdb.HIncrBy(ctx, h, "visits", 41).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 42, got)

	all, err := rdb.HGetAll(ctx, h).Result()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"name": "Ada", "lang": "Go", "visits": "42"}, all)

	vals, err := rdb.HMGet(ctx, h, "lang", "nope", "name").Result()
	require.NoError(t, err)
	assert.Equal(t, []any{"Go", nil, "Ada"}, vals)

	ok, err := rdb.HExists(ctx, h, "lang").Result()
	require.NoError(t, err)
	assert.True(t, ok)
	n, err = rdb.HDel(ctx, h, "lang", "nope").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	n, err = rdb.HLen(ctx, h).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

// TestCompatLists: LPUSH, RPUSH, LRANGE, LPOP, LLEN, and BLPOP: one that
// finds an element, one that times out on an empty list (redis.Nil after
// its 1 s timeout, the connection still usable afterwards), and one that
// waits for a push from another goroutine.
func TestCompatLists(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	l := p + "l"

	require.NoError(t, rdb.RPush(ctx, l, "b", "c").Err())
	require.NoError(t, rdb.LPush(ctx, l, "a").Err())
	items, err := rdb.LRange(ctx, l, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, items)
	v, err := rdb.LPop(ctx, l).Result()
	require.NoError(t, err)
	assert.Equal(t, "a", v)
	n, err := rdb.LLen(ctx, l).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)

	kv, err := rdb.BLPop(ctx, time.Second, l).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{l, "b"}, kv)

	empty := p + "empty"
	_, err = rdb.BLPop(ctx, time.Second, empty).Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil, "BLPOP on an empty list times out with a nil reply")
	require.NoError(t, rdb.Set(ctx, p+"after", "ok", 0).Err(), "the client works after a blocking timeout")

	// A BLPOP that waits: the push comes from another goroutine, before
	// or after BLPOP starts; either way BLPOP returns the element.
	pushed := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				pushed <- fmt.Errorf("panic: %v", r)
			}
		}()
		pushed <- rdb.RPush(ctx, p+"wait", "x").Err()
	}()
	kv, err = rdb.BLPop(ctx, 10*time.Second, p+"wait").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{p + "wait", "x"}, kv)
	require.NoError(t, <-pushed)
}

// TestCompatSets: SADD, SMEMBERS, SISMEMBER, SCARD, SREM, and SINTER of
// two sets sharing a hash tag.
func TestCompatSets(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := "{" + compatPrefix(t) + "}"
	a, b := p+"a", p+"b"

	n, err := rdb.SAdd(ctx, a, "x", "y", "z", "x").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	require.NoError(t, rdb.SAdd(ctx, b, "y", "z", "w").Err())

	m, err := rdb.SMembers(ctx, a).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"x", "y", "z"}, m)
	ok, err := rdb.SIsMember(ctx, a, "y").Result()
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = rdb.SIsMember(ctx, a, "w").Result()
	require.NoError(t, err)
	assert.False(t, ok)

	inter, err := rdb.SInter(ctx, a, b).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"y", "z"}, inter)

	n, err = rdb.SRem(ctx, a, "x", "nope").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	n, err = rdb.SCard(ctx, a).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

// TestCompatSortedSets: ZADD, ZRANGE WITHSCORES, ZSCORE, ZINCRBY, ZRANK,
// ZREM, ZCARD.
func TestCompatSortedSets(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	z := compatPrefix(t) + "z"

	n, err := rdb.ZAdd(ctx, z,
		rueidiscompat.Z{Score: 3, Member: "c"},
		rueidiscompat.Z{Score: 1, Member: "a"},
		rueidiscompat.Z{Score: 2, Member: "b"}).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)

	zs, err := rdb.ZRangeWithScores(ctx, z, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []rueidiscompat.Z{{Score: 1, Member: "a"}, {Score: 2, Member: "b"}, {Score: 3, Member: "c"}}, zs)

	s, err := rdb.ZIncrBy(ctx, z, 10, "a").Result()
	require.NoError(t, err)
	assert.InDelta(t, 11, s, 0)
	s, err = rdb.ZScore(ctx, z, "a").Result()
	require.NoError(t, err)
	assert.InDelta(t, 11, s, 0)
	r, err := rdb.ZRank(ctx, z, "a").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, r, "a is now the highest")
	_, err = rdb.ZRank(ctx, z, "nope").Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil)

	n, err = rdb.ZRem(ctx, z, "b").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	n, err = rdb.ZCard(ctx, z).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	members, err := rdb.ZRange(ctx, z, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "a"}, members)
}

// TestCompatStreams: XADD, XLEN, XRANGE, XGROUP CREATE MKSTREAM,
// XREADGROUP (a blocking form that finds entries, then one that times
// out with redis.Nil), XPENDING and XACK.
func TestCompatStreams(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	st := compatPrefix(t) + "stream"

	require.NoError(t, rdb.XGroupCreateMkStream(ctx, st, "g", "$").Err())
	var ids []string
	for i := range 3 {
		id, err := rdb.XAdd(ctx, rueidiscompat.XAddArgs{Stream: st, Values: []string{"n", strconv.Itoa(i)}}).Result()
		require.NoError(t, err)
		ids = append(ids, id)
	}
	n, err := rdb.XLen(ctx, st).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)

	msgs, err := rdb.XRange(ctx, st, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		assert.Equal(t, ids[i], m.ID)
		assert.Equal(t, map[string]any{"n": strconv.Itoa(i)}, m.Values)
	}

	// BLOCK with entries waiting: returns at once.
	res, err := rdb.XReadGroup(ctx, rueidiscompat.XReadGroupArgs{
		Group: "g", Consumer: "c1", Streams: []string{st, ">"}, Count: 10, Block: 5 * time.Second,
	}).Result()
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, st, res[0].Stream)
	require.Len(t, res[0].Messages, 3)
	assert.Equal(t, ids[0], res[0].Messages[0].ID)

	// Nothing new: a short BLOCK times out with a nil reply.
	_, err = rdb.XReadGroup(ctx, rueidiscompat.XReadGroupArgs{
		Group: "g", Consumer: "c1", Streams: []string{st, ">"}, Block: 100 * time.Millisecond,
	}).Result()
	assert.ErrorIs(t, err, rueidiscompat.Nil)

	pend, err := rdb.XPending(ctx, st, "g").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, pend.Count)
	n, err = rdb.XAck(ctx, st, "g", ids...).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	// (XPENDING's summary of an empty list has nil IDs, which
	// rueidiscompat v1.0.79 turns into redis.Nil: ask for the entries.)
	ext, err := rdb.XPendingExt(ctx, rueidiscompat.XPendingExtArgs{Stream: st, Group: "g", Start: "-", End: "+", Count: 10}).Result()
	require.NoError(t, err)
	assert.Empty(t, ext)
}

// TestCompatScripts: EVAL with keys on every primary; EVALSHA of a script
// no node knows is NOSCRIPT, and rueidiscompat's Script.Run falls back to
// EVAL; SCRIPT LOAD (which rueidiscompat sends to every primary through
// Nodes(), after a ROLE to each node) then lets EVALSHA run on every
// shard, and SCRIPT EXISTS (every primary too) sees it.
func TestCompatScripts(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	keys := spreadKeys(t, ctx, p, 12)

	const incr = `return redis.call("INCRBY", KEYS[1], ARGV[1])`
	for _, k := range keys {
		v, err := rdb.Eval(ctx, incr, []string{k}, 5).Int64()
		require.NoError(t, err, k)
		assert.EqualValues(t, 5, v, k)
	}

	// A script no node has seen: its text is unique to this run.
	src := fmt.Sprintf("-- %s\nreturn {KEYS[1], ARGV[1]}", p)
	script := rueidiscompat.NewScript(src)
	err := rdb.EvalSha(ctx, script.Hash(), []string{keys[0]}, "a").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NOSCRIPT")
	for _, k := range keys {
		v, err := script.Run(ctx, rdb, []string{k}, "a").StringSlice()
		require.NoError(t, err, k)
		assert.Equal(t, []string{k, "a"}, v)
	}

	src2 := fmt.Sprintf("-- %s loaded\nreturn redis.call('GET', KEYS[1])", p)
	sha, err := rdb.ScriptLoad(ctx, src2).Result()
	require.NoError(t, err)
	assert.Equal(t, rueidiscompat.NewScript(src2).Hash(), sha)
	exists, err := rdb.ScriptExists(ctx, sha).Result()
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, exists, "loaded on every primary")
	for _, k := range keys {
		v, err := rdb.EvalSha(ctx, sha, []string{k}).Text()
		require.NoError(t, err, k)
		assert.Equal(t, "5", v, k)
	}
}

// TestCompatPipelined: one Pipelined batch of SETs and GETs over keys of
// every primary; the results come back in the caller's order, with the
// nil reply of a missing key as that command's redis.Nil.
func TestCompatPipelined(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	keys := spreadKeys(t, ctx, p, 20)

	cmds, err := rdb.Pipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
		for i, k := range keys {
			pipe.Set(ctx, k, "v"+strconv.Itoa(i), 0)
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, cmds, len(keys))

	var gets []*rueidiscompat.StringCmd
	var incrs []*rueidiscompat.IntCmd
	cmds, err = rdb.Pipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
		for _, k := range keys {
			gets = append(gets, pipe.Get(ctx, k))
			incrs = append(incrs, pipe.Incr(ctx, k+":n"))
		}
		pipe.Get(ctx, p+"missing")
		return nil
	})
	assert.ErrorIs(t, err, rueidiscompat.Nil, "Exec returns the first error: the missing key's")
	require.Len(t, cmds, 2*len(keys)+1)
	for i := range keys {
		v, err := gets[i].Result()
		require.NoError(t, err)
		assert.Equal(t, "v"+strconv.Itoa(i), v)
		n, err := incrs[i].Result()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
	}
	assert.ErrorIs(t, cmds[len(cmds)-1].Err(), rueidiscompat.Nil)
}

// TestCompatTxPipelined: TxPipelined (MULTI ... EXEC through DoMulti) on
// keys sharing a hash tag: the queued commands' results are those of the
// EXEC, in order. A transaction whose keys are in different slots fails
// with an error (no panic) and writes nothing.
func TestCompatTxPipelined(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := "{" + compatPrefix(t) + "}"

	var incr *rueidiscompat.IntCmd
	var get *rueidiscompat.StringCmd
	cmds, err := rdb.TxPipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
		pipe.Set(ctx, p+"a", "1", 0)
		incr = pipe.IncrBy(ctx, p+"a", 41)
		pipe.HSet(ctx, p+"h", "f", "v")
		get = pipe.Get(ctx, p+"a")
		return nil
	})
	require.NoError(t, err)
	require.Len(t, cmds, 4)
	n, err := incr.Result()
	require.NoError(t, err)
	assert.EqualValues(t, 42, n)
	v, err := get.Result()
	require.NoError(t, err)
	assert.Equal(t, "42", v)
	hv, err := rdb.HGet(ctx, p+"h", "f").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", hv)

	// Different slots in one transaction: refused, nothing written.
	x, y := compatPrefix(t)+"x", compatPrefix(t)+"y:other"
	for slots.Of(x) == slots.Of(y) {
		y += "!"
	}
	_, err = rdb.TxPipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
		pipe.Set(ctx, x, "1", 0)
		pipe.Set(ctx, y, "1", 0)
		return nil
	})
	require.Error(t, err)
	t.Logf("cross-slot TxPipelined: %v", err)
	for _, k := range []string{x, y} {
		_, err := rdb.Get(ctx, k).Result()
		assert.ErrorIs(t, err, rueidiscompat.Nil, "%s must not be written", k)
	}
}

// TestCompatKeysAcrossSlots: single-key commands on keys of every
// primary (SET, GET, EXISTS, TYPE, DEL one key at a time); KEYS and
// DBSIZE, which rueidiscompat sends to every primary itself (Nodes(), a
// ROLE to each node, then the command to the primaries), finding all of
// the keys; and ForEachMaster visiting each primary once. (The package's
// tests run one at a time, so DBSIZE moves only by this test's keys.)
func TestCompatKeysAcrossSlots(t *testing.T) {
	c, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	keys := spreadKeys(t, ctx, p, 30)

	before, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	for i, k := range keys {
		require.NoError(t, rdb.Set(ctx, k, strconv.Itoa(i), 0).Err(), k)
	}
	after, err := rdb.DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, before+int64(len(keys)), after, "DBSIZE summed over every primary")
	for i, k := range keys {
		v, err := rdb.Get(ctx, k).Result()
		require.NoError(t, err, k)
		assert.Equal(t, strconv.Itoa(i), v)
		n, err := rdb.Exists(ctx, k).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, k)
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, "string", typ)
	}

	found, err := rdb.Keys(ctx, p+"*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, keys, found, "KEYS on every primary")

	ps, err := cluster.Primaries(ctx)
	require.NoError(t, err)
	visited := make(chan string, 2*len(c.Rueidis().Nodes()))
	require.NoError(t, rdb.ForEachMaster(ctx, func(ctx context.Context, m rueidiscompat.Cmdable) error {
		nodes, err := m.ClusterNodes(ctx).Result()
		for _, line := range strings.Split(nodes, "\n") {
			if f := strings.Fields(line); len(f) > 2 && strings.Contains(f[2], "myself") {
				// RESP3 gives CLUSTER NODES as a verbatim string, whose
				// "txt:" format prefix rueidiscompat keeps.
				visited <- strings.TrimPrefix(f[0], "txt:")
			}
		}
		return err
	}))
	close(visited)
	var ids, want []string
	for id := range visited {
		ids = append(ids, id)
	}
	for _, n := range ps {
		want = append(want, n.ID)
	}
	assert.ElementsMatch(t, want, ids)

	for _, k := range keys {
		n, err := rdb.Del(ctx, k).Result()
		require.NoError(t, err, k)
		assert.EqualValues(t, 1, n, k)
	}
	found, err = rdb.Keys(ctx, p+"*").Result()
	require.NoError(t, err)
	assert.Empty(t, found)
}

// TestCompatCrossSlotRefusedStrict: with Options.StrictCrossSlot, an
// MGET whose keys are in different slots comes back from the go-redis
// API as slotrouter's *router.CrossSlotError, not as a panic (rueidis's
// own cluster builder panics on such a command).
func TestCompatCrossSlotRefusedStrict(t *testing.T) {
	_, rdb, ctx := newCompat(t, router.Options{StrictCrossSlot: true})
	p := compatPrefix(t)
	keys := spreadKeys(t, ctx, p, 6)

	err := rdb.MGet(ctx, keys...).Err()
	var cse *router.CrossSlotError
	require.True(t, errors.As(err, &cse), "want *router.CrossSlotError, got %T %v", err, err)
	assert.ErrorIs(t, err, router.ErrCrossSlot)
	_, isRedis := rueidis.IsRedisErr(err)
	assert.False(t, isRedis, "refused before anything was sent")
}
