package router

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// Nodes returns a client aimed at each node of the current topology,
// primaries and replicas, by dialable address (topology.Node.Addr).
// Commands sent through one go to that node only, without redirects (a
// replica's client reads in READONLY mode), on the connection the
// Client's own calls to the node share: as with Do, a caller's deadline
// ends its own wait but is not put on that shared socket. An empty
// command or a nil context is refused with an error wrapping
// ErrBadCommand. The clients belong to the Client: their Close does
// nothing.
func (a *rueidisClient) Nodes() map[string]rueidis.Client {
	s := a.c.topo.Current()
	out := make(map[string]rueidis.Client)
	for _, sh := range s.Shards() {
		if p := sh.Primary; p != nil && p.Addr != "" {
			out[p.Addr] = &nodeClient{a: a, addr: p.Addr}
		}
		for _, r := range sh.Replicas {
			if r != nil && r.Addr != "" {
				out[r.Addr] = &nodeClient{a: a, addr: r.Addr, readonly: true}
			}
		}
	}
	return out
}

// nodeClient is a rueidis.Client aimed at one node, over the Client's
// pool (dialed on first use).
type nodeClient struct {
	a        *rueidisClient
	addr     string
	readonly bool
}

// conn returns the node's connection.
func (n *nodeClient) conn(ctx context.Context) (rueidis.Client, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if n.a.c.closed.Load() {
		return nil, ErrClosed
	}
	nc, err := n.a.c.pool.get(ctx, n.addr, n.readonly)
	if err != nil {
		return nil, err
	}
	return nc.client, nil
}

// dialContext bounds the dial of the calls without a context.
func (n *nodeClient) dialContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*DefaultDialTimeout)
}

// B returns the command builder (the face's).
func (n *nodeClient) B() rueidis.Builder { return n.a.b }

// errsOf returns n results holding err.
func errsOf(n int, err error) []rueidis.RedisResult {
	out := make([]rueidis.RedisResult, n)
	for i := range out {
		out[i] = rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	return out
}

// anyEmpty reports whether one of multi is an empty command (rueidis
// panics on it).
func anyEmpty(multi []rueidis.Completed) bool {
	for i := range multi {
		if multi[i].IsEmpty() {
			return true
		}
	}
	return false
}

// anyBlock reports whether one of multi is blocking (rueidis then sends
// them all on a connection of their own).
func anyBlock(multi []rueidis.Completed) bool {
	for i := range multi {
		if multi[i].IsBlock() {
			return true
		}
	}
	return false
}

// Do sends cmd to the node, without redirects.
func (n *nodeClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if cmd.IsEmpty() {
		return rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	if !cmd.IsBlock() {
		ctx = sharedConnContext(ctx)
	}
	return cl.Do(ctx, cmd)
}

// DoMulti pipelines multi to the node, without redirects.
func (n *nodeClient) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	if anyEmpty(multi) {
		return errsOf(len(multi), errEmptyCommand)
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return errsOf(len(multi), err)
	}
	if !anyBlock(multi) {
		ctx = sharedConnContext(ctx)
	}
	return cl.DoMulti(ctx, multi...)
}

// DoCache is the node connection's DoCache.
func (n *nodeClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	if (*rueidis.Completed)(&cmd).IsEmpty() {
		return rueidis.NewResult(rueidis.RedisMessage{}, errEmptyCommand)
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return rueidis.NewResult(rueidis.RedisMessage{}, err)
	}
	b := n.a.c.args.get(cmd.Commands()) // rueidis recycles cmd
	defer n.a.c.args.put(b)
	res := cl.DoCache(sharedConnContext(ctx), cmd, ttl)
	if othersCanceled(ctx, res.Error()) {
		return cl.Do(sharedConnContext(ctx), cl.B().Arbitrary(b.s...).Build()) // uncached, once
	}
	return res
}

// othersCanceled reports whether err, the error of a DoCache whose own
// context ctx is alive, is another caller's context error: rueidis
// shares one fetch per cached key, and a caller that waited on another
// caller's fetch gets that caller's error when its context ends. The
// command is then sent again, uncached, as the face's DoCache does
// (cacheRedo).
func othersCanceled(ctx context.Context, err error) bool {
	return err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) &&
		ctx.Err() == nil && !deadlinePassed(ctx)
}

