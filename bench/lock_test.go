package bench_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
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

// rueidislock (part of the rueidis module) over slotrouter: the Locker is
// built with router.RueidisBuilder as its LockerOption.ClientBuilder, so
// every lock key's scripts (SET NX PXAT, extend, delete: EVALSHA with
// EVAL on NOSCRIPT) go through the router.
//
// The two other rueidis libraries that take a ClientBuilder,
// rueidislimiter and rueidisaside, are not tested: the module proxy does
// not serve them here. `go list -m -versions
// github.com/redis/rueidis/rueidisaside` (and .../rueidislimiter) from
// this module answers (GOPROXY=https://proxy.golang.org,direct): "git
// ls-remote -q --end-of-options https://github.com/redis/rueidis ...:
// exit status 128: fatal: unable to access
// 'https://github.com/redis/rueidis/': Could not resolve host:
// github.com".

// lockOpts are the options of the lockers of these tests: prefix is the
// test's own key prefix. With polling, the Locker does not use
// client-side caching (DisableCache): a WithContext that finds the lock
// held retries every TryNextAfter instead of waiting for the key's
// invalidation. TryNextAfter also bounds each key's acquisition attempt,
// so it is generous here (a loaded machine under -race).
func lockOpts(seeds []string, prefix string, polling bool) rueidislock.LockerOption {
	return rueidislock.LockerOption{
		ClientBuilder: router.RueidisBuilder(router.Options{Seeds: seeds}),
		KeyPrefix:     prefix,
		TryNextAfter:  500 * time.Millisecond,
		ClientOption:  rueidis.ClientOption{DisableCache: polling},
	}
}

// newLocker builds a Locker with o, closed when t ends.
func newLocker(t *testing.T, o rueidislock.LockerOption) rueidislock.Locker {
	t.Helper()
	l, err := rueidislock.NewLocker(o)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}

// lockKeys returns the Redis keys of lock name (rueidislock's
// "<prefix>:<i>:<name>", KeyMajority*2-1 of them).
func lockKeys(prefix, name string, majority int) []string {
	ks := make([]string, 2*majority-1)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s:%d:%s", prefix, i, name)
	}
	return ks
}

// countKeys returns how many of keys exist, asked through c.
func countKeys(ctx context.Context, c rueidis.Client, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		v, err := c.Do(ctx, c.B().Exists().Key(k).Build()).AsInt64()
		if err != nil {
			return 0, err
		}
		n += int(v)
	}
	return n, nil
}

// TestLockWithContext: a Locker built with RueidisBuilder (default
// options: client-side caching asked for) takes a lock — its keys exist
// in the cluster, spread over several slots — and releases it on cancel
// (the keys are gone once cancel returns); the same name can be taken
// again.
func TestLockWithContext(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	prefix := compatPrefix(t) + "lock"
	l := newLocker(t, lockOpts(cl.Addrs(), prefix, false))
	keys := lockKeys(prefix, "job", 2)
	require.NotEqual(t, slots.Of(keys[0]), slots.Of(keys[1]), "the lock's keys are in different slots")

	for round := range 2 {
		lctx, release, err := l.WithContext(ctx, "job")
		require.NoError(t, err, "round %d", round)
		require.NoError(t, lctx.Err())
		n, err := countKeys(ctx, l.Client(), keys)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, 2, "a majority of the lock's keys are set")
		release()
		assert.Error(t, lctx.Err(), "released: the lock's context is done")
		n, err = countKeys(ctx, l.Client(), keys)
		require.NoError(t, err)
		assert.Zero(t, n, "released: the lock's keys are deleted")
	}
}

// TestLockContention: two Lockers (two router clients) on one name.
// While one holds the lock, the other's TryWithContext fails with
// ErrNotLocked; once it is released, TryWithContext succeeds. Then 3
// goroutines per Locker take the lock 8 times each with WithContext
// (polling, DisableCache) and, holding it, read-modify-write a counter in
// Redis with a plain GET and SET: no two holders ever overlap (an
// in-memory count of holders never exceeds 1) and no increment is lost.
func TestLockContention(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := compatPrefix(t) + "lock"

	a := newLocker(t, lockOpts(cl.Addrs(), prefix, false))
	b := newLocker(t, lockOpts(cl.Addrs(), prefix, false))
	_, releaseA, err := a.TryWithContext(ctx, "try")
	require.NoError(t, err)
	_, _, err = b.TryWithContext(ctx, "try")
	require.ErrorIs(t, err, rueidislock.ErrNotLocked, "held by a")
	releaseA()
	lctx, releaseB, err := b.TryWithContext(ctx, "try")
	require.NoError(t, err, "released by a")
	require.NoError(t, lctx.Err())
	_, _, err = a.TryWithContext(ctx, "try")
	require.ErrorIs(t, err, rueidislock.ErrNotLocked, "held by b")
	releaseB()

	const perWorker = 8
	pa := newLocker(t, lockOpts(cl.Addrs(), prefix, true))
	pb := newLocker(t, lockOpts(cl.Addrs(), prefix, true))
	counter := prefix + ":counter"
	var inside, maxInside, taken atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for w := range 6 {
		l := pa
		if w%2 == 1 {
			l = pb
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Errorf("worker %d: panic: %v", w, r)
				}
			}()
			for range perWorker {
				if err := lockedIncr(ctx, l, "counter", counter, &inside, &maxInside); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, maxInside.Load(), "holders never overlap")
	require.EqualValues(t, 6*perWorker, taken.Load())
	rc := pa.Client()
	v, err := rc.Do(ctx, rc.B().Get().Key(counter).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 6*perWorker, v, "no increment lost")
}

