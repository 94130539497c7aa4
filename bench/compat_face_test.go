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
	"github.com/redis/rueidis/rueidiscompat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// Tests of the parts of the rueidis face that other work items build
// (Dedicate/Dedicated for WATCH and pub/sub hooks, Receive, cross-slot
// MGET/DEL/EXISTS split by command tips, client-side caching for
// rueidislock's waits). Not committed until those land.

// TestCompatWatch: go-redis's Watch(fn) with a conflicting writer. The
// first attempt's transaction sees a write made (by another client)
// between its WATCH and its EXEC, so EXEC returns nil and Watch gives
// TxFailedErr; the caller retries, and the second attempt commits. The
// counter ends at the writer's value plus the transaction's increment.
func TestCompatWatch(t *testing.T) {
	c, rdb, ctx := newCompat(t)
	other := rueidiscompat.NewAdapter(c.Rueidis()) // another caller of the same client
	p := "{" + compatPrefix(t) + "}"
	key := p + "counter"
	require.NoError(t, rdb.Set(ctx, key, "10", 0).Err())

	attempts := 0
	incr := func(tx rueidiscompat.Tx) error {
		attempts++
		v, err := tx.Get(ctx, key).Int64()
		if err != nil {
			return err
		}
		if attempts == 1 { // the conflicting write, after WATCH
			if err := other.Set(ctx, key, "100", 0).Err(); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
			pipe.Set(ctx, key, strconv.FormatInt(v+1, 10), 0)
			return nil
		})
		return err
	}
	var err error
	for range 5 {
		if err = rdb.Watch(ctx, incr, key); !errors.Is(err, rueidiscompat.TxFailedErr) {
			break
		}
	}
	require.NoError(t, err)
	assert.Equal(t, 2, attempts, "the first transaction failed, the second committed")
	v, err := rdb.Get(ctx, key).Int64()
	require.NoError(t, err)
	assert.EqualValues(t, 101, v)
}

// TestCompatWatchExecNil: on a Dedicated connection, WATCH, a write by
// another connection, then MULTI/SET/EXEC: EXEC's reply is nil.
func TestCompatWatchExecNil(t *testing.T) {
	c, _, ctx := newCompat(t)
	rc := c.Rueidis()
	key := compatPrefix(t) + "w"
	require.NoError(t, rc.Do(ctx, rc.B().Set().Key(key).Value("1").Build()).Error())
	err := rc.Dedicated(func(dc rueidis.DedicatedClient) error {
		if err := dc.Do(ctx, dc.B().Watch().Key(key).Build()).Error(); err != nil {
			return err
		}
		if err := rc.Do(ctx, rc.B().Set().Key(key).Value("2").Build()).Error(); err != nil {
			return err
		}
		res := dc.DoMulti(ctx, dc.B().Multi().Build(), dc.B().Set().Key(key).Value("3").Build(), dc.B().Exec().Build())
		_, err := res[2].ToArray()
		if !rueidis.IsRedisNil(err) {
			return fmt.Errorf("EXEC: want a nil reply, got %v", err)
		}
		return nil
	})
	require.NoError(t, err)
	v, err := rc.Do(ctx, rc.B().Get().Key(key).Build()).ToString()
	require.NoError(t, err)
	assert.Equal(t, "2", v)
}

// TestCompatWatchCrossSlot: inside Watch, a command on a key of another
// slot than the watched key's gets slotrouter's *CrossSlotError (rueidis's
// own cluster client panics: "cross slot command in Dedicated is
// prohibited").
func TestCompatWatchCrossSlot(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	a, b := p+"a", p+"b"
	for slots.Of(a) == slots.Of(b) {
		b += "!"
	}
	err := rdb.Watch(ctx, func(tx rueidiscompat.Tx) error {
		return tx.Get(ctx, b).Err()
	}, a)
	var cse *router.CrossSlotError
	require.True(t, errors.As(err, &cse), "want *router.CrossSlotError, got %T %v", err, err)
}

// TestCompatSubscribe: go-redis's Subscribe (rueidiscompat: Dedicate, a
// PING, SetPubSubHooks, then SUBSCRIBE on the dedicated connection)
// receives every message PUBLISHed after the subscription is confirmed.
func TestCompatSubscribe(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	ch := compatPrefix(t) + "ch"
	ps := rdb.Subscribe(ctx, ch)
	defer func() { assert.NoError(t, ps.Close()) }()
	receiveAll(t, ctx, ps, ch, func(msg string) error { return rdb.Publish(ctx, ch, msg).Err() })
}

// TestCompatSSubscribe: go-redis's SSubscribe (SSUBSCRIBE on the
// dedicated connection, which must be at the channel's slot's primary)
// receives every message SPUBLISHed (routed by the channel) after the
// subscription is confirmed, for channels on two different primaries.
func TestCompatSSubscribe(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	chs := spreadKeys(t, ctx, compatPrefix(t)+"sch", 6)
	for _, ch := range chs[:2] {
		owner, err := cluster.OwnerOf(ctx, uint16(slots.Of(ch)))
		require.NoError(t, err)
		t.Logf("channel %s on %s", ch, owner)
		ps := rdb.SSubscribe(ctx, ch)
		receiveAll(t, ctx, ps, ch, func(msg string) error { return rdb.SPublish(ctx, ch, msg).Err() })
		assert.NoError(t, ps.Close())
	}
}

