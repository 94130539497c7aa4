package router_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// spreadKeys returns keys of the test, per primary of cl: at least per
// keys on each of the three primaries (by the slot owners cl reports).
func spreadKeys(t *testing.T, cl *clustertest.Cluster, per int, tag string) (keys []string, owner map[string]*clustertest.Node) {
	t.Helper()
	ctx := liveCtx(t, 30*time.Second)
	owner = map[string]*clustertest.Node{}
	count := map[string]int{}
	for i := 0; i < 1000 && len(keys) < 3*per; i++ {
		k := testKey(t, tag, fmt.Sprint(i))
		n, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
		require.NoError(t, err)
		if count[n.Addr] >= per {
			continue
		}
		count[n.Addr]++
		owner[k] = n
		keys = append(keys, k)
	}
	require.Len(t, count, 3, "keys on three primaries")
	return keys, owner
}

// perKey runs args0 key for each key directly on its owner and returns
// the replies.
func perKey(t *testing.T, cl *clustertest.Cluster, owner map[string]*clustertest.Node, name string, keys []string) []rueidis.RedisMessage {
	t.Helper()
	ctx := liveCtx(t, 30*time.Second)
	out := make([]rueidis.RedisMessage, len(keys))
	for i, k := range keys {
		m, err := cl.Do(ctx, owner[k], name, k)
		if !rueidis.IsRedisNil(err) {
			require.NoError(t, err)
		}
		out[i] = m
	}
	return out
}

// msgStrings returns an array reply as strings, "<nil>" for nil elements.
func msgStrings(t *testing.T, m rueidis.RedisMessage) []string {
	t.Helper()
	arr, err := m.ToArray()
	require.NoError(t, err)
	return strs(t, arr)
}

// asInt returns a function that returns an integer reply (and fails the
// test on an error): asInt(t)(c.Do(...)).
func asInt(t *testing.T) func(m rueidis.RedisMessage, err error) int64 {
	return func(m rueidis.RedisMessage, err error) int64 {
		t.Helper()
		require.NoError(t, err)
		n, err := m.AsInt64()
		require.NoError(t, err)
		return n
	}
}

// TestMultiShardLive: MSET, MGET (duplicates and a missing key included),
// EXISTS, TOUCH, DEL and UNLINK over keys of three shards, through Do and
// through the rueidis face, give the answers the per-key commands give on
// the keys' own nodes.
func TestMultiShardLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	for _, face := range []string{"Do", "Rueidis"} {
		t.Run(face, func(t *testing.T) {
			keys, owner := spreadKeys(t, cl, 3, face)
			missing := testKey(t, "missing")
			m, err := cl.OwnerOf(ctx, uint16(slots.Of(missing)))
			require.NoError(t, err)
			owner[missing] = m
			do := func(args ...string) (rueidis.RedisMessage, error) { return c.Do(ctx, args...) }
			if face == "Rueidis" {
				r := c.Rueidis()
				do = func(args ...string) (rueidis.RedisMessage, error) {
					var cmd rueidis.Completed
					switch args[0] {
					case "MSET":
						b := r.B().Mset().KeyValue()
						for i := 1; i+1 < len(args); i += 2 {
							b = b.KeyValue(args[i], args[i+1])
						}
						cmd = b.Build()
					case "MGET":
						cmd = r.B().Mget().Key(args[1:]...).Build()
					case "EXISTS":
						cmd = r.B().Exists().Key(args[1:]...).Build()
					case "TOUCH":
						cmd = r.B().Touch().Key(args[1:]...).Build()
					case "DEL":
						cmd = r.B().Del().Key(args[1:]...).Build()
					case "UNLINK":
						cmd = r.B().Unlink().Key(args[1:]...).Build()
					default:
						t.Fatalf("no builder for %s", args[0])
					}
					return r.Do(ctx, cmd).ToMessage()
				}
			}

			mset := []string{"MSET"}
			for i, k := range keys {
				mset = append(mset, k, fmt.Sprint("v", i))
			}
			mset = append(mset, keys[0], "v0-again") // a duplicate: the last value wins, as on one node
			msg, err := do(mset...)
			require.NoError(t, err)
			s, err := msg.ToString()
			require.NoError(t, err)
			assert.Equal(t, "OK", s)
			want := []string{"v0-again"}
			for i := range keys[1:] {
				want = append(want, fmt.Sprint("v", i+1))
			}
			assert.Equal(t, want, strs(t, perKey(t, cl, owner, "GET", keys)), "each key on its node")

			// MGET a b ... a missing: the caller's order, duplicates, nil.
			mget := append(append([]string{"MGET"}, keys...), keys[0], missing, keys[4])
			msg, err = do(mget...)
			require.NoError(t, err)
			assert.Equal(t, append(append(slices.Clone(want), "v0-again", "<nil>"), want[4]), msgStrings(t, msg))

			// Counts: the sum of the per-key answers (duplicates counted,
			// as on one node).
			counted := append(append([]string{}, keys...), keys[1], missing)
			for _, name := range []string{"EXISTS", "TOUCH"} {
				var sum int64
				for _, r := range perKey(t, cl, owner, name, counted) {
					n, err := r.AsInt64()
					require.NoError(t, err)
					sum += n
				}
				require.Equal(t, int64(len(keys)+1), sum, name)
				n := asInt(t)(do(append([]string{name}, counted...)...))
				assert.Equal(t, sum, n, name)
			}
			half := keys[:5]
			n := asInt(t)(do(append([]string{"DEL", missing, half[0]}, half...)...))
			assert.Equal(t, int64(len(half)), n, "DEL counts each deleted key once")
			n = asInt(t)(do(append([]string{"UNLINK"}, keys...)...))
			assert.Equal(t, int64(len(keys)-len(half)), n)
			for _, r := range perKey(t, cl, owner, "EXISTS", keys) {
				v, _ := r.AsInt64()
				assert.Zero(t, v)
			}
		})
	}
}