// lockedIncr takes lock name with l.WithContext, increments key with a
// non-atomic GET then SET while holding it (inside counts the holders,
// maxInside keeps the most seen at once), and releases the lock.
func lockedIncr(ctx context.Context, l rueidislock.Locker, name, key string, inside, maxInside *atomic.Int64) error {
	lctx, release, err := l.WithContext(ctx, name)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer release()
	n := inside.Add(1)
	defer inside.Add(-1)
	for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
	}
	c := l.Client()
	v, err := c.Do(lctx, c.B().Get().Key(key).Build()).AsInt64()
	if err != nil && !rueidis.IsRedisNil(err) {
		return fmt.Errorf("get: %w", err)
	}
	if err := c.Do(lctx, c.B().Set().Key(key).Value(strconv.FormatInt(v+1, 10)).Build()).Error(); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return lctx.Err()
}

// TestLockFailover: a lock of one key (KeyMajority 1) on a private
// cluster with a replica per primary. Locker a holds it; once the key has
// reached the replica, the shard's primary is killed (kill -9). Through
// the failover, locker b keeps trying and never gets the lock while a
// holds it, and a keeps it: its extensions, every 300 ms, wait out the
// failover and follow the promotion (a's lock context never ends). After the promotion a releases it, and b
// then takes and releases it within a bounded time, as does a again.
//
// Safety across a kill -9 is only as good as Redis's asynchronous
// replication: the test waits until the replica has the key before the
// kill, and KeyValidity (20 s) outlasts the bounded wait for the
// promotion (10 s), so that the key cannot expire while a holds it.
func TestLockFailover(t *testing.T) {
	clustertest.Need(t, cluster) // skips, or fails under REQUIRE_CLUSTER=1, without redis-server
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{Primaries: 3, Replicas: 1})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Stop()) })

	prefix := compatPrefix(t) + "lock"
	const name = "failover"
	key := lockKeys(prefix, name, 1)[0]
	owner, err := cl.OwnerOf(ctx, uint16(slots.Of(key)))
	require.NoError(t, err)
	reps, err := cl.ReplicasOf(ctx, owner)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	replica := reps[0]

	opts := lockOpts(cl.Addrs(), prefix, true)
	opts.KeyMajority = 1
	opts.KeyValidity = 20 * time.Second
	opts.ExtendInterval = 300 * time.Millisecond // extensions during and after the failover
	a := newLocker(t, opts)
	b := newLocker(t, opts)

	var holders atomic.Int64 // a's hold counts 1; b adds while it holds
	actx, releaseA, err := a.WithContext(ctx, name)
	require.NoError(t, err)
	holders.Add(1)
	aHolds := true
	defer func() {
		if aHolds {
			releaseA()
		}
	}()

	// The key must be on the replica before the kill.
	_, err = cl.Do(ctx, replica, "READONLY")
	require.NoError(t, err)
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool {
		m, err := cl.Do(ctx, replica, "EXISTS", key)
		n, _ := m.AsInt64()
		return err == nil && n == 1
	}), "the lock key never reached the replica")

	// b tries all along, until told to stop.
	stop := make(chan struct{})
	var bTries, bGot atomic.Int64
	var overlap atomic.Bool
	bDone := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				bDone <- fmt.Errorf("panic: %v", r)
			}
		}()
		for i := 0; i < 10_000; i++ {
			select {
			case <-stop:
				bDone <- nil
				return
			case <-ctx.Done():
				bDone <- ctx.Err()
				return
			case <-time.After(20 * time.Millisecond): // pacing, not synchronisation
			}
			bTries.Add(1)
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, release, err := b.TryWithContext(tctx, name)
			if err == nil {
				if holders.Add(1) > 1 {
					overlap.Store(true)
				}
				bGot.Add(1)
				holders.Add(-1)
				release()
			}
			cancel()
		}
		bDone <- errors.New("b: too many tries")
	}()

	require.NoError(t, cl.Kill(owner))
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	promoted, err := cl.WaitFailover(fctx, owner)
	fcancel()
	require.NoError(t, err, "no promotion within 10 s")
	t.Logf("primary %s killed, %s promoted", owner, promoted)

	// b has been trying through the failover; make sure it tried after
	// the promotion too, then a lets go.
	after := bTries.Load()
	require.True(t, pollUntil(ctx, 10*time.Second, func() bool { return bTries.Load() >= after+5 }))
	assert.NoError(t, actx.Err(), "a still holds the lock after the failover")
	assert.Zero(t, bGot.Load(), "b never got the lock while a held it")
	holders.Add(-1)
	aHolds = false
	releaseA()

	// b takes it within a bounded time.
	start := time.Now()
	got := pollUntil(ctx, 15*time.Second, func() bool { return bGot.Load() > 0 })
	close(stop)
	require.NoError(t, <-bDone)
	require.True(t, got, "b did not get the lock within 15 s of a's release after the failover")
	t.Logf("b got the lock %v after a's release; %d tries in all", time.Since(start).Round(time.Millisecond), bTries.Load())
	assert.False(t, overlap.Load(), "two holders at once")

	// And a again, with WithContext, within a bounded time.
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	lctx, release, err := a.WithContext(wctx, name)
	require.NoError(t, err)
	assert.NoError(t, lctx.Err())
	release()
	n, err := countKeys(ctx, a.Client(), []string{key})
	require.NoError(t, err)
	assert.Zero(t, n, "released")
}

// pollUntil polls cond every 20 ms until it holds, d passes or ctx ends,
// and reports whether it held.
func pollUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for i := 0; i < int(d/(20*time.Millisecond))+1; i++ {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			break
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return cond()
}
