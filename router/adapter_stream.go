package router

import (
	"context"
	"fmt"
	"io"

	"github.com/redis/rueidis"
)

// connFor returns the connection of the node that serves d now (the
// slot's primary, or for a read the node the read policy chooses unless
// primary is set; any primary for a keyless command), without redirects:
// for the calls that cannot be retried or moved once started (streams,
// dedicated connections, subscriptions).
func (c *Client) connFor(ctx context.Context, d decision, primary bool) (*nodeConn, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	// The breaker is checked, not passed: what happens on the connection
	// is read by the caller (a stream), or reported by it (dedicated).
	st := state{d: d, block: primary, peek: true}
	addr, ro, err := c.pick(&st)
	if err != nil {
		return nil, err
	}
	nc, err := c.pool.get(ctx, addr, ro)
	if err == nil && nc.closing.Load() {
		// Being replaced: take the new one.
		nc, err = c.pool.get(ctx, addr, ro)
	}
	return nc, err
}

// errStreamWrite refuses a write in DoStream and DoMultiStream.
var errStreamWrite = fmt.Errorf("%w: DoStream and DoMultiStream take read-only commands: the reply is read by the caller, out of the client's sight, so a write whose connection broke could not be told from one never sent (use Do)", ErrBadCommand)

// DoStream sends cmd, a read-only command, to the node that serves its
// slot (by the read policy) and streams the reply (see
// rueidis.Client.DoStream). It is not redirected nor retried: the reply
// is read by the caller. A write is refused (ErrBadCommand): its outcome
// could not be told after a broken stream.
func (a *rueidisClient) DoStream(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResultStream {
	if cmd.IsEmpty() {
		return rueidis.NewErrorResultStream(errEmptyCommand)
	}
	d, err := decide(a.c.table, cmd.Commands())
	if err == nil && d.txn {
		err = errTxnInDo
	}
	if err == nil && !d.readOnly && !cmd.IsReadOnly() {
		err = errStreamWrite
	}
	if err != nil {
		return rueidis.NewErrorResultStream(err)
	}
	nc, err := a.c.connFor(ctx, d, false)
	if err != nil {
		return rueidis.NewErrorResultStream(err)
	}
	return nc.client.DoStream(ctx, cmd)
}

// DoMultiStream pipelines multi to the node that serves their slot and
// streams the replies (see rueidis.Client.DoMultiStream). All the keys of
// multi must hash to one slot (a *CrossSlotError otherwise), and every
// command must be read-only, as for DoStream.
func (a *rueidisClient) DoMultiStream(ctx context.Context, multi ...rueidis.Completed) rueidis.MultiRedisResultStream {
	if len(multi) == 0 {
		return rueidis.NewErrorResultStream(io.EOF)
	}
	all := decision{readOnly: true}
	for i := range multi {
		if multi[i].IsEmpty() {
			return rueidis.NewErrorResultStream(errEmptyCommand)
		}
		d, err := decide(a.c.table, multi[i].Commands())
		if err != nil {
			return rueidis.NewErrorResultStream(err)
		}
		if !d.readOnly && !multi[i].IsReadOnly() {
			return rueidis.NewErrorResultStream(errStreamWrite)
		}
		if !d.hasKeys {
			continue
		}
		if !all.hasKeys {
			all.slot, all.hasKeys = d.slot, true
		} else if d.slot != all.slot {
			cmds := multi[:i+1]
			return rueidis.NewErrorResultStream(a.c.crossSlot("DoMultiStream", len(cmds), func(j int) []string { return cmds[j].Commands() }))
		}
	}
	nc, err := a.c.connFor(ctx, all, false)
	if err != nil {
		return rueidis.NewErrorResultStream(err)
	}
	return nc.client.DoMultiStream(ctx, multi...)
}
