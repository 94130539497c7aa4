package router_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidislock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// getCalls returns the node's cmdstat_get calls (INFO commandstats).
func getCalls(ctx context.Context, t *testing.T, cl *clustertest.Cluster, n *clustertest.Node) int64 {
	t.Helper()
	msg, err := cl.Do(ctx, n, "INFO", "commandstats")
	require.NoError(t, err)
	s, err := msg.ToString()
	require.NoError(t, err)
	for line := range strings.SplitSeq(s, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_get:calls=")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		return n
	}
	return 0
}

// cacheEvents records EventCacheDropped events.
type cacheEvents struct {
	router.Counters
	mu      sync.Mutex
	dropped []router.Event
}

func (o *cacheEvents) OnEvent(e router.Event) {
	if e.Kind != router.EventCacheDropped {
		return
	}
	o.mu.Lock()
	o.dropped = append(o.dropped, e)
	o.mu.Unlock()
}

func (o *cacheEvents) slotDropped(addr string, slot slots.Slot) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.dropped {
		if e.Addr == addr && e.Slot == slot {
			return true
		}
	}
	return false
}

// cachedGet does DoCache GET key and returns its value ("" for nil) and
// whether it came from the cache.
func cachedGet(ctx context.Context, t *testing.T, rc rueidis.Client, key string) (string, bool) {
	t.Helper()
	r := rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), time.Minute)
	msg, err := r.ToMessage()
	if rueidis.IsRedisNil(err) {
		return "", msg.IsCacheHit()
	}
	require.NoError(t, err)
	v, err := msg.ToString()
	require.NoError(t, err)
	return v, msg.IsCacheHit()
}

// TestDoCacheServedFromMemoryLive: the second DoCache of a GET is a cache
// hit, and the node's GET count does not move.
func TestDoCacheServedFromMemoryLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	c := newLiveClient(t, cl, router.Options{ClientSideCaching: true})
	rc := c.Rueidis()
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v1").Build()).Error())
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)

	v, hit := cachedGet(ctx, t, rc, k)
	assert.Equal(t, "v1", v)
	assert.False(t, hit, "first read goes to the server")
	before := getCalls(ctx, t, cl, owner)
	for range 3 {
		v, hit = cachedGet(ctx, t, rc, k)
		assert.Equal(t, "v1", v)
		assert.True(t, hit, "served from memory")
	}
	assert.Equal(t, before, getCalls(ctx, t, cl, owner), "no GET reached the server")
}

// TestDoCacheInvalidatedLive: another client's SET invalidates the entry;
// the new value is then cached in turn.
func TestDoCacheInvalidatedLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	c := newLiveClient(t, cl, router.Options{ClientSideCaching: true})
	rc := c.Rueidis()
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v1").Build()).Error())
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	cachedGet(ctx, t, rc, k)
	_, hit := cachedGet(ctx, t, rc, k)
	require.True(t, hit)

	_, err = cl.Do(ctx, owner, "SET", k, "v2") // another connection
	require.NoError(t, err)
	require.Eventually(t, func() bool { // no require in here: another goroutine
		v, err := rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).ToString()
		return err == nil && v == "v2"
	}, 10*time.Second, 5*time.Millisecond, "the invalidation arrives")
	v, hit := cachedGet(ctx, t, rc, k)
	assert.Equal(t, "v2", v)
	assert.True(t, hit, "the new value is cached")
}

// TestDoMultiCacheSlotsLive: DoMultiCache over keys of several slots
// (several nodes) returns each command's result in order, cached on the
// second call; a cross-slot MGET gets its typed error alone.
func TestDoMultiCacheSlotsLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	c := newLiveClient(t, cl, router.Options{ClientSideCaching: true})
	rc := c.Rueidis()
	keys := make([]string, 12)
	nodes := map[string]bool{}
	for i := range keys {
		keys[i] = testKey(t, strconv.Itoa(i))
		_, n, err := c.Route("GET", keys[i])
		require.NoError(t, err)
		nodes[n.Addr()] = true
		if i%3 != 2 { // every third key is missing
			require.NoError(t, rc.Do(ctx, rc.B().Set().Key(keys[i]).Value("v"+strconv.Itoa(i)).Build()).Error())
		}
	}
	require.Greater(t, len(nodes), 1, "the keys span nodes")
	for round := range 2 {
		multi := make([]rueidis.CacheableTTL, 0, len(keys)+1)
		for _, k := range keys {
			multi = append(multi, rueidis.CT(rc.B().Get().Key(k).Cache(), time.Minute))
		}
		multi = append(multi, rueidis.CT(rc.B().Mget().Key(keys[0], keys[1]).Cache(), time.Minute))
		rs := rc.DoMultiCache(ctx, multi...)
		require.Len(t, rs, len(keys)+1)
		for i, r := range rs[:len(keys)] {
			msg, err := r.ToMessage()
			if i%3 == 2 {
				assert.True(t, rueidis.IsRedisNil(err), "key %d: %v", i, err)
			} else {
				require.NoError(t, err, "key %d", i)
				v, _ := msg.ToString()
				assert.Equal(t, "v"+strconv.Itoa(i), v, "key %d", i)
			}
			assert.Equal(t, round == 1, msg.IsCacheHit(), "round %d key %d", round, i)
		}
		if slots.Of(keys[0]) != slots.Of(keys[1]) {
			var cse *router.CrossSlotError
			assert.ErrorAs(t, rs[len(keys)].Error(), &cse)
		}
	}
}

