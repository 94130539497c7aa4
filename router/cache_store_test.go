package router

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// cachedMsg returns a bulk-string message for v (as the cache stores it).
func cachedMsg(t *testing.T, v string) rueidis.RedisMessage {
	t.Helper()
	ms, ok := keyMessages([]string{v})
	require.True(t, ok)
	return ms[0]
}

// testStores is a registry whose owner of every slot is owner (settable).
type testStores struct {
	*cacheStores
	mu     sync.Mutex
	owners map[slots.Slot]string
	events []Event
}

func newTestStores() *testStores {
	ts := &testStores{owners: map[slots.Slot]string{}}
	ts.cacheStores = &cacheStores{
		owner: func(s slots.Slot) string {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			return ts.owners[s]
		},
		report: func(e Event) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			ts.events = append(ts.events, e)
		},
		closed: func() bool { return false },
	}
	return ts
}

func (ts *testStores) setOwner(s slots.Slot, addr string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.owners[s] = addr
}

// fill runs a miss then Update of key through st, as a pipe does.
func fill(t *testing.T, st rueidis.CacheStore, key, val string) {
	t.Helper()
	now := time.Now()
	v, e := st.Flight(key, "GET", time.Minute, now)
	require.Zero(t, v)
	require.Nil(t, e)
	st.Update(key, "GET", cachedMsg(t, val))
}

func hit(st rueidis.CacheStore, key string) (string, bool) {
	v, e := st.Flight(key, "GET", time.Minute, time.Now())
	if e != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, _ = e.Wait(ctx)
	}
	if v.IsCacheHit() || v.IsString() {
		s, _ := v.ToString()
		return s, true
	}
	if e == nil {
		st.Cancel(key, "GET", context.Canceled) // the miss started a flight
	}
	return "", false
}

