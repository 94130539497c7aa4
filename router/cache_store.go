package router

import (
	"container/list"
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// maxIndexedKeys bounds the slot index of one connection's cache store.
// Past it the store stops indexing, and a drop for a lost slot flushes
// the whole store instead (correct, coarser).
const maxIndexedKeys = 1 << 20

// cacheStores is the registry of the client-side cache stores of the
// primaries' connections (one per rueidis pipe), by dialable address, so
// that the entries of the slots a node lost can be found and dropped.
// Stores are held weakly: a pipe rueidis dropped without closing its
// store does not pin it.
type cacheStores struct {
	// owner returns the dialable address of slot's primary in the current
	// topology ("" when the topology does not say).
	owner func(slots.Slot) string
	// report reports an EventCacheDropped.
	report func(Event)
	// closed reports whether the client is closing (no events then).
	closed func() bool

	mu     sync.Mutex
	byAddr map[string][]weak.Pointer[slotStore]
}

// storeFn returns the NewCacheStoreFn of the connections to addr: the
// user's store (user, when not nil) or a bounded LRU, wrapped in a
// slotStore registered under addr.
func (r *cacheStores) storeFn(addr string, user rueidis.NewCacheStoreFn) rueidis.NewCacheStoreFn {
	return func(o rueidis.CacheStoreOption) rueidis.CacheStore {
		var inner rueidis.CacheStore
		if user != nil {
			if err := safe.Call("NewCacheStoreFn", func() { inner = user(o) }); err != nil {
				inner = nil // the default store below
			}
		}
		if inner == nil {
			inner = newLRUStore(o.CacheSizeEachConn)
		}
		s := &slotStore{inner: inner, addr: addr, reg: r, bySlot: make(map[slots.Slot]map[string]struct{})}
		r.add(s)
		return s
	}
}

func (r *cacheStores) add(s *slotStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byAddr == nil {
		r.byAddr = make(map[string][]weak.Pointer[slotStore])
	}
	live := r.live(s.addr)
	r.byAddr[s.addr] = append(live, weak.Make(s))
}

func (r *cacheStores) remove(s *slotStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	live := r.live(s.addr)
	for i, w := range live {
		if w.Value() == s {
			live = append(live[:i], live[i+1:]...)
			break
		}
	}
	if len(live) == 0 {
		delete(r.byAddr, s.addr)
	} else {
		r.byAddr[s.addr] = live
	}
}

// live returns addr's stores that are still alive (r.mu held).
func (r *cacheStores) live(addr string) []weak.Pointer[slotStore] {
	ws := r.byAddr[addr]
	live := ws[:0]
	for _, w := range ws {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	clear(ws[len(live):])
	return live
}

// stores returns every live store.
func (r *cacheStores) stores() []*slotStore {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*slotStore
	for addr := range r.byAddr {
		for _, w := range r.live(addr) {
			if s := w.Value(); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// dropUnowned drops, in every store, the entries of the slots the
// store's node does not serve in snapshot s (a reshard or failover took
// them away). A store whose index overflowed is flushed when its node
// served a slot in old that it does not serve in s.
func (r *cacheStores) dropUnowned(old, s *topology.Snapshot) {
	owner := func(slot slots.Slot) string {
		if sh, ok := lookupShard(s, slot); ok && sh.Primary != nil {
			return sh.Primary.Addr
		}
		return ""
	}
	r.dropNotServed(owner, func(addr string) bool { return old != nil && lostSlots(old, s, addr) })
}

// dropNotServed drops, in every store, the entries of the slots whose
// owner is known and is not the store's node; an overflowed store is
// flushed when lost says its node lost slots.
func (r *cacheStores) dropNotServed(owner func(slots.Slot) string, lost func(addr string) bool) {
	for _, st := range r.stores() {
		if st.overflowed() {
			if lost(st.addr) {
				st.flush()
			}
			continue
		}
		st.dropIf(func(slot slots.Slot) bool {
			o := owner(slot)
			return o != "" && o != st.addr
		})
	}
}

// dropSlot drops the entries of slot in the stores of addr (a MOVED from
// addr says it lost the slot).
func (r *cacheStores) dropSlot(addr string, slot slots.Slot) {
	r.mu.Lock()
	var ss []*slotStore
	for _, w := range r.live(addr) {
		if s := w.Value(); s != nil {
			ss = append(ss, s)
		}
	}
	r.mu.Unlock()
	for _, s := range ss {
		if s.overflowed() {
			s.flush()
			continue
		}
		s.dropSlot(slot)
	}
}

// lostSlots reports whether addr served, as a primary, a slot in old that
// it does not serve in s.
func lostSlots(old, s *topology.Snapshot, addr string) bool {
	for _, sh := range shardsOf(old) {
		if sh.Primary == nil || sh.Primary.Addr != addr {
			continue
		}
		for _, rg := range sh.Ranges {
			for x := int(rg.Start); x <= int(rg.End); x++ {
				n, ok := lookupShard(s, slots.Slot(x))
				if !ok || n.Primary == nil || n.Primary.Addr != addr {
					return true
				}
			}
		}
	}
	return false
}

// slotStore is the cache store of one connection to a primary: rueidis's
// CacheStore contract, delegated to inner, plus an index of the cached
// keys by slot so that the entries of a slot can be dropped.
type slotStore struct {
	inner rueidis.CacheStore
	addr  string
	reg   *cacheStores

	mu     sync.Mutex
	bySlot map[slots.Slot]map[string]struct{}
	n      int  // keys indexed
	full   bool // the index overflowed: it no longer knows every key
}

// Flight looks the entry up (see rueidis.CacheStore).
func (s *slotStore) Flight(key, cmd string, ttl time.Duration, now time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	return s.inner.Flight(key, cmd, ttl, now)
}

// Update stores a reply and indexes its key by slot. A reply that arrives
// after its slot was given away (the topology no longer names this node)
// is dropped at once: it may have been read before the move.
func (s *slotStore) Update(key, cmd string, val rueidis.RedisMessage) int64 {
	pxat := s.inner.Update(key, cmd, val)
	slot := slots.Of(key)
	s.mu.Lock()
	if !s.full {
		ks := s.bySlot[slot]
		if ks == nil {
			ks = make(map[string]struct{}, 1)
			s.bySlot[slot] = ks
		}
		if _, ok := ks[key]; !ok {
			if s.n >= maxIndexedKeys {
				s.full = true
			} else {
				ks[key] = struct{}{}
				s.n++
			}
		}
	}
	s.mu.Unlock()
	if o := s.reg.owner(slot); o != "" && o != s.addr {
		s.dropSlot(slot)
	}
	return pxat
}

// Cancel ends a flight with err (see rueidis.CacheStore).
func (s *slotStore) Cancel(key, cmd string, err error) { s.inner.Cancel(key, cmd, err) }

// Delete drops the entries of keys (an invalidation; nil: all).
func (s *slotStore) Delete(keys []rueidis.RedisMessage) {
	s.inner.Delete(keys)
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys == nil {
		s.reset()
		return
	}
	for i := range keys {
		k, err := keys[i].ToString()
		if err != nil {
			continue
		}
		slot := slots.Of(k)
		if ks := s.bySlot[slot]; ks != nil {
			if _, ok := ks[k]; ok {
				delete(ks, k)
				s.n--
				if len(ks) == 0 {
					delete(s.bySlot, slot)
				}
			}
		}
	}
}

// Close flushes the store: its connection is gone (rueidis passes
// ErrDoCacheAborted, whatever the cause).
func (s *slotStore) Close(err error) {
	s.inner.Close(err)
	s.mu.Lock()
	had := s.n > 0 || s.full
	s.reset()
	s.mu.Unlock()
	s.reg.remove(s)
	if had && !s.reg.closed() {
		s.reg.report(Event{Kind: EventCacheDropped, Addr: s.addr, Slot: NoSlot})
	}
}

// reset empties the index (s.mu held).
func (s *slotStore) reset() {
	clear(s.bySlot)
	s.n = 0
	s.full = false
}

func (s *slotStore) overflowed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full
}

// flush drops every entry of the store.
func (s *slotStore) flush() {
	s.inner.Delete(nil)
	s.mu.Lock()
	s.reset()
	s.mu.Unlock()
	s.reg.report(Event{Kind: EventCacheDropped, Addr: s.addr, Slot: NoSlot})
}

// dropIf drops the entries of the indexed slots drop selects, and
// reports each slot dropped.
func (s *slotStore) dropIf(drop func(slots.Slot) bool) {
	var keys []string
	var dropped []slots.Slot
	s.mu.Lock()
	for slot, ks := range s.bySlot {
		if !drop(slot) {
			continue
		}
		for k := range ks {
			keys = append(keys, k)
		}
		s.n -= len(ks)
		delete(s.bySlot, slot)
		dropped = append(dropped, slot)
	}
	s.mu.Unlock()
	s.deleteKeys(keys, dropped)
}

// dropSlot drops the entries of one slot (dropIf without walking the
// index).
func (s *slotStore) dropSlot(slot slots.Slot) {
	var keys []string
	s.mu.Lock()
	if ks, ok := s.bySlot[slot]; ok {
		for k := range ks {
			keys = append(keys, k)
		}
		s.n -= len(ks)
		delete(s.bySlot, slot)
	}
	s.mu.Unlock()
	s.deleteKeys(keys, []slots.Slot{slot})
}

// deleteKeys deletes keys, dropped from the index, from the inner store
// and reports their slots.
func (s *slotStore) deleteKeys(keys []string, dropped []slots.Slot) {
	if len(keys) == 0 {
		return
	}
	if msgs, ok := keyMessages(keys); ok {
		s.inner.Delete(msgs)
	} else {
		s.inner.Delete(nil) // cannot name the keys: drop everything
	}
	for _, slot := range dropped {
		s.reg.report(Event{Kind: EventCacheDropped, Addr: s.addr, Slot: slot})
	}
}

// keyMessages returns keys as the bulk-string messages of an
// invalidation, for CacheStore.Delete. rueidis has no constructor for
// them: they are decoded from its cache serialization (7 bytes of TTL,
// then type '$', an 8-byte big-endian length and the bytes), and checked.
// It reports false when the format did not give the keys back.
func keyMessages(keys []string) ([]rueidis.RedisMessage, bool) {
	out := make([]rueidis.RedisMessage, len(keys))
	for i, k := range keys {
		buf := make([]byte, 7+1+8+len(k))
		buf[7] = '$'
		binary.BigEndian.PutUint64(buf[8:16], uint64(len(k)))
		copy(buf[16:], k)
		if err := out[i].CacheUnmarshalView(buf); err != nil {
			return nil, false
		}
		if got, err := out[i].ToString(); err != nil || got != k {
			return nil, false
		}
	}
	return out, true
}

// lruStore is the default cache store of a connection: rueidis's
// CacheStore contract (single-flight misses, invalidation by key, flush
// on close) over a least-recently-used map bounded by the approximate
// bytes of its entries (rueidis's CacheSizeEachConn). A hit takes a read
// lock and allocates nothing; recency is refreshed every 1024 hits of an
// entry, as rueidis's own store does.
type lruStore struct {
	mu     sync.RWMutex
	max    int
	size   int
	ll     list.List // completed entries, most recently used first
	keys   map[string]map[string]*lruEntry
	closed bool
}

// lruEntry is one cached reply, or a miss in flight (elem nil).
type lruEntry struct {
	key, cmd string
	val      rueidis.RedisMessage
	err      error
	xat      int64 // client-side expiry, Unix ms
	size     int
	elem     *list.Element // nil while in flight
	done     chan struct{} // closed when the flight ends
	hits     atomic.Uint32
}

// Wait waits for the flight's reply, within ctx.
func (e *lruEntry) Wait(ctx context.Context) (rueidis.RedisMessage, error) {
	select {
	case <-e.done:
		return e.val, e.err
	case <-ctx.Done():
		return rueidis.RedisMessage{}, ctx.Err()
	}
}

// lruEntryOverhead approximates the bytes of an entry beyond its key,
// command and value (entry, list element, map slots).
const lruEntryOverhead = 200

// lruPromoteEvery is how many hits of an entry move it to the front.
const lruPromoteEvery = 1024

func newLRUStore(max int) *lruStore {
	if max <= 0 {
		max = rueidis.DefaultCacheBytes
	}
	return &lruStore{max: max, keys: make(map[string]map[string]*lruEntry)}
}

// Flight returns the cached reply (a hit), the flight to wait for, or
// neither after registering a new flight (the caller sends the command).
func (s *lruStore) Flight(key, cmd string, ttl time.Duration, now time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	ms := now.UnixMilli()
	s.mu.RLock()
	e := s.keys[key][cmd]
	if e != nil && e.elem != nil && e.xat > ms {
		v := e.val
		s.mu.RUnlock()
		if e.hits.Add(1)%lruPromoteEvery == 0 {
			s.mu.Lock()
			if e.elem != nil {
				s.ll.MoveToFront(e.elem)
			}
			s.mu.Unlock()
		}
		return v, nil
	}
	if e != nil && e.elem == nil {
		s.mu.RUnlock()
		return rueidis.RedisMessage{}, e
	}
	s.mu.RUnlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return rueidis.RedisMessage{}, nil // nothing is kept any more
	}
	cmds := s.keys[key]
	if e = cmds[cmd]; e != nil {
		switch {
		case e.elem == nil:
			return rueidis.RedisMessage{}, e
		case e.xat > ms:
			return e.val, nil
		}
		s.remove(e) // expired
	}
	if cmds == nil {
		cmds = make(map[string]*lruEntry, 1)
		s.keys[key] = cmds
	}
	cmds[cmd] = &lruEntry{key: key, cmd: cmd, xat: ms + ttl.Milliseconds(), done: make(chan struct{})}
	return rueidis.RedisMessage{}, nil
}

// Update completes a flight with its reply, keeping it until the
// earlier of the client-side ttl and the server's expiry, and returns
// that time.
func (s *lruStore) Update(key, cmd string, val rueidis.RedisMessage) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[key][cmd]
	if e == nil || e.elem != nil {
		return 0
	}
	pxat := e.xat
	if sx := val.CachePXAT(); sx > 0 && sx < pxat {
		pxat = sx
	}
	e.xat = pxat
	e.val = withExpiry(val, pxat)
	e.size = len(key) + len(cmd) + val.CacheSize() + lruEntryOverhead
	e.elem = s.ll.PushFront(e)
	s.size += e.size
	close(e.done)
	for s.size > s.max && s.ll.Len() > 1 {
		s.remove(s.ll.Back().Value.(*lruEntry))
	}
	return pxat
}

// Cancel ends a flight with err.
func (s *lruStore) Cancel(key, cmd string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.keys[key][cmd]; e != nil && e.elem == nil {
		e.err = err
		s.remove(e)
		close(e.done)
	}
}

// Delete drops the cached replies (not the flights) of keys; nil: all.
func (s *lruStore) Delete(keys []rueidis.RedisMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys == nil {
		for e := s.ll.Front(); e != nil; {
			next := e.Next()
			s.remove(e.Value.(*lruEntry))
			e = next
		}
		return
	}
	for i := range keys {
		k, err := keys[i].ToString()
		if err != nil {
			continue
		}
		for _, e := range s.keys[k] {
			if e.elem != nil {
				s.remove(e)
			}
		}
	}
}

// Close drops everything and fails the flights with err.
func (s *lruStore) Close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cmds := range s.keys {
		for _, e := range cmds {
			if e.elem == nil {
				e.err = err
				close(e.done)
			}
		}
	}
	clear(s.keys)
	s.ll.Init()
	s.size = 0
	s.closed = true
}

// remove forgets e (s.mu held).
func (s *lruStore) remove(e *lruEntry) {
	if e.elem != nil {
		s.ll.Remove(e.elem)
		e.elem = nil
		s.size -= e.size
	}
	cmds := s.keys[e.key]
	if cmds[e.cmd] == e {
		delete(cmds, e.cmd)
		if len(cmds) == 0 {
			delete(s.keys, e.key)
		}
	}
}

// withExpiry returns val with its client-side expiry set to pxat (what
// CachePTTL and CacheTTL of a hit report). rueidis has no setter: the
// expiry is the first 7 bytes (little-endian Unix ms) of the cache
// serialization. val itself is returned if that format does not give
// pxat back.
func withExpiry(val rueidis.RedisMessage, pxat int64) rueidis.RedisMessage {
	buf := val.CacheMarshal(nil)
	if len(buf) < 7 {
		return val
	}
	for i := range 7 {
		buf[i] = byte(pxat >> (8 * i))
	}
	var m rueidis.RedisMessage
	if err := m.CacheUnmarshalView(buf); err != nil || m.CachePXAT() != pxat {
		return val
	}
	return m
}
