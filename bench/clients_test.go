package bench_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/internal/wire"
	"github.com/slotrouter/slotrouter/router"
	"github.com/slotrouter/slotrouter/slots"
)

// client is the common surface of the three clients compared: the calls
// each benchmark and behaviour test makes, written the idiomatic way for
// each library. A nil reply is not an error.
type client interface {
	// Get reads key and returns its value ("" for a nil reply).
	Get(ctx context.Context, key string) (string, error)
	// Set writes key.
	Set(ctx context.Context, key, val string) error
	// Incr increments the integer at key.
	Incr(ctx context.Context, key string) error
	// MGet reads keys (which share a slot) in one MGET.
	MGet(ctx context.Context, keys ...string) error
	// MGetAcross reads keys of many slots: one MGET split per slot by
	// the client where it can (slotrouter's command tips, rueidis's MGet
	// helper), else one MGET per slot in one pipeline, written by hand.
	MGetAcross(ctx context.Context, keys []string) error
	// Pipeline sends, in one pipeline per node, a GET of keys[i] for even
	// i and a SET of keys[i] to val for odd i; it returns the first error.
	Pipeline(ctx context.Context, keys []string, val string) error
	// Close releases the client's connections and goroutines.
	Close()
}

// clientNames are the clients compared, in the order they are run.
var clientNames = []string{"slotrouter", "go-redis", "rueidis"}

// extraClientNames are the clients that $SLOTROUTER_BENCH_CLIENTS may
// name besides clientNames: "slotrouter-pipelined" (slotrouter with
// rueidis's AlwaysPipelining, to compare the two ways of keeping one
// caller's deadline off the shared connection) and "slotrouter-face"
// (slotrouter through its rueidis face, Client.Rueidis, driven by the
// same code as rueidis's client), "slotrouter-noyield" (slotrouter with
// Options.NoWriteYield: its connections write as rueidis's do); and two
// diagnostic clients that only
// Get and Set (diag_clients_test.go): "rueidis-nodes" (one rueidis
// single-node client per primary behind a fixed slot table) and
// "rueidis-nodes-sr" (the same with slotrouter's ClientOption for a node).
var extraClientNames = []string{"slotrouter-pipelined", "slotrouter-face", "slotrouter-noyield", "rueidis-nodes", "rueidis-nodes-sr"}

// benchClients are the clients the benchmarks compare: clientNames, or the
// comma-separated list in $SLOTROUTER_BENCH_CLIENTS, which may also name
// the extraClientNames.
func benchClients(tb testing.TB) []string {
	return benchClientsOr(tb, clientNames)
}

// benchClientsOr is benchClients with def as the default list.
func benchClientsOr(tb testing.TB, def []string) []string {
	env := os.Getenv("SLOTROUTER_BENCH_CLIENTS")
	if env == "" {
		return def
	}
	names := strings.Split(env, ",")
	for _, n := range names {
		if !slices.Contains(clientNames, n) && !slices.Contains(extraClientNames, n) {
			tb.Fatalf("SLOTROUTER_BENCH_CLIENTS: unknown client %q", n)
		}
	}
	return names
}

// newClient connects the client named name to the cluster reachable
// through seeds. Every client runs with its defaults.
func newClient(ctx context.Context, name string, seeds []string) (client, error) {
	return newClientDial(ctx, name, seeds, nil)
}

// newClientDial is newClient with the dial function of the clients
// built on rueidis replaced (ClientOption.DialCtxFn; nil: their own), as
// for a memCluster. go-redis dials on its own.
func newClientDial(ctx context.Context, name string, seeds []string, dial wire.DialFunc) (client, error) {
	switch name {
	case "slotrouter", "slotrouter-pipelined", "slotrouter-noyield":
		o := router.Options{Seeds: seeds, NoWriteYield: name == "slotrouter-noyield"}
		o.ClientOption.AlwaysPipelining = name == "slotrouter-pipelined"
		o.ClientOption.DialCtxFn = dial
		c, err := router.New(ctx, o)
		if err != nil {
			return nil, err
		}
		return srClient{c: c}, nil
	case "slotrouter-face":
		o := router.Options{Seeds: seeds}
		o.ClientOption.DialCtxFn = dial
		c, err := router.New(ctx, o)
		if err != nil {
			return nil, err
		}
		// The very code that drives rueidis's client (rdClient), over
		// the face; its Close closes c.
		return rdClient{c: c.Rueidis(), face: true}, nil
	case "go-redis":
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: seeds})
		if err := c.Ping(ctx).Err(); err != nil {
			_ = c.Close()
			return nil, err
		}
		return grClient{c}, nil
	case "rueidis-nodes", "rueidis-nodes-sr":
		return newNodesClient(ctx, seeds, name == "rueidis-nodes-sr", dial)
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: seeds, DialCtxFn: dial})
		if err != nil {
			return nil, err
		}
		return rdClient{c: c}, nil
	}
	return nil, fmt.Errorf("unknown client %q", name)
}