// DoMultiCache is the node connection's DoMultiCache.
func (n *nodeClient) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	for i := range multi {
		if (*rueidis.Completed)(&multi[i].Cmd).IsEmpty() {
			return errsOf(len(multi), errEmptyCommand)
		}
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return errsOf(len(multi), err)
	}
	cmds := cacheCmds(multi) // rueidis recycles the commands
	res := cl.DoMultiCache(sharedConnContext(ctx), multi...)
	for i := range res {
		if othersCanceled(ctx, res[i].Error()) {
			res[i] = cl.Do(sharedConnContext(ctx), cl.B().Arbitrary(cmds[i].Args...).Build()) // uncached, once
		}
	}
	return res
}

// DoStream is the node connection's DoStream.
func (n *nodeClient) DoStream(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResultStream {
	if cmd.IsEmpty() {
		return rueidis.NewErrorResultStream(errEmptyCommand)
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return rueidis.NewErrorResultStream(err)
	}
	return cl.DoStream(ctx, cmd)
}

// DoMultiStream is the node connection's DoMultiStream.
func (n *nodeClient) DoMultiStream(ctx context.Context, multi ...rueidis.Completed) rueidis.MultiRedisResultStream {
	if anyEmpty(multi) {
		return rueidis.NewErrorResultStream(errEmptyCommand)
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return rueidis.NewErrorResultStream(err)
	}
	return cl.DoMultiStream(ctx, multi...)
}

// Receive subscribes on the node (not followed elsewhere: see the
// face's Receive for that). A panic in rueidis.WithOnSubscriptionHook's
// hook (run on rueidis's reader goroutine) is recovered, reported to the
// PanicObserver, and ends Receive with an error wrapping ErrPanic.
func (n *nodeClient) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	if subscribe.IsEmpty() {
		return errEmptyCommand
	}
	if fn == nil {
		return errNilHandler
	}
	if _, err := subscribeKind(subscribe.Commands()[0]); err != nil {
		return err
	}
	cl, err := n.conn(ctx)
	if err != nil {
		return err
	}
	hctx := newHookCtx(ctx, nil, func(err error) { n.a.c.panicked(n.addr, err) })
	defer hctx.release()
	err = cl.Receive(hctx, subscribe, fn)
	if perr := hctx.panicErr(); perr != nil {
		return perr // the caller's subscription hook panicked
	}
	return err
}

// Dedicated runs fn with a dedicated connection to the node.
func (n *nodeClient) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	if fn == nil {
		return errNilFn
	}
	ctx, cancel := n.dialContext()
	cl, err := n.conn(ctx)
	cancel()
	if err != nil {
		return err
	}
	return cl.Dedicated(fn)
}

// Dedicate returns a dedicated connection to the node.
func (n *nodeClient) Dedicate() (rueidis.DedicatedClient, func()) {
	ctx, cancel := n.dialContext()
	cl, err := n.conn(ctx)
	cancel()
	if err != nil {
		return errDedicated{err: err, b: n.a.b}, func() {}
	}
	return cl.Dedicate()
}

// Nodes returns this client, under its address.
func (n *nodeClient) Nodes() map[string]rueidis.Client {
	return map[string]rueidis.Client{n.addr: n}
}

// Mode is standalone: one node.
func (n *nodeClient) Mode() rueidis.ClientMode { return rueidis.ClientModeStandalone }

// Close does nothing: the connection belongs to the Client's pool.
func (n *nodeClient) Close() {}

// errDedicated is a DedicatedClient whose every call fails with err (a
// Dedicate whose connection could not be had).
type errDedicated struct {
	err error
	b   rueidis.Builder
}

// B returns the builder.
func (e errDedicated) B() rueidis.Builder { return e.b }

// Do fails with the error.
func (e errDedicated) Do(context.Context, rueidis.Completed) rueidis.RedisResult {
	return rueidis.NewResult(rueidis.RedisMessage{}, e.err)
}

// DoMulti fails every command with the error.
func (e errDedicated) DoMulti(_ context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	return errsOf(len(multi), e.err)
}

// Receive fails with the error.
func (e errDedicated) Receive(context.Context, rueidis.Completed, func(rueidis.PubSubMessage)) error {
	return e.err
}

// SetPubSubHooks returns a channel that yields the error.
func (e errDedicated) SetPubSubHooks(rueidis.PubSubHooks) <-chan error {
	return errChan(e.err)
}

// SetOnInvalidations returns a channel that yields the error.
func (e errDedicated) SetOnInvalidations(func([]rueidis.RedisMessage)) <-chan error {
	return e.SetPubSubHooks(rueidis.PubSubHooks{})
}

// Close does nothing.
func (e errDedicated) Close() {}
