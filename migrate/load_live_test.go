package migrate

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/slots/plan"
)

// TestApplyRebalanceUnderLoad adds a primary to a three-primary cluster
// and applies the rebalance plan (4,096 slots move) while writers and
// readers go through the router over every slot. The load sees no error;
// every key written before and during the move reads back its last
// acknowledged value; the primaries together hold each key once (the sum
// of DBSIZE is the number of distinct keys); check finds no open slot.
func TestApplyRebalanceUnderLoad(t *testing.T) {
	c := startCluster(t, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, err := c.AddNode(ctx, nil)
	require.NoError(t, err)
	rc := newRouter(t, ctx, c)
	tags := slotTags()

	// Before: 2 keys in every slot.
	const before = 2
	fillSlots(t, ctx, rc, tags, []slots.Range{{Start: 0, End: slots.Max}}, before, 0)

	l := layoutOf(t, ctx, c)
	require.Len(t, l.Nodes, 4)
	p, err := plan.Rebalance(l, plan.Options{})
	require.NoError(t, err)
	require.Equal(t, 4096, p.Summary.SlotsMoved)

	// During: writers own disjoint keys "{tag}:w<g>" and remember the last
	// value acknowledged per slot; readers read the "before" keys.
	const writers, readers = 3, 2
	var acked [writers][slots.Count]int64
	var loadErrs atomic.Int64
	var firstErr atomic.Value
	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	fail := func(err error) {
		if loadErrs.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(1); ; seq++ {
				for s := g; s < slots.Count; s += 97 {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("{%s}:w%d", tags[s], g)
					if _, err := rc.DoCmd(ctx, router.Idempotent("SET", key, strconv.FormatInt(seq, 10))); err != nil {
						fail(fmt.Errorf("SET %s: %w", key, err))
						continue
					}
					acked[g][s] = seq
					ops.Add(1)
				}
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := slots.Slot((i * 131) % slots.Count)
				key := keyIn(tags, s, i%before)
				v, err := rc.Do(ctx, "GET", key)
				if err == nil {
					var got string
					got, err = v.ToString()
					if err == nil && got != fmt.Sprintf("%d:%d:0", s, i%before) {
						err = fmt.Errorf("GET %s = %q", key, got)
					}
				}
				if err != nil {
					fail(fmt.Errorf("GET %s: %w", key, err))
					continue
				}
				ops.Add(1)
			}
		}()
	}
	var moved atomic.Int64
	res, err := Apply(ctx, p, Options{Seeds: c.Addrs()[:1], Observer: func(e Event) {
		if e.Kind == EventSlotsDone {
			moved.Add(int64(e.Slots))
		}
	}})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, 4096, res.Slots)
	require.EqualValues(t, 4096, moved.Load())
	require.Zero(t, loadErrs.Load(), "errors surfaced to the load; first: %v", firstErr.Load())
	t.Logf("moved %d slots, %d keys in %v under %d load operations", res.Slots, res.Keys, res.Elapsed.Round(time.Millisecond), ops.Load())

	requireOwners(t, ctx, c, p.Final())
	requireNoOpenSlot(t, ctx, c)
	// Every acknowledged write reads back.
	distinct := int64(before * slots.Count)
	var cmds []router.Cmd
	var want []string
	for g := range writers {
		for s := range slots.Count {
			if acked[g][s] > 0 {
				distinct++
				cmds = append(cmds, router.C("GET", fmt.Sprintf("{%s}:w%d", tags[s], g)))
				want = append(want, strconv.FormatInt(acked[g][s], 10))
			}
		}
	}
	for i, r := range rc.DoMulti(ctx, cmds...) {
		require.NoError(t, r.Err)
		v, err := r.Msg.ToString()
		require.NoError(t, err)
		require.Equal(t, want[i], v, "%v", cmds[i].Args)
	}
	requireSlots(t, ctx, nil, rc, tags, []slots.Range{{Start: 0, End: slots.Max}}, before, 0)
	total := int64(0)
	for _, nr := range rc.DoPrimaries(ctx, "DBSIZE") {
		require.NoError(t, nr.Err)
		n, err := nr.Msg.AsInt64()
		require.NoError(t, err)
		total += n
	}
	require.Equal(t, distinct, total, "keys on more than one node, or lost")
}