// TestDoCacheNotStaleAfterMoveLive: once the topology shows that a slot
// moved, the old owner's cached entries of the slot are dropped (and
// reported): the entry cached there before the move is not served any
// more, not even through the old owner's own node client (Nodes), and
// DoCache reads the value written at the new owner.
func TestDoCacheNotStaleAfterMoveLive(t *testing.T) {
	var obs cacheEvents
	cl, ctx, c, k, slot, owner, to := movingSlotSetup(t, &obs)
	rc := c.Rueidis()

	// The key is missing: its nil reply is cached at the owner. (A
	// cached value would be invalidated by the server when MIGRATE
	// deletes it; a nil never is.)
	v, _ := cachedGet(ctx, t, rc, k)
	require.Equal(t, "", v)
	_, hit := cachedGet(ctx, t, rc, k)
	require.True(t, hit)

	// The slot moves away, and is written at its new owner.
	require.NoError(t, cl.MoveSlot(ctx, slot, to))
	_, err := cl.Do(ctx, to, "SET", k, "v2")
	require.NoError(t, err)
	require.NoError(t, c.Topology().Refresh(ctx))
	require.Eventually(t, func() bool { return obs.slotDropped(owner.Addr, slots.Slot(slot)) },
		10*time.Second, 5*time.Millisecond, "the old owner's entries of the slot are dropped")

	// The old owner's connection no longer answers from its cache: the
	// node itself says MOVED.
	old := rc.Nodes()[owner.Addr]
	require.NotNil(t, old)
	msg, err := old.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).ToMessage()
	assert.False(t, msg.IsCacheHit(), "stale entry served from the old owner's cache")
	ret, ok := rueidis.IsRedisErr(err)
	if assert.True(t, ok, "a MOVED from the old owner: %v", err) {
		_, moved := ret.IsMoved()
		assert.True(t, moved, "%v", err)
	}

	v, hit = cachedGet(ctx, t, rc, k)
	assert.Equal(t, "v2", v, "read at the new owner")
	assert.False(t, hit)
	v, hit = cachedGet(ctx, t, rc, k)
	assert.Equal(t, "v2", v)
	assert.True(t, hit, "cached at the new owner")
}

// TestDoCacheAskServedUncachedLive: during a migration, a key already
// moved is answered through ASK by the importing node, and never cached:
// every DoCache reaches that node.
func TestDoCacheAskServedUncachedLive(t *testing.T) {
	var ctr router.Counters
	cl, ctx, c, k, slot, _, to := movingSlotSetup(t, &ctr)
	rc := c.Rueidis()
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v1").Build()).Error())
	require.NoError(t, cl.BeginMigration(ctx, slot, to))
	finishOnCleanup(t, cl, slot)
	require.NoError(t, cl.MigrateKeys(ctx, slot, k))

	before := getCalls(ctx, t, cl, to)
	for range 3 {
		v, hit := cachedGet(ctx, t, rc, k)
		assert.Equal(t, "v1", v)
		assert.False(t, hit, "an ASK reply is not cached")
	}
	assert.Equal(t, before+3, getCalls(ctx, t, cl, to), "every read reached the importing node")
	_, asked, _ := ctr.Total()
	assert.GreaterOrEqual(t, asked, int64(3))

	// Meanwhile a key of a settled slot is cached.
	other := testKey(t, "other")
	require.NotEqual(t, slot, uint16(slots.Of(other)))
	cachedGet(ctx, t, rc, other)
	_, hit := cachedGet(ctx, t, rc, other)
	assert.True(t, hit)
}

