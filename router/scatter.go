package router

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/topology"
)

// maxScanSteps bounds the SCAN calls per node of one Scan.
const maxScanSteps = 1 << 24

// NodeResult is the reply of one node to a scattered command.
type NodeResult struct {
	// Node is the node asked (a copy: the caller's own).
	Node topology.Node
	// Msg and Err are its reply.
	Msg rueidis.RedisMessage
	Err error
}

// Primaries returns copies of the primaries that serve slots in the
// current topology (the caller's own: changing them changes nothing).
func (c *Client) Primaries() []topology.Node {
	var out []topology.Node
	shards := shardsOf(c.topo.Current())
	for i := range shards {
		if p := servingPrimary(&shards[i]); p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// DoPrimaries sends the command args to every primary that serves slots,
// in parallel, and returns each node's reply (not redirected, not
// retried). It is for node-level commands: DBSIZE, INFO, FLUSHALL,
// SCRIPT LOAD, CONFIG SET... With no primary known (no topology yet),
// the result is one NodeResult with the zero Node and ErrNoNode.
func (c *Client) DoPrimaries(ctx context.Context, args ...string) []NodeResult {
	nodes := c.Primaries()
	if len(nodes) == 0 {
		return []NodeResult{{Err: ErrNoNode}}
	}
	if err := c.checkNodeCommand(ctx, args); err != nil {
		out := make([]NodeResult, len(nodes))
		for i, n := range nodes {
			out[i] = NodeResult{Node: n, Err: err}
		}
		return out
	}
	return c.doNodes(ctx, nodes, args)
}

// doNodes sends args to each of nodes in parallel (DoPrimaries, and the
// fan-out of keyless commands by their tips).
func (c *Client) doNodes(ctx context.Context, nodes []topology.Node, args []string) []NodeResult {
	out := make([]NodeResult, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			out[i] = NodeResult{Node: n}
			if err := safe.Call("doNodes", func() {
				out[i].Msg, out[i].Err = c.doNode(ctx, n.Addr, args)
			}); err != nil {
				err = &NodeError{Addr: n.Addr, Err: err}
				c.panicked(n.Addr, err)
				out[i].Err = err
			}
		})
	}
	wg.Wait()
	return out
}

// doNode sends args to the node at addr, through its breaker.
// The caller validates args and ctx (checkNodeCommand).
func (c *Client) doNode(ctx context.Context, addr string, args []string) (rueidis.RedisMessage, error) {
	if c.closed.Load() {
		return rueidis.RedisMessage{}, ErrClosed
	}
	b := c.pool.breaker(addr)
	if err := b.Allow(); err != nil {
		return rueidis.RedisMessage{}, &NodeError{Addr: addr, Err: err}
	}
	nc, err := c.pool.get(ctx, addr, false)
	unsent := err != nil
	if err == nil {
		var msg rueidis.RedisMessage
		// On the shared connection, as Do: keyless commands fanned out by
		// their tips come this way. A blocking command (WAIT) takes a
		// connection of its own, as in Do. Either way without the
		// caller's deadline on the socket (see send), so that an early
		// cancellation ends the wait.
		var cmd rueidis.Completed
		if d, derr := decide(c.table, args); derr == nil && d.blocking {
			cmd = nc.client.B().Arbitrary(args...).Blocking()
		} else {
			cmd = nc.client.B().Arbitrary(args...).Build()
		}
		msg, err = nc.client.Do(sharedConnContext(ctx), cmd).ToMessage()
		if err == nil || rueidis.IsRedisNil(err) || isReply(err) {
			b.Success()
			return msg, err
		}
	}
	if errors.Is(err, rueidis.ErrClosing) && c.closed.Load() {
		return rueidis.RedisMessage{}, ErrClosed
	}
	class, err := classify(ctx, addr, err)
	if cerr, closed := c.closedErr(err); closed {
		// Close ended the call (it cuts the connections in use: WAIT).
		err, class.Kind = cerr, retry.KindConn
	} else if class.Kind == retry.KindConn {
		// Evidence about the node; the caller's own cancellation is not.
		c.connFailed(addr, err, unsent)
	}
	sent := !unsent && !retry.Unsent(err)
	if sent && (class.Kind == retry.KindConn || class.Kind == retry.KindCanceled) && !c.table.IsReadOnly(args) {
		// A write (FLUSHALL, SCRIPT LOAD, CONFIG SET...) that may have
		// run on this node: say so.
		return rueidis.RedisMessage{}, &UnknownOutcomeError{Addr: addr, Command: args[0], Err: err}
	}
	return rueidis.RedisMessage{}, err
}