// TestKeyMessages: keys are decoded as the bulk strings of an
// invalidation.
func TestKeyMessages(t *testing.T) {
	ms, ok := keyMessages([]string{"a", "", "{tag}:ключ"})
	require.True(t, ok)
	for i, want := range []string{"a", "", "{tag}:ключ"} {
		got, err := ms[i].ToString()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

// TestSlotStoreDropsLostSlots: entries are indexed by slot; a drop of the
// slots a node lost deletes exactly those and reports each slot; other
// slots stay cached.
func TestSlotStoreDropsLostSlots(t *testing.T) {
	ts := newTestStores()
	st := ts.storeFn("a:1", nil)(rueidis.CacheStoreOption{CacheSizeEachConn: 1 << 20})
	k1, k2, k3 := "{x}1", "{x}2", "{y}1"
	sx, sy := slots.Of(k1), slots.Of(k3)
	ts.setOwner(sx, "a:1")
	ts.setOwner(sy, "a:1")
	fill(t, st, k1, "1")
	fill(t, st, k2, "2")
	fill(t, st, k3, "3")
	for _, k := range []string{k1, k2, k3} {
		_, ok := hit(st, k)
		require.True(t, ok, k)
	}
	ts.setOwner(sx, "b:1")
	ts.dropSlot("a:1", sx)
	_, ok := hit(st, k1)
	assert.False(t, ok)
	_, ok = hit(st, k2)
	assert.False(t, ok)
	v, ok := hit(st, k3)
	assert.True(t, ok)
	assert.Equal(t, "3", v)
	assert.Equal(t, []Event{{Kind: EventCacheDropped, Addr: "a:1", Slot: sx}}, ts.events)

	// A reply that arrives after its slot went elsewhere is not kept.
	fill(t, st, "{x}3", "late")
	_, ok = hit(st, "{x}3")
	assert.False(t, ok, "late reply for a lost slot")

	// Invalidations and Close keep the index in step.
	st.Delete([]rueidis.RedisMessage{cachedMsg(t, k3)})
	_, ok = hit(st, k3)
	assert.False(t, ok)
	ss := st.(*slotStore)
	ss.mu.Lock()
	assert.Zero(t, ss.n)
	ss.mu.Unlock()
	fill(t, st, k3, "3")
	st.Close(rueidis.ErrDoCacheAborted)
	assert.Empty(t, ts.stores(), "a closed store leaves the registry")
	assert.Equal(t, Event{Kind: EventCacheDropped, Addr: "a:1", Slot: NoSlot}, ts.events[len(ts.events)-1])
}

// userStore is a user's CacheStore that records calls.
type userStore struct {
	rueidis.CacheStore
	mu      sync.Mutex
	deleted []string
}

func (u *userStore) Delete(keys []rueidis.RedisMessage) {
	u.mu.Lock()
	for _, k := range keys {
		s, _ := k.ToString()
		u.deleted = append(u.deleted, s)
	}
	u.mu.Unlock()
	u.CacheStore.Delete(keys)
}

// mapCache is a user's rueidis.SimpleCache.
type mapCache struct {
	mu sync.Mutex
	m  map[string]rueidis.RedisMessage
}

func (c *mapCache) Get(k string) rueidis.RedisMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *mapCache) Set(k string, v rueidis.RedisMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
}

func (c *mapCache) Del(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

func (c *mapCache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// TestSlotStoreWrapsUserStore: a user's NewCacheStoreFn is still used
// (wrapped); a drop reaches it as Delete of the slot's keys; a
// panicking one falls back to the default store.
func TestSlotStoreWrapsUserStore(t *testing.T) {
	ts := newTestStores()
	var us *userStore
	user := func(o rueidis.CacheStoreOption) rueidis.CacheStore {
		us = &userStore{CacheStore: rueidis.NewSimpleCacheAdapter(&mapCache{m: map[string]rueidis.RedisMessage{}})}
		return us
	}
	st := ts.storeFn("a:1", user)(rueidis.CacheStoreOption{CacheSizeEachConn: 1 << 20})
	require.NotNil(t, us)
	fill(t, st, "{x}1", "1")
	fill(t, st, "{y}1", "2")
	ts.setOwner(slots.Of("{x}1"), "b:1")
	ts.dropNotServed(ts.owner, func(string) bool { return false })
	assert.Equal(t, []string{"{x}1"}, us.deleted)

	bad := func(rueidis.CacheStoreOption) rueidis.CacheStore { panic("boom") }
	st2 := ts.storeFn("a:1", bad)(rueidis.CacheStoreOption{})
	fill(t, st2, "{y}1", "2")
	_, ok := hit(st2, "{y}1")
	assert.True(t, ok)
}

// TestLRUStoreBound: the default store stays within its byte bound,
// evicting the least recently used entries; flights are single; an
// expired entry is a miss; Cancel and Close end the flights.
func TestLRUStoreBound(t *testing.T) {
	s := newLRUStore(10 * (lruEntryOverhead + 64))
	for i := range 100 {
		fill(t, s, fmt.Sprintf("k%d", i), "value")
	}
	assert.LessOrEqual(t, s.size, s.max)
	assert.Equal(t, s.ll.Len(), len(s.keys))
	assert.Greater(t, s.ll.Len(), 5)
	_, ok := hit(s, "k99")
	assert.True(t, ok, "the newest entry is kept")
	_, ok = hit(s, "k0")
	assert.False(t, ok, "the oldest is evicted")

	// Single flight: a second miss waits for the first.
	now := time.Now()
	_, e := s.Flight("f", "GET", time.Minute, now)
	require.Nil(t, e)
	_, e = s.Flight("f", "GET", time.Minute, now)
	require.NotNil(t, e)
	pxat := s.Update("f", "GET", cachedMsg(t, "fv"))
	assert.Equal(t, now.Add(time.Minute).UnixMilli(), pxat)
	v, err := e.Wait(context.Background())
	require.NoError(t, err)
	got, _ := v.ToString()
	assert.Equal(t, "fv", got)
	v, e = s.Flight("f", "GET", time.Minute, now)
	assert.Nil(t, e)
	assert.True(t, v.IsCacheHit())
	assert.Equal(t, pxat, v.CachePXAT(), "the client-side expiry is on the hit")

	// Expired: a miss again.
	v, e = s.Flight("f", "GET", time.Minute, now.Add(2*time.Minute))
	assert.Nil(t, e)
	assert.False(t, v.IsCacheHit())
	s.Cancel("f", "GET", context.Canceled)

	// A flight cancelled, then one cut by Close.
	_, _ = s.Flight("c", "GET", time.Minute, now)
	_, e = s.Flight("c", "GET", time.Minute, now)
	s.Cancel("c", "GET", context.Canceled)
	_, err = e.Wait(context.Background())
	assert.ErrorIs(t, err, context.Canceled)
	_, _ = s.Flight("d", "GET", time.Minute, now)
	_, e = s.Flight("d", "GET", time.Minute, now)
	s.Close(rueidis.ErrDoCacheAborted)
	_, err = e.Wait(context.Background())
	assert.ErrorIs(t, err, rueidis.ErrDoCacheAborted)
	assert.Zero(t, s.size)
	_, e = s.Flight("d", "GET", time.Minute, now)
	assert.Nil(t, e, "closed: nothing kept")
}

// TestMergeClientOptionForRueidislock: the options rueidislock passes to
// its ClientBuilder (OPTOUT tracking, OnInvalidations, PipelineMultiplex
// -1, DisableCache false) turn caching on and reach the primaries'
// connections; replicas and the topology's connections stay untracked.
func TestMergeClientOptionForRueidislock(t *testing.T) {
	inv := func([]rueidis.RedisMessage) {}
	o := mergeClientOption(Options{Seeds: []string{"127.0.0.1:1"}}, rueidis.ClientOption{
		ClientTrackingOptions: []string{"OPTOUT"},
		OnInvalidations:       inv,
		PipelineMultiplex:     -1,
	})
	assert.True(t, o.ClientSideCaching)
	co := o.clientOption()
	assert.False(t, co.DisableCache)
	assert.Equal(t, []string{"OPTOUT"}, co.ClientTrackingOptions)
	assert.NotNil(t, co.OnInvalidations)
	assert.Equal(t, -1, co.PipelineMultiplex)
	p := newPool(co, retryBreakerDefaults())
	assert.False(t, p.opt.DisableCache)
	assert.True(t, p.ropt.DisableCache)

	off := mergeClientOption(Options{Seeds: []string{"127.0.0.1:1"}}, rueidis.ClientOption{DisableCache: true})
	assert.False(t, off.ClientSideCaching)
	assert.True(t, off.clientOption().DisableCache)
}

// snap is a one-shard-per-primary snapshot: primaries[i] serves ranges[i].
func snap(t *testing.T, primaries []string, ranges []slots.Range) *topology.Snapshot {
	t.Helper()
	var shards []topology.Shard
	for i, p := range primaries {
		shards = append(shards, topology.Shard{
			ID:      fmt.Sprintf("shard-%d", i),
			Primary: &topology.Node{ID: fmt.Sprintf("%040d", i+1), Addr: p, Role: topology.RolePrimary, Health: topology.HealthOnline},
			Ranges:  []slots.Range{ranges[i]},
		})
	}
	s, err := topology.NewSnapshot(shards, topology.SnapshotOptions{})
	require.NoError(t, err)
	return s
}

// TestDropUnownedFailover: a failover (the shard's primary is another
// node) drops every entry of the old primary; a reshard drops only the
// moved slots; an overflowed index flushes the store when its node lost
// slots.
func TestDropUnownedFailover(t *testing.T) {
	ts := newTestStores()
	half := slots.Range{Start: 0, End: 8191}
	rest := slots.Range{Start: 8192, End: slots.Count - 1}
	before := snap(t, []string{"a:1", "b:1"}, []slots.Range{half, rest})
	a := ts.storeFn("a:1", nil)(rueidis.CacheStoreOption{})
	b := ts.storeFn("b:1", nil)(rueidis.CacheStoreOption{})
	var aKeys, bKeys []string
	for i := 0; len(aKeys) < 5 || len(bKeys) < 5; i++ {
		k := fmt.Sprintf("k%d", i)
		if half.Contains(slots.Of(k)) {
			aKeys = append(aKeys, k)
			fill(t, a, k, "v")
		} else {
			bKeys = append(bKeys, k)
			fill(t, b, k, "v")
		}
	}
	// Reshard: the slot of aKeys[0] goes to b.
	moved := slots.Of(aKeys[0])
	ts.setOwner(moved, "b:1")
	ts.dropNotServed(ts.owner, func(string) bool { return false })
	_, ok := hit(a, aKeys[0])
	assert.False(t, ok, "moved slot dropped")
	for _, k := range aKeys[1:] {
		if slots.Of(k) != moved {
			_, ok := hit(a, k)
			assert.True(t, ok, "other slots kept: %s", k)
		}
	}

	// Failover of a's shard: c:1 is its primary now.
	after := snap(t, []string{"c:1", "b:1"}, []slots.Range{half, rest})
	ts.dropUnowned(before, after)
	for _, k := range aKeys {
		_, ok := hit(a, k)
		assert.False(t, ok, "failed-over primary's entries dropped: %s", k)
	}
	for _, k := range bKeys {
		_, ok := hit(b, k)
		assert.True(t, ok, "b keeps its entries: %s", k)
	}

	// An overflowed index: flushed when the node lost slots only.
	bs := b.(*slotStore)
	bs.mu.Lock()
	bs.full = true
	bs.mu.Unlock()
	ts.dropUnowned(before, before)
	_, ok = hit(b, bKeys[0])
	assert.True(t, ok, "nothing lost: kept")
	swapped := snap(t, []string{"b:1", "c:1"}, []slots.Range{half, rest})
	ts.dropUnowned(before, swapped)
	_, ok = hit(b, bKeys[0])
	assert.False(t, ok, "lost slots: flushed")
}

// brittleStore is a user's cache store that panics in Update (and in
// Close when closePanics) and counts its calls.
type brittleStore struct {
	calls, closes atomic.Int64
	closePanics   bool
}

func (s *brittleStore) Flight(string, string, time.Duration, time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	s.calls.Add(1)
	return rueidis.RedisMessage{}, nil
}
func (s *brittleStore) Update(string, string, rueidis.RedisMessage) int64 {
	s.calls.Add(1)
	panic("user store")
}
func (s *brittleStore) Cancel(string, string, error)  { s.calls.Add(1) }
func (s *brittleStore) Delete([]rueidis.RedisMessage) { s.calls.Add(1) }
func (s *brittleStore) Close(error) {
	s.closes.Add(1)
	if s.closePanics {
		panic("user store close")
	}
}

// TestSlotStoreUserPanic: a panic in the user's store is recovered and
// reported once; it breaks the store: brokeSince gives it to the cached
// calls in progress (not to later ones), the flight is cancelled, and
// the user's store is no longer called but for Close.
func TestSlotStoreUserPanic(t *testing.T) {
	ts := newTestStores()
	var reported []error
	ts.panicked = func(addr string, err error) {
		assert.Equal(t, "a:1", addr)
		reported = append(reported, err)
	}
	user := &brittleStore{}
	st := ts.storeFn("a:1", func(rueidis.CacheStoreOption) rueidis.CacheStore { return user })(rueidis.CacheStoreOption{})
	seq := ts.panicSeq()
	require.NoError(t, ts.brokeSince("a:1", seq))
	v, e := st.Flight("k", "GET", time.Minute, time.Now())
	require.Zero(t, v)
	require.Nil(t, e)
	assert.Zero(t, st.Update("k", "GET", cachedMsg(t, "v")), "nothing kept")
	require.Len(t, reported, 1)
	assert.ErrorIs(t, reported[0], ErrPanic)
	assert.ErrorIs(t, ts.brokeSince("a:1", seq), ErrPanic, "the call in progress fails")
	assert.NoError(t, ts.brokeSince("b:1", seq), "another node's calls do not")
	assert.NoError(t, ts.brokeSince("a:1", ts.panicSeq()), "later calls do not")
	calls := user.calls.Load() // Flight, Update, Cancel of the flight
	assert.EqualValues(t, 3, calls)
	_, ok := hit(st, "k")
	assert.False(t, ok, "a broken store is a miss")
	st.Update("k", "GET", cachedMsg(t, "v"))
	st.Delete(nil)
	assert.Equal(t, calls, user.calls.Load(), "the broken store was called again")
	st.Close(rueidis.ErrDoCacheAborted)
	assert.EqualValues(t, 1, user.closes.Load(), "a broken store is still closed")
	assert.Len(t, reported, 1, "reported once")
}

// TestSlotStoreUserPanicInClose: a panic in the user's Close is
// recovered and reported; the store is unregistered all the same.
func TestSlotStoreUserPanicInClose(t *testing.T) {
	ts := newTestStores()
	var reported atomic.Int64
	ts.panicked = func(string, error) { reported.Add(1) }
	user := &brittleStore{closePanics: true}
	st := ts.storeFn("a:1", func(rueidis.CacheStoreOption) rueidis.CacheStore { return user })(rueidis.CacheStoreOption{})
	require.Len(t, ts.stores(), 1)
	st.Close(rueidis.ErrDoCacheAborted)
	assert.EqualValues(t, 1, reported.Load())
	assert.Empty(t, ts.stores())
}

// TestGuardInvalidations: an invalidation callback's panic is recovered
// and reported with the node's address, and the callback is called
// again for the next invalidation; nil stays nil.
func TestGuardInvalidations(t *testing.T) {
	assert.Nil(t, guardInvalidations("a:1", nil, nil))
	var calls int
	var reported []error
	fn := guardInvalidations("a:1", func([]rueidis.RedisMessage) {
		calls++
		panic("user callback")
	}, func(addr string, err error) {
		assert.Equal(t, "a:1", addr)
		reported = append(reported, err)
	})
	fn(nil)
	fn(nil)
	assert.Equal(t, 2, calls)
	require.Len(t, reported, 2)
	assert.ErrorIs(t, reported[0], ErrPanic)
	guardInvalidations("a:1", func([]rueidis.RedisMessage) { panic("unreported") }, nil)(nil)
}