// TestDoCacheDroppedWithConnectionLive: when the server closes a cached
// connection, its entries go with it (rueidis flushes the store), the
// drop is reported, and the next DoCache reads the server again.
func TestDoCacheDroppedWithConnectionLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	var obs cacheEvents
	c := newLiveClient(t, cl, router.Options{ClientSideCaching: true, Observer: &obs})
	rc := c.Rueidis()
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v1").Build()).Error())
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	cachedGet(ctx, t, rc, k)
	_, hit := cachedGet(ctx, t, rc, k)
	require.True(t, hit)

	// Every normal connection but the helper's own.
	_, err = cl.Do(ctx, owner, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return obs.slotDropped(owner.Addr, router.NoSlot) },
		10*time.Second, 5*time.Millisecond, "the drop is reported")
	v, hit := cachedGet(ctx, t, rc, k)
	assert.Equal(t, "v1", v)
	assert.False(t, hit, "read from the server again")
}

// TestRueidisBuilderTrackingLive: the options rueidislock passes to its
// ClientBuilder (OPTOUT tracking, OnInvalidations, PipelineMultiplex -1)
// reach the primaries' connections: a key read with Do is tracked, and
// another client's write to it is delivered to OnInvalidations.
func TestRueidisBuilderTrackingLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	var mu sync.Mutex
	seen := map[string]bool{}
	build := router.RueidisBuilder(router.Options{Seeds: cl.Addrs()})
	rc, err := build(rueidis.ClientOption{
		ClientTrackingOptions: []string{"OPTOUT"},
		PipelineMultiplex:     -1,
		OnInvalidations: func(keys []rueidis.RedisMessage) {
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				s, _ := k.ToString()
				seen[s] = true
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(rc.Close)
	k := testKey(t, "k")
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(k).Value("v1").Build()).Error())
	require.NoError(t, rc.Do(ctx, rc.B().Get().Key(k).Build()).Error()) // tracked (OPTOUT)
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(k)))
	require.NoError(t, err)
	_, err = cl.Do(ctx, owner, "SET", k, "v2")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[k]
	}, 10*time.Second, 5*time.Millisecond, "OnInvalidations hears of the write")
}

// TestRueidislockBuilderLive: rueidislock built with RueidisBuilder
// (its options turn tracking on: OPTOUT, OnInvalidations, PipelineMultiplex
// -1) locks, refuses a second holder, and hands the lock over once it is
// released.
func TestRueidislockBuilderLive(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx := liveCtx(t, 30*time.Second)
	newLocker := func() rueidislock.Locker {
		l, err := rueidislock.NewLocker(rueidislock.LockerOption{
			ClientBuilder: router.RueidisBuilder(router.Options{Seeds: cl.Addrs()}),
			KeyMajority:   1,
		})
		require.NoError(t, err)
		t.Cleanup(l.Close)
		return l
	}
	a, b := newLocker(), newLocker()
	name := testKey(t, "lock")
	_, release, err := a.WithContext(ctx, name)
	require.NoError(t, err)
	_, _, err = b.TryWithContext(ctx, name)
	require.ErrorIs(t, err, rueidislock.ErrNotLocked)

	got := make(chan error, 1)
	go func() {
		_, rel, err := b.WithContext(ctx, name) // waits for a's release
		if err == nil {
			rel()
		}
		got <- err
	}()
	release()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the waiting locker never got the lock")
	}
}

// movingSlotSetup connects a caching client observed by obs to the shared
// cluster, and picks the key k (hash tag: the test's name), its slot, the
// slot's owner and another primary to move it to; the slot is moved back
// to its owner when the test ends.
func movingSlotSetup(t *testing.T, obs router.Observer) (cl *clustertest.Cluster, ctx context.Context, c *router.Client, k string, slot uint16, owner, to *clustertest.Node) {
	t.Helper()
	cl = clustertest.Need(t, cluster)
	ctx = liveCtx(t, 90*time.Second)
	c = newLiveClient(t, cl, router.Options{ClientSideCaching: true, Observer: obs})
	k = "{" + t.Name() + "}:k"
	slot = uint16(slots.Of(k))
	owner, err := cl.OwnerOf(ctx, slot)
	require.NoError(t, err)
	to = otherPrimary(ctx, t, cl, owner)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := cl.MoveSlot(ctx, slot, owner); err != nil {
			t.Errorf("move slot %d back: %v", slot, err)
		}
	})
	return cl, ctx, c, k, slot, owner, to
}