// mustClient is newClient for a test or benchmark: it fails tb on error
// and closes the client when tb ends.
func mustClient(tb testing.TB, name string, seeds []string) client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := newClient(ctx, name, seeds)
	if err != nil {
		tb.Fatalf("%s: connect: %v", name, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// srClient is slotrouter's router.Client. With idempotentSet, Set sends
// its SET marked idempotent (router.Idempotent), so that it is retried
// after a connection error; the peers have no such distinction.
type srClient struct {
	c             *router.Client
	idempotentSet bool
}

func (s srClient) Get(ctx context.Context, key string) (string, error) {
	m, err := s.c.Do(ctx, "GET", key)
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return "", nil
		}
		return "", err
	}
	return m.ToString()
}

func (s srClient) Set(ctx context.Context, key, val string) error {
	if s.idempotentSet {
		_, err := s.c.DoCmd(ctx, router.Idempotent("SET", key, val))
		return err
	}
	_, err := s.c.Do(ctx, "SET", key, val)
	return err
}

func (s srClient) Incr(ctx context.Context, key string) error {
	_, err := s.c.Do(ctx, "INCR", key)
	return err
}

func (s srClient) MGet(ctx context.Context, keys ...string) error {
	args := make([]string, 0, len(keys)+1)
	args = append(args, "MGET")
	args = append(args, keys...)
	m, err := s.c.Do(ctx, args...)
	if err != nil {
		return err
	}
	_, err = m.AsStrSlice()
	return err
}

// MGetAcross is one MGET, split per slot by the router (multi_shard).
func (s srClient) MGetAcross(ctx context.Context, keys []string) error {
	return s.MGet(ctx, keys...)
}

func (s srClient) Pipeline(ctx context.Context, keys []string, val string) error {
	cmds := make([]router.Cmd, len(keys))
	for i, k := range keys {
		if i%2 == 0 {
			cmds[i] = router.C("GET", k)
		} else {
			cmds[i] = router.C("SET", k, val)
		}
	}
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
			return r.Err
		}
	}
	return nil
}

func (s srClient) Close() { s.c.Close() }

// grClient is go-redis's ClusterClient.
type grClient struct{ c *goredis.ClusterClient }

func (g grClient) Get(ctx context.Context, key string) (string, error) {
	v, err := g.c.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

func (g grClient) Set(ctx context.Context, key, val string) error {
	return g.c.Set(ctx, key, val, 0).Err()
}

func (g grClient) Incr(ctx context.Context, key string) error {
	return g.c.Incr(ctx, key).Err()
}

func (g grClient) MGet(ctx context.Context, keys ...string) error {
	return g.c.MGet(ctx, keys...).Err()
}

// MGetAcross groups keys by slot (go-redis sends a cross-slot MGET to one
// node, which refuses it) and sends one MGET per slot in a pipeline.
func (g grClient) MGetAcross(ctx context.Context, keys []string) error {
	bySlot := make(map[slots.Slot][]string)
	for _, k := range keys {
		s := slots.Of(k)
		bySlot[s] = append(bySlot[s], k)
	}
	p := g.c.Pipeline()
	for _, ks := range bySlot {
		p.MGet(ctx, ks...)
	}
	_, err := p.Exec(ctx)
	return err
}

func (g grClient) Pipeline(ctx context.Context, keys []string, val string) error {
	p := g.c.Pipeline()
	for i, k := range keys {
		if i%2 == 0 {
			p.Get(ctx, k)
		} else {
			p.Set(ctx, k, val, 0)
		}
	}
	_, err := p.Exec(ctx)
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}

func (g grClient) Close() { _ = g.c.Close() }

// rdClient is rueidis's cluster client.
type rdClient struct {
	c    rueidis.Client
	face bool // slotrouter's rueidis face (Client.Rueidis)
}

func (r rdClient) Get(ctx context.Context, key string) (string, error) {
	v, err := r.c.Do(ctx, r.c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return v, err
}

func (r rdClient) Set(ctx context.Context, key, val string) error {
	return r.c.Do(ctx, r.c.B().Set().Key(key).Value(val).Build()).Error()
}

func (r rdClient) Incr(ctx context.Context, key string) error {
	return r.c.Do(ctx, r.c.B().Incr().Key(key).Build()).Error()
}

func (r rdClient) MGet(ctx context.Context, keys ...string) error {
	_, err := r.c.Do(ctx, r.c.B().Mget().Key(keys...).Build()).AsStrSlice()
	return err
}

// MGetAcross is rueidis's MGet helper (grouped per slot, one DoMulti) on
// rueidis's client, and one MGET on slotrouter's face (split per slot by
// its command tips).
func (r rdClient) MGetAcross(ctx context.Context, keys []string) error {
	if r.face {
		_, err := r.c.Do(ctx, r.c.B().Mget().Key(keys...).Build()).AsStrSlice()
		return err
	}
	_, err := rueidis.MGet(r.c, ctx, keys)
	return err
}

func (r rdClient) Pipeline(ctx context.Context, keys []string, val string) error {
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		if i%2 == 0 {
			cmds[i] = r.c.B().Get().Key(k).Build()
		} else {
			cmds[i] = r.c.B().Set().Key(k).Value(val).Build()
		}
	}
	for _, res := range r.c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

func (r rdClient) Close() { r.c.Close() }
