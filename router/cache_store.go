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
	// panicked reports a panic recovered in a user's store (nil: none).
	panicked func(addr string, err error)

	// panics counts the user's stores broken by a panic: a cached call
	// that sees it change looks for its node's (brokeSince).
	panics atomic.Uint64

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
				if r.panicked != nil {
					r.panicked(addr, err)
				}
			}
		}
		guarded := inner != nil
		if inner == nil {
			inner = newLRUStore(o.CacheSizeEachConn)
		}
		s := &slotStore{inner: inner, user: guarded, addr: addr, reg: r, bySlot: make(map[slots.Slot]map[string]struct{})}
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

// panicSeq returns the count of panics of users' stores, to give
// brokeSince after a cached call.
func (r *cacheStores) panicSeq() uint64 { return r.panics.Load() }

// brokeSince returns the panic that broke a store of addr after seq (the
// panicSeq before a cached call), or nil.
func (r *cacheStores) brokeSince(addr string, seq uint64) error {
	if r.panics.Load() == seq {
		return nil // the hot path: no store broke
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.live(addr) {
		if s := w.Value(); s != nil {
			if b := s.broke.Load(); b != nil && b.seq > seq {
				return b.err
			}
		}
	}
	return nil
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
//
// A user's store (NewCacheStoreFn) is called by rueidis's reader
// goroutine (Update, Delete, Close) as well as by the callers (Flight,
// Cancel): its calls are guarded. The first panic breaks the store: it
// is reported to the PanicObserver, the flight whose Update panicked is
// cancelled with it (best effort), the cached calls of the node that
// were in progress fail with it (DoCache, DoMultiCache: brokeSince),
// and the user's store is not called again, but for Close: every later
// call of the connection is a miss, sent to the node and not cached. A
// new connection gets a new store from NewCacheStoreFn.
type slotStore struct {
	inner rueidis.CacheStore
	user  bool // inner is the user's store: guard its calls
	addr  string
	reg   *cacheStores
	broke atomic.Pointer[storePanic] // the panic that broke the user's store

	mu     sync.Mutex
	bySlot map[slots.Slot]map[string]struct{}
	n      int  // keys indexed
	full   bool // the index overflowed: it no longer knows every key
}

// storePanic is the panic that broke a user's store, and its number in
// cacheStores.panics.
type storePanic struct {
	err error
	seq uint64
}

// guard runs fn, a call of the user's store, unless the store is broken;
// it reports false when fn was not run or panicked (the store is then
// broken).
func (s *slotStore) guard(where string, fn func()) bool {
	if s.broke.Load() != nil {
		return false
	}
	err := safe.Call(where, fn)
	if err == nil {
		return true
	}
	s.breakWith(err)
	return false
}

// breakWith records err, a panic of the user's store, as the one that
// broke it (the first only) and reports it.
func (s *slotStore) breakWith(err error) {
	if s.broke.Load() != nil {
		return
	}
	s.reg.mu.Lock() // brokeSince sees the store broken once panics moved
	first := s.broke.CompareAndSwap(nil, &storePanic{err: err, seq: s.reg.panics.Load() + 1})
	if first {
		s.reg.panics.Add(1)
	}
	s.reg.mu.Unlock()
	if first && s.reg.panicked != nil {
		s.reg.panicked(s.addr, err)
	}
}

// Flight looks the entry up (see rueidis.CacheStore). A broken store
// answers a miss and starts no flight.
func (s *slotStore) Flight(key, cmd string, ttl time.Duration, now time.Time) (v rueidis.RedisMessage, e rueidis.CacheEntry) {
	if !s.user {
		return s.inner.Flight(key, cmd, ttl, now)
	}
	if !s.guard("CacheStore.Flight", func() { v, e = s.inner.Flight(key, cmd, ttl, now) }) {
		return rueidis.RedisMessage{}, nil
	}
	return v, e
}

// Update stores a reply and indexes its key by slot. A reply that arrives
// after its slot was given away (the topology no longer names this node)
// is dropped at once: it may have been read before the move. A broken
// store keeps nothing (0: no expiry).
func (s *slotStore) Update(key, cmd string, val rueidis.RedisMessage) (pxat int64) {
	if !s.user {
		pxat = s.inner.Update(key, cmd, val)
	} else if s.broke.Load() != nil {
		return 0
	} else if err := safe.Call("CacheStore.Update", func() { pxat = s.inner.Update(key, cmd, val) }); err != nil {
		s.breakWith(err)
		// Callers may wait for this flight in the user's store.
		_ = safe.Call("CacheStore.Cancel", func() { s.inner.Cancel(key, cmd, err) })
		return 0
	}
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
func (s *slotStore) Cancel(key, cmd string, err error) {
	if !s.user {
		s.inner.Cancel(key, cmd, err)
		return
	}
	s.guard("CacheStore.Cancel", func() { s.inner.Cancel(key, cmd, err) })
}

// Delete drops the entries of keys (an invalidation; nil: all).
func (s *slotStore) Delete(keys []rueidis.RedisMessage) {
	s.innerDelete(keys)
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
	if !s.user {
		s.inner.Close(err)
	} else if perr := safe.Call("CacheStore.Close", func() { s.inner.Close(err) }); perr != nil {
		// Even a broken store is closed: it may hold waiting flights.
		s.breakWith(perr)
	}
	s.mu.Lock()
	had := s.n > 0 || s.full
	s.reset()
	s.mu.Unlock()
	s.reg.remove(s)
	if had && !s.reg.closed() {
		s.reg.report(Event{Kind: EventCacheDropped, Addr: s.addr, Slot: NoSlot})
	}
}

// innerDelete deletes keys (nil: all) from the inner store.
func (s *slotStore) innerDelete(keys []rueidis.RedisMessage) {
	if !s.user {
		s.inner.Delete(keys)
		return
	}
	s.guard("CacheStore.Delete", func() { s.inner.Delete(keys) })
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
	s.innerDelete(nil)
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
	for slot := range s.bySlot {
		if drop(slot) {
			keys = s.takeSlotLocked(slot, keys)
			dropped = append(dropped, slot)
		}
	}
	s.mu.Unlock()
	s.deleteKeys(keys, dropped)
}

// dropSlot drops the entries of one slot (dropIf without walking the
// index).
func (s *slotStore) dropSlot(slot slots.Slot) {
	s.mu.Lock()
	keys := s.takeSlotLocked(slot, nil)
	s.mu.Unlock()
	s.deleteKeys(keys, []slots.Slot{slot})
}

// takeSlotLocked removes slot from the index and appends its keys to
// keys, which it returns. s.mu is held.
func (s *slotStore) takeSlotLocked(slot slots.Slot, keys []string) []string {
	ks := s.bySlot[slot]
	for k := range ks {
		keys = append(keys, k)
	}
	s.n -= len(ks)
	delete(s.bySlot, slot)
	return keys
}

// deleteKeys deletes keys, dropped from the index, from the inner store
// and reports their slots.
func (s *slotStore) deleteKeys(keys []string, dropped []slots.Slot) {
	if len(keys) == 0 {
		return
	}
	if msgs, ok := keyMessages(keys); ok {
		s.innerDelete(msgs)
	} else {
		s.innerDelete(nil) // cannot name the keys: drop everything
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
