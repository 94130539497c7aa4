package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// rueidisClient is the Client seen as a rueidis.Client (Client.Rueidis):
// commands built with B() are routed by the Client's own slot table, with
// its redirects, failover waits and safe retries.
type rueidisClient struct {
	c *Client
	b rueidis.Builder
}

// Rueidis returns the client seen as a rueidis.Client, for code written
// against rueidis's typed builder and for the libraries built on it
// (rueidiscompat's go-redis API, rueidislock...). Commands built with its
// B() go where Do would send them: routed by the slot of their keys
// (cmd.Commands(), not cmd.Slot()), following redirects and failovers,
// retrying only what is safe (cmd.IsReadOnly and cmd.IsRetryable count as
// read-only and idempotent). A command whose keys hash to different slots
// returns a *CrossSlotError — never a panic — unless its command tips let
// it be split across shards (see Options.StrictCrossSlot). Closing either
// face closes both.
func (c *Client) Rueidis() rueidis.Client { return c.face }

// RueidisBuilder returns a rueidis client builder over opts, for the
// libraries that take one (rueidislock's LockerOption.ClientBuilder,
// rueidisaside, rueidislimiter): the rueidis.ClientOption the library
// passes is merged into every node's connection — client-side caching
// and tracking (DisableCache, ClientTrackingOptions, OnInvalidations,
// CacheSizeEachConn, NewCacheStoreFn), PipelineMultiplex, ClientName,
// SelectDB, credentials when opts has none, timeouts — and the builder
// returns the new client's rueidis face. Its InitAddress, when set, adds
// to opts.Seeds.
func RueidisBuilder(opts Options) func(rueidis.ClientOption) (rueidis.Client, error) {
	return func(co rueidis.ClientOption) (rueidis.Client, error) {
		o := mergeClientOption(opts, co)
		ctx, cancel := context.WithTimeout(context.Background(), builderTimeout(o))
		defer cancel()
		c, err := New(ctx, o)
		if err != nil {
			return nil, err
		}
		return c.face, nil
	}
}

// builderTimeout bounds New in RueidisBuilder (which has no context):
// twice the dial timeout.
func builderTimeout(o Options) time.Duration {
	if o.DialTimeout > 0 {
		return 2 * o.DialTimeout
	}
	return 2 * DefaultDialTimeout
}

// mergeClientOption returns opts with the rueidis options a library asked
// for.
func mergeClientOption(opts Options, co rueidis.ClientOption) Options {
	t := opts.ClientOption
	t.ClientTrackingOptions = co.ClientTrackingOptions
	t.OnInvalidations = co.OnInvalidations
	t.DisableCache = co.DisableCache
	if co.CacheSizeEachConn != 0 {
		t.CacheSizeEachConn = co.CacheSizeEachConn
	}
	if co.NewCacheStoreFn != nil {
		t.NewCacheStoreFn = co.NewCacheStoreFn
	}
	if co.PipelineMultiplex != 0 {
		t.PipelineMultiplex = co.PipelineMultiplex
	}
	if co.ClientName != "" {
		t.ClientName = co.ClientName
	}
	if co.SelectDB != 0 {
		t.SelectDB = co.SelectDB
	}
	if co.ConnWriteTimeout != 0 {
		t.ConnWriteTimeout = co.ConnWriteTimeout
	}
	if co.BlockingPoolSize != 0 {
		t.BlockingPoolSize = co.BlockingPoolSize
	}
	if opts.Username == "" && opts.Password == "" {
		t.Username, t.Password = co.Username, co.Password
	}
	if opts.TLSConfig == nil && co.TLSConfig != nil {
		t.TLSConfig = co.TLSConfig
	}
	opts.ClientOption = t
	opts.ClientSideCaching = opts.ClientSideCaching || !co.DisableCache
	if len(co.InitAddress) > 0 {
		opts.Seeds = append(append([]string(nil), opts.Seeds...), co.InitAddress...)
	}
	return opts
}

// errNoDial is the dial error of the connection-less client that only
// lends its builder.
var errNoDial = errors.New("slotrouter: builder only, no connection")