// strs returns replies as strings, "<nil>" for nil.
func strs(t *testing.T, ms []rueidis.RedisMessage) []string {
	t.Helper()
	out := make([]string, len(ms))
	for i := range ms {
		if ms[i].IsNil() {
			out[i] = "<nil>"
			continue
		}
		s, err := ms[i].ToString()
		require.NoError(t, err)
		out[i] = s
	}
	return out
}

// TestMultiShardRefusedLive: StrictCrossSlot refuses a cross-slot MGET
// (both faces), MSETNX is refused whatever the option (split, it would no
// longer set all keys or none), and nothing was written.
func TestMultiShardRefusedLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	keys, owner := spreadKeys(t, cl, 1, "x")
	strict := newLiveClient(t, cl, router.Options{StrictCrossSlot: true})
	loose := newLiveClient(t, cl, router.Options{})
	var cs *router.CrossSlotError
	_, err := strict.Do(ctx, append([]string{"MGET"}, keys...)...)
	require.ErrorAs(t, err, &cs)
	assert.Len(t, cs.Keys, 3)
	err = strict.Rueidis().Do(ctx, strict.Rueidis().B().Del().Key(keys...).Build()).Error()
	assert.ErrorAs(t, err, &cs)
	for _, c := range []*router.Client{strict, loose} {
		_, err = c.Do(ctx, "MSETNX", keys[0], "1", keys[1], "2", keys[2], "3")
		assert.ErrorAs(t, err, &cs)
		r := c.Rueidis()
		err = r.Do(ctx, r.B().Msetnx().KeyValue().KeyValue(keys[0], "1").KeyValue(keys[1], "2").Build()).Error()
		assert.ErrorAs(t, err, &cs)
	}
	for _, r := range perKey(t, cl, owner, "EXISTS", keys) {
		v, _ := r.AsInt64()
		assert.Zero(t, v)
	}
	// In one slot MSETNX goes as it is.
	n, err := loose.Do(ctx, "MSETNX", "{"+keys[0]+"}a", "1", "{"+keys[0]+"}b", "2")
	assert.Equal(t, int64(1), asInt(t)(n, err))
	_, err = loose.Do(ctx, "DEL", "{"+keys[0]+"}a", "{"+keys[0]+"}b")
	require.NoError(t, err)
}

