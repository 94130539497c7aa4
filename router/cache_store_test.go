package router

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots"
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

// TestSlotStoreWrapsUserStore: a user's NewCacheStoreFn is still used
// (wrapped); a drop reaches it as Delete of the slot's keys; a
// panicking one falls back to the default store.
func TestSlotStoreWrapsUserStore(t *testing.T) {
	ts := newTestStores()
	var us *userStore
	user := func(o rueidis.CacheStoreOption) rueidis.CacheStore {
		us = &userStore{CacheStore: rueidis.NewSimpleCacheAdapter(newLRUCache(o.CacheSizeEachConn))}
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

// TestLRUCacheBound: the default store stays within its byte bound,
// evicting the least recently used entries.
func TestLRUCacheBound(t *testing.T) {
	c := newLRUCache(10 * (lruEntryOverhead + 64))
	for i := range 100 {
		c.Set(string(rune('a'+i%26))+string(rune('0'+i/26)), cachedMsg(t, "value"))
	}
	assert.LessOrEqual(t, c.size, c.max)
	assert.Equal(t, len(c.m), c.ll.Len())
	assert.Greater(t, len(c.m), 0)
	c.Set("keep", cachedMsg(t, "v"))
	for i := range 5 {
		c.Set("x"+string(rune('0'+i)), cachedMsg(t, "v"))
		_ = c.Get("keep") // recently used: kept
	}
	v := c.Get("keep")
	s, _ := v.ToString()
	assert.Equal(t, "v", s)
	c.Del("keep")
	keep := c.Get("keep")
	assert.False(t, keep.IsString())
	c.Flush()
	assert.Zero(t, c.size)
	assert.Empty(t, c.m)
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
