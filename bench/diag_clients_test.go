package bench_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/wire"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// nodesClient is a diagnostic client, not a product: one rueidis
// single-node client per primary and a fixed slot → client table, the
// least a router on rueidis's single-node clients can do. It splits the
// distance between rueidis's cluster client and slotrouter into the part
// the single-node transport costs and the part slotrouter's own layers
// cost. With srOptions it dials with slotrouter's own ClientOption for a
// node (no client-side caching, no rueidis retry, the guarded dialer).
type nodesClient struct {
	by      [slots.Count]rueidis.Client
	clients []rueidis.Client
}

func newNodesClient(ctx context.Context, seeds []string, srOptions bool, dial wire.DialFunc) (*nodesClient, error) {
	o := router.Options{Seeds: seeds}
	o.ClientOption.DialCtxFn = dial
	rc, err := router.New(ctx, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	s := rc.Topology().Current()
	n := &nodesClient{}
	made := map[string]rueidis.Client{}
	for sl := range slots.Count {
		p := s.PrimaryRef(slots.Slot(sl))
		if p.IsZero() {
			n.Close()
			return nil, fmt.Errorf("slot %d has no primary", sl)
		}
		cl := made[p.Addr()]
		if cl == nil {
			o := rueidis.ClientOption{InitAddress: []string{p.Addr()}, ForceSingleClient: true, PipelineMultiplex: -1, DialCtxFn: dial}
			if srOptions {
				o.Dialer.Timeout = router.DefaultDialTimeout
				o.DialCtxFn = wire.Dialer(dial, topology.ReplyLimits{})
				o.DisableCache = true
				o.DisableRetry = true
			}
			if cl, err = rueidis.NewClient(o); err != nil {
				n.Close()
				return nil, err
			}
			made[p.Addr()] = cl
			n.clients = append(n.clients, cl)
		}
		n.by[sl] = cl
	}
	return n, nil
}

func (n *nodesClient) Get(ctx context.Context, key string) (string, error) {
	cl := n.by[slots.Of(key)]
	v, err := cl.Do(ctx, cl.B().Arbitrary("GET", key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return v, err
}

func (n *nodesClient) Set(ctx context.Context, key, val string) error {
	cl := n.by[slots.Of(key)]
	return cl.Do(ctx, cl.B().Arbitrary("SET", key, val).Build()).Error()
}

var errDiag = errors.New("not in the diagnostic client")

func (n *nodesClient) Incr(context.Context, string) error               { return errDiag }
func (n *nodesClient) MGet(context.Context, ...string) error            { return errDiag }
func (n *nodesClient) MGetAcross(context.Context, []string) error       { return errDiag }
func (n *nodesClient) Pipeline(context.Context, []string, string) error { return errDiag }

func (n *nodesClient) Close() {
	for _, c := range n.clients {
		c.Close()
	}
}