// TestFanOutLive: keyless commands whose tips say all_shards or
// all_nodes reach every primary: DBSIZE is the sum of the nodes' DBSIZE,
// KEYS the union of their KEYS, SCRIPT LOAD loads everywhere, SCRIPT
// EXISTS is the AND of the nodes' answers; through Do and the rueidis
// face.
func TestFanOutLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	keys, owner := spreadKeys(t, cl, 2, "k")
	for _, k := range keys {
		_, err := cl.Do(ctx, owner[k], "SET", k, "1")
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, k := range keys {
			_, _ = cl.Do(context.Background(), owner[k], "DEL", k)
		}
	})
	var sum int64
	var nodeKeys []string
	for _, n := range cl.Nodes() {
		sum += asInt(t)(cl.Do(ctx, n, "DBSIZE"))
		m, err := cl.Do(ctx, n, "KEYS", testKey(t, "*"))
		require.NoError(t, err)
		ks, err := m.AsStrSlice()
		require.NoError(t, err)
		nodeKeys = append(nodeKeys, ks...)
	}
	require.GreaterOrEqual(t, sum, int64(len(keys)))
	assert.ElementsMatch(t, keys, nodeKeys)

	n := asInt(t)(c.Do(ctx, "DBSIZE"))
	assert.Equal(t, sum, n, "DBSIZE is the cluster's")
	r := c.Rueidis()
	n = asInt(t)(r.Do(ctx, r.B().Dbsize().Build()).ToMessage())
	assert.Equal(t, sum, n)

	m, err := c.Do(ctx, "KEYS", testKey(t, "*"))
	require.NoError(t, err)
	got, err := m.AsStrSlice()
	require.NoError(t, err)
	assert.ElementsMatch(t, keys, got, "KEYS of every primary")
	got, err = r.Do(ctx, r.B().Keys().Pattern(testKey(t, "*")).Build()).AsStrSlice()
	require.NoError(t, err)
	assert.ElementsMatch(t, keys, got)

	script := "return '" + t.Name() + "'"
	m, err = c.Do(ctx, "SCRIPT", "LOAD", script)
	require.NoError(t, err)
	sha, err := m.ToString()
	require.NoError(t, err)
	for _, n := range cl.Nodes() {
		m, err := cl.Do(ctx, n, "SCRIPT", "EXISTS", sha)
		require.NoError(t, err)
		e, err := m.AsIntSlice()
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, e, "loaded on %s", n.Addr)
	}
	m, err = c.Do(ctx, "SCRIPT", "EXISTS", sha, "0000000000000000000000000000000000000000")
	require.NoError(t, err)
	e, err := m.AsIntSlice()
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 0}, e)
}

// TestMultiShardPartFailsLive: a part that fails gives a
// *MultiShardError naming its keys, never a partial answer, and wraps
// the part's own error: ErrUnknownOutcome for a DEL cut after it reached
// its node (the other parts were executed), a *rueidis.RedisError for a
// key the user may not read (NOPERM).
func TestMultiShardPartFailsLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	keys, owner := spreadKeys(t, cl, 1, "cut")
	for _, k := range keys {
		_, err := cl.Do(ctx, owner[k], "SET", k, "1")
		require.NoError(t, err)
	}
	victim := owner[keys[1]]
	p := newCutProxy(t, victim.Addr)
	c := newLiveClient(t, cl, router.Options{
		MapAddr: func(announced string) string {
			if announced == victim.Addr {
				return p.addr
			}
			return ""
		},
	})
	p.cutAfterSend(keys[1])
	_, err := c.Do(ctx, "DEL", keys[0], keys[1], keys[2])
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrMultiShard)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	var me *router.MultiShardError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, 3, me.Parts)
	require.Len(t, me.Failed, 1)
	assert.Equal(t, []string{keys[1]}, me.Failed[0].Keys)
	assert.Contains(t, err.Error(), keys[1])
	assert.Equal(t, int64(1), p.cuts.Load())
	for _, r := range perKey(t, cl, owner, "EXISTS", keys) {
		v, _ := r.AsInt64()
		assert.Zero(t, v, "every part ran, the cut one included")
	}

	// A user who may read only keys[0] and keys[2]: MGET's part for
	// keys[1] fails with the server's NOPERM.
	user := "ms" + fmt.Sprint(time.Now().UnixNano())
	for _, n := range cl.Nodes() {
		_, err := cl.Do(ctx, n, "ACL", "SETUSER", user, "on", ">pw", "+@all", "~"+keys[0], "~"+keys[2])
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, n := range cl.Nodes() {
			_, _ = cl.Do(context.Background(), n, "ACL", "DELUSER", user)
		}
	})
	limited := newLiveClient(t, cl, router.Options{Username: user, Password: "pw", NoLearn: true})
	for _, face := range []string{"Do", "Rueidis"} {
		var err error
		if face == "Do" {
			_, err = limited.Do(ctx, "MGET", keys[0], keys[1], keys[2])
		} else {
			r := limited.Rueidis()
			err = r.Do(ctx, r.B().Mget().Key(keys...).Build()).Error()
		}
		require.ErrorAs(t, err, &me, face)
		require.Len(t, me.Failed, 1, face)
		assert.Equal(t, []string{keys[1]}, me.Failed[0].Keys, face)
		var re *rueidis.RedisError
		require.ErrorAs(t, err, &re, face)
		assert.Contains(t, re.Error(), "NOPERM", face)
	}
}