// noSlotBuilder returns rueidis's builder of a single-node client: it
// builds commands with keys of different slots without panicking (the
// Client checks slots itself). It comes from a single-node client that
// never dials (ForceSingleClient keeps the client when the dial fails).
func noSlotBuilder() (rueidis.Builder, error) {
	cl, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{"127.0.0.1:0"},
		ForceSingleClient: true,
		DisableRetry:      true,
		DisableCache:      true,
		DialCtxFn: func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
			return nil, errNoDial
		},
	})
	if cl == nil {
		return rueidis.Builder{}, fmt.Errorf("slotrouter: command builder: %w", err)
	}
	defer cl.Close()
	return cl.B(), nil
}

// B returns the command builder. It builds commands whose keys hash to
// different slots (Do then refuses them with a *CrossSlotError, or splits
// them per slot when their command tips allow).
func (a *rueidisClient) B() rueidis.Builder { return a.b }

// argsBuf is a pooled copy of a long command's args (Do copies a short
// one's on the stack): rueidis recycles a command (and reuses its args)
// once it has a reply, and a redirected or retried command is rebuilt
// from the copy.
type argsBuf struct{ s []string }

// argsPool keeps argsBufs.
type argsPool struct{ p sync.Pool }

func (p *argsPool) get(args []string) *argsBuf {
	b, _ := p.p.Get().(*argsBuf)
	if b == nil {
		b = &argsBuf{}
	}
	b.s = append(b.s[:0], args...)
	return b
}

func (p *argsPool) put(b *argsBuf) {
	if cap(b.s) > 1024 {
		return // not worth keeping
	}
	clear(b.s)
	b.s = b.s[:0]
	p.p.Put(b)
}

// Do sends cmd where its keys are served (see Client.Rueidis).
func (a *rueidisClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if cmd.IsEmpty() {
		return rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
	}
	// The args copied (see argsBuf): a short command's on the stack
	// (nothing keeps args after doUser returns), a long one's pooled.
	var (
		short [shortArgs]string
		b     *argsBuf
	)
	args := cmd.Commands()
	if len(args) <= len(short) {
		args = short[:copy(short[:], args)]
	} else {
		b = a.c.args.get(args)
		args = b.s
	}
	msg, err := a.c.doUser(ctx, args, false, &cmd)
	if err == errSubscribe { // not sent: (S|P)UNSUBSCRIBE goes where Receive subscribes
		msg, err = a.unsubscribe(ctx, args, cmd)
	}
	if b != nil {
		a.c.args.put(b)
	}
	return rueidis.NewResult(msg, err)
}

// shortArgs is the most args of a command whose copy Do keeps on the
// stack (SET k v EX 60 NX: 6).
const shortArgs = 8

// DoMulti sends multi and returns their results in the same order, as
// Client.DoMulti does: one pipeline per node, each command following its
// own redirects, MULTI ... EXEC blocks kept together.
func (a *rueidisClient) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	out := make([]rueidis.RedisResult, len(multi))
	sc := a.c.faceScratch.get(len(multi))
	n := 0
	for i := range multi {
		if multi[i].IsEmpty() {
			out[i] = rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
			continue
		}
		n += len(multi[i].Commands())
	}
	flat := sc.flat
	if cap(flat) < n {
		flat = make([]string, 0, n)
	}
	cmds := sc.cmds[:len(multi)]
	for i := range multi {
		if multi[i].IsEmpty() {
			cmds[i] = Cmd{} // refused below as empty
			continue
		}
		at := len(flat)
		flat = append(flat, multi[i].Commands()...)
		cmds[i] = Cmd{Args: flat[at:len(flat):len(flat)]}
	}
	sc.flat = flat
	res := a.c.doMultiInto(ctx, cmds, multi, sc.results[:len(multi)], nil, out)
	// multi's commands are recycled now: cmds says which were empty.
	for i, r := range res {
		if cmds[i].Args == nil || r.Err == errInRaw {
			continue // out[i] is set
		}
		out[i] = rueidis.NewResult(r.Msg, r.Err)
	}
	a.c.faceScratch.put(sc)
	return out
}

// Mode returns rueidis.ClientModeCluster.
func (a *rueidisClient) Mode() rueidis.ClientMode { return rueidis.ClientModeCluster }

// Close closes the Client (both faces).
func (a *rueidisClient) Close() { a.c.Close() }