// receiveAll waits for ps's subscription to ch, publishes 20 messages
// with publish and checks that each arrives once, in order.
func receiveAll(t *testing.T, ctx context.Context, ps rueidiscompat.PubSub, ch string, publish func(string) error) {
	t.Helper()
	for i := 0; ; i++ {
		require.Less(t, i, 10, "no subscription confirmation")
		m, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		require.NoError(t, err)
		if s, ok := m.(*rueidiscompat.Subscription); ok && s.Channel == ch {
			break
		}
	}
	const n = 20
	for i := range n {
		require.NoError(t, publish("m"+strconv.Itoa(i)))
	}
	for i := range n {
		m, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		require.NoError(t, err, "message %d", i)
		msg, ok := m.(*rueidiscompat.Message)
		require.True(t, ok, "got %T %v", m, m)
		assert.Equal(t, ch, msg.Channel)
		assert.Equal(t, "m"+strconv.Itoa(i), msg.Payload)
	}
}

// TestCompatCrossSlot: MGET, EXISTS, DEL and MSET of keys on every
// primary, in one call each (split per slot by their multi_shard tips):
// MGET gives the values in the caller's order with nil for missing keys,
// EXISTS and DEL the sums, MSET writes every key.
func TestCompatCrossSlot(t *testing.T) {
	_, rdb, ctx := newCompat(t)
	p := compatPrefix(t)
	keys := spreadKeys(t, ctx, p, 12)
	for i, k := range keys {
		if i%3 != 2 { // every third key is missing
			require.NoError(t, rdb.Set(ctx, k, "v"+strconv.Itoa(i), 0).Err())
		}
	}

	t.Run("MGet", func(t *testing.T) {
		vals, err := rdb.MGet(ctx, keys...).Result()
		require.NoError(t, err)
		require.Len(t, vals, len(keys))
		for i, v := range vals {
			if i%3 == 2 {
				assert.Nil(t, v, keys[i])
			} else {
				assert.Equal(t, "v"+strconv.Itoa(i), v, keys[i])
			}
		}
	})
	t.Run("MGetInPipeline", func(t *testing.T) {
		// rueidiscompat queues a pipelined MGET as one command: the
		// split must work in the face's DoMulti too.
		var mget *rueidiscompat.SliceCmd
		_, err := rdb.Pipelined(ctx, func(pipe rueidiscompat.Pipeliner) error {
			mget = pipe.MGet(ctx, keys...)
			return nil
		})
		require.NoError(t, err)
		vals, err := mget.Result()
		require.NoError(t, err)
		require.Len(t, vals, len(keys))
		for i, v := range vals {
			if i%3 == 2 {
				assert.Nil(t, v, keys[i])
			} else {
				assert.Equal(t, "v"+strconv.Itoa(i), v, keys[i])
			}
		}
	})
	t.Run("Exists", func(t *testing.T) {
		n, err := rdb.Exists(ctx, keys...).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 8, n)
	})
	t.Run("Del", func(t *testing.T) {
		n, err := rdb.Del(ctx, keys...).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 8, n)
		for _, k := range keys {
			assert.ErrorIs(t, rdb.Get(ctx, k).Err(), rueidiscompat.Nil, k)
		}
	})
	t.Run("MSet", func(t *testing.T) {
		var kv []any
		for i, k := range keys {
			kv = append(kv, k, "w"+strconv.Itoa(i))
		}
		require.NoError(t, rdb.MSet(ctx, kv...).Err())
		for i, k := range keys {
			v, err := rdb.Get(ctx, k).Result()
			require.NoError(t, err, k)
			assert.Equal(t, "w"+strconv.Itoa(i), v)
		}
	})
}

// TestLockContentionCaching: TestLockContention's WithContext part with
// rueidislock's default options: a waiting WithContext is woken by the
// invalidation of the lock's keys (client-side caching, CLIENT TRACKING
// OPTOUT on the keys' nodes), with no polling fallback. Without
// invalidations a waiter never wakes and the test times out.
func TestLockContentionCaching(t *testing.T) {
	cl := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	prefix := compatPrefix(t) + "lock"
	a := newLocker(t, lockOpts(cl.Addrs(), prefix, false))
	b := newLocker(t, lockOpts(cl.Addrs(), prefix, false))
	counter := prefix + ":counter"
	var inside, maxInside atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		l := a
		if w%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := lockedIncr(ctx, l, "counter", counter, &inside, &maxInside); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, maxInside.Load())
	rc := a.Client()
	v, err := rc.Do(ctx, rc.B().Get().Key(counter).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 20, v)
}