// TestMultiShardInDoMultiLive: in DoMulti (both faces) a cross-slot MGET
// and DEL are split and DBSIZE fans out, beside the other commands, each
// result in its place; MSETNX keeps its *CrossSlotError.
func TestMultiShardInDoMultiLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	c := newLiveClient(t, cl, router.Options{})
	ctx := liveCtx(t, 30*time.Second)
	keys, owner := spreadKeys(t, cl, 1, "dm")
	var sum int64
	for _, n := range cl.Nodes() {
		sum += asInt(t)(cl.Do(ctx, n, "DBSIZE"))
	}
	sum += int64(len(keys)) // the keys MSET writes before DBSIZE is asked
	for _, face := range []string{"Do", "Rueidis"} {
		var res []router.Result
		if face == "Do" {
			res = c.DoMulti(ctx,
				router.C("SET", keys[0], "a"), router.C("SET", keys[1], "b"), router.C("SET", keys[2], "c"),
				router.C("MGET", keys[2], keys[0], keys[1]),
				router.C("GET", keys[1]),
				router.C("MSETNX", keys[0], "1", keys[1], "2"),
				router.C("DEL", keys[0], keys[1], keys[2]),
			)
		} else {
			r := c.Rueidis()
			rs := r.DoMulti(ctx,
				r.B().Set().Key(keys[0]).Value("a").Build(), r.B().Set().Key(keys[1]).Value("b").Build(), r.B().Set().Key(keys[2]).Value("c").Build(),
				r.B().Mget().Key(keys[2], keys[0], keys[1]).Build(),
				r.B().Get().Key(keys[1]).Build(),
				r.B().Msetnx().KeyValue().KeyValue(keys[0], "1").KeyValue(keys[1], "2").Build(),
				r.B().Del().Key(keys...).Build(),
			)
			for _, x := range rs {
				m, err := x.ToMessage()
				res = append(res, router.Result{Msg: m, Err: err})
			}
		}
		require.Len(t, res, 7, face)
		for i := range 3 {
			require.NoError(t, res[i].Err, face)
		}
		// The split commands run beside the pipeline: MGET may see the
		// SETs or not, but its answer is in the caller's order and whole.
		require.NoError(t, res[3].Err, face)
		got := msgStrings(t, res[3].Msg)
		require.Len(t, got, 3, face)
		for i, want := range []string{"c", "a", "b"} {
			assert.Contains(t, []string{want, "<nil>"}, got[i], face)
		}
		require.NoError(t, res[4].Err, face)
		var cs *router.CrossSlotError
		assert.ErrorAs(t, res[5].Err, &cs, face)
		n := asInt(t)(res[6].Msg, res[6].Err)
		assert.LessOrEqual(t, n, int64(3), face)
		// Now in order: everything is written, the split ones see it.
		var res2 []router.Result
		if face == "Do" {
			res2 = c.DoMulti(ctx, router.C("MSET", keys[0], "a", keys[1], "b", keys[2], "c"))
			res2 = append(res2, c.DoMulti(ctx, router.C("MGET", keys[2], keys[0], keys[1]), router.C("DBSIZE"), router.C(append([]string{"EXISTS"}, keys...)...))...)
		} else {
			r := c.Rueidis()
			for _, x := range r.DoMulti(ctx, r.B().Mset().KeyValue().KeyValue(keys[0], "a").KeyValue(keys[1], "b").KeyValue(keys[2], "c").Build()) {
				m, err := x.ToMessage()
				res2 = append(res2, router.Result{Msg: m, Err: err})
			}
			for _, x := range r.DoMulti(ctx, r.B().Mget().Key(keys[2], keys[0], keys[1]).Build(), r.B().Dbsize().Build(), r.B().Exists().Key(keys...).Build()) {
				m, err := x.ToMessage()
				res2 = append(res2, router.Result{Msg: m, Err: err})
			}
		}
		require.NoError(t, res2[0].Err, face)
		require.NoError(t, res2[1].Err, face)
		assert.Equal(t, []string{"c", "a", "b"}, msgStrings(t, res2[1].Msg), face)
		assert.Equal(t, sum, asInt(t)(res2[2].Msg, res2[2].Err), face)
		assert.Equal(t, int64(3), asInt(t)(res2[3].Msg, res2[3].Err), face)
		_, err := c.Do(ctx, append([]string{"DEL"}, keys...)...)
		require.NoError(t, err)
	}
	for _, r := range perKey(t, cl, owner, "EXISTS", keys) {
		v, _ := r.AsInt64()
		assert.Zero(t, v)
	}
}