// checkNodeCommand validates a command for DoPrimaries and Scan: a
// context, a name, nothing that puts the shared connection in another
// state.
func (c *Client) checkNodeCommand(ctx context.Context, args []string) error {
	if ctx == nil {
		return errNilContext
	}
	d, err := decide(c.table, args)
	if err != nil {
		return err
	}
	if d.txn {
		return errTxnInDo
	}
	return nil
}

// DBSize returns the number of keys in the cluster: the sum of DBSIZE
// over the primaries. The error joins the nodes' errors.
func (c *Client) DBSize(ctx context.Context) (int64, error) {
	var total int64
	var errs []error
	for _, r := range c.DoPrimaries(ctx, "DBSIZE") {
		if r.Err != nil {
			errs = append(errs, &NodeError{Addr: r.Node.Addr, Err: r.Err})
			continue
		}
		n, err := r.Msg.AsInt64()
		if err != nil {
			errs = append(errs, &NodeError{Addr: r.Node.Addr, Err: err})
			continue
		}
		total += n
	}
	return total, errors.Join(errs...)
}

// FlushAll deletes every key of the cluster (FLUSHALL on every primary).
func (c *Client) FlushAll(ctx context.Context) error {
	var errs []error
	for _, r := range c.DoPrimaries(ctx, "FLUSHALL") {
		if r.Err != nil {
			errs = append(errs, &NodeError{Addr: r.Node.Addr, Err: r.Err})
		}
	}
	return errors.Join(errs...)
}

// ScanOptions configures Scan. The zero value scans every key.
type ScanOptions struct {
	// Match is SCAN's MATCH pattern ("" for none).
	Match string
	// Count is SCAN's COUNT hint (0 for the server's default).
	Count int
	// Type is SCAN's TYPE filter ("" for none).
	Type string
}

// Scan calls fn for every key of every primary (SCAN on each primary, one
// node after the other); a key may be reported twice, as with SCAN. It
// stops at the first error of a node or of fn, or when ctx ends; with no
// primary known (no topology yet) it fails with ErrNoNode.
func (c *Client) Scan(ctx context.Context, opts ScanOptions, fn func(key string) error) error {
	if ctx == nil {
		return errNilContext
	}
	if fn == nil {
		return fmt.Errorf("%w: Scan needs a function to call", command.ErrBadCommand)
	}
	primaries := c.Primaries()
	if len(primaries) == 0 {
		return ErrNoNode // no topology yet: nothing was scanned
	}
	for _, n := range primaries {
		cursor := "0"
		for step := 0; ; step++ {
			if step >= maxScanSteps {
				return &NodeError{Addr: n.Addr, Err: errors.New("slotrouter: SCAN did not finish")}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			args := []string{"SCAN", cursor}
			if opts.Match != "" {
				args = append(args, "MATCH", opts.Match)
			}
			if opts.Count > 0 {
				args = append(args, "COUNT", strconv.Itoa(opts.Count))
			}
			if opts.Type != "" {
				args = append(args, "TYPE", opts.Type)
			}
			msg, err := c.doNode(ctx, n.Addr, args)
			if err != nil {
				return &NodeError{Addr: n.Addr, Err: err}
			}
			arr, err := msg.ToArray()
			if err != nil || len(arr) != 2 {
				return &NodeError{Addr: n.Addr, Err: errors.New("slotrouter: malformed SCAN reply")}
			}
			cursor, err = arr[0].ToString()
			if err != nil {
				return &NodeError{Addr: n.Addr, Err: errors.New("slotrouter: malformed SCAN cursor")}
			}
			keys, err := arr[1].AsStrSlice()
			if err != nil {
				return &NodeError{Addr: n.Addr, Err: errors.New("slotrouter: malformed SCAN keys")}
			}
			for _, k := range keys {
				if err := fn(k); err != nil {
					return err
				}
			}
			if cursor == "0" {
				break
			}
		}
	}
	return nil
}