// TestFanOutAllNodesLive runs on a private cluster with replicas: SCRIPT
// LOAD and CONFIG SET (request_policy all_nodes) reach every primary and
// every replica; FUNCTION LOAD (all_shards) reaches every primary.
func TestFanOutAllNodesLive(t *testing.T) {
	cl := startReplicaCluster(t)
	ctx := liveCtx(t, 60*time.Second)
	c := newLiveClient(t, cl, router.Options{})
	// Poll until the client's topology has an online replica per shard.
	deadline := time.Now().Add(30 * time.Second)
	for {
		online := 0
		for _, sh := range c.Topology().Current().Shards() {
			for _, r := range sh.Replicas {
				if r.Health == topology.HealthOnline {
					online++
				}
			}
		}
		if online == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "replicas online in the topology")
		require.NoError(t, c.Topology().Refresh(ctx))
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, cl.Nodes(), 6)

	m, err := c.Do(ctx, "SCRIPT", "LOAD", "return 'all nodes'")
	require.NoError(t, err)
	sha, err := m.ToString()
	require.NoError(t, err)
	_, err = c.Do(ctx, "CONFIG", "SET", "slowlog-max-len", "77")
	require.NoError(t, err)
	for _, n := range cl.Nodes() {
		m, err := cl.Do(ctx, n, "SCRIPT", "EXISTS", sha)
		require.NoError(t, err)
		e, err := m.AsIntSlice()
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, e, "script on %s", n.Addr)
		m, err = cl.Do(ctx, n, "CONFIG", "GET", "slowlog-max-len")
		require.NoError(t, err)
		kv, err := m.AsStrMap()
		require.NoError(t, err)
		assert.Equal(t, "77", kv["slowlog-max-len"], "config on %s", n.Addr)
	}
	// FUNCTION LOAD (all_shards, all_succeeded): on every primary.
	m, err = c.Do(ctx, "FUNCTION", "LOAD", "#!lua name=msl\nredis.register_function('msl', function() return 1 end)")
	require.NoError(t, err)
	lib, _ := m.ToString()
	assert.Equal(t, "msl", lib)
	primaries, err := cl.Primaries(ctx)
	require.NoError(t, err)
	require.Len(t, primaries, 3)
	for _, p := range primaries {
		m, err := cl.Do(ctx, p, "FCALL", "msl", "0")
		require.NoError(t, err, "function on %s", p.Addr)
		assert.Equal(t, int64(1), asInt(t)(m, err))
	}
}

// BenchmarkMultiShardMGet reads 12 keys of three shards: one MGET split
// per slot by the client, the same keys as 12 GETs in one DoMulti, and
// for scale an MGET of 12 keys that share a hash tag (one node).
func BenchmarkMultiShardMGet(b *testing.B) {
	cl := clustertest.Need(b, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := router.New(ctx, router.Options{Seeds: cl.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var spread, tagged []string
	nodes := map[string]int{}
	for i := 0; len(spread) < 12; i++ {
		k := fmt.Sprint("bench:ms:", i)
		_, n, err := c.Route("GET", k)
		if err != nil {
			b.Fatal(err)
		}
		if nodes[n.Addr()] < 4 {
			nodes[n.Addr()]++
			spread = append(spread, k)
			tagged = append(tagged, fmt.Sprint("{bench:ms}:", i))
		}
	}
	gets := make([]router.Cmd, len(spread))
	for i, k := range spread {
		gets[i] = router.C("GET", k)
		if _, err := c.Do(ctx, "SET", k, "value"); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Do(ctx, "SET", tagged[i], "value"); err != nil {
			b.Fatal(err)
		}
	}
	mget := append([]string{"MGET"}, spread...)
	b.Run("split-MGET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, mget...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DoMulti-GETs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range c.DoMulti(ctx, gets...) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
	})
	tmget := append([]string{"MGET"}, tagged...)
	b.Run("one-slot-MGET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, tmget...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFanOutWriteCutLive: a keyless write fanned out to every primary
// (SCRIPT LOAD) whose connection to one node breaks after the node ran
// it says so: ErrUnknownOutcome naming the node, never a bare
// connection error that reads as "not done".
func TestFanOutWriteCutLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	ps, err := cl.Primaries(ctx)
	require.NoError(t, err)
	victim := ps[0]
	p := newCutProxy(t, victim.Addr)
	c := newLiveClient(t, cl, router.Options{
		MapAddr: func(announced string) string {
			if announced == victim.Addr {
				return p.addr
			}
			return ""
		},
	})
	script := "return '" + t.Name() + "'"
	p.cutAfterSend(t.Name())
	_, err = c.Do(ctx, "SCRIPT", "LOAD", script)
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrUnknownOutcome)
	assert.Contains(t, err.Error(), p.addr)
	assert.Equal(t, int64(1), p.cuts.Load())
}
