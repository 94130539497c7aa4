package router

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/internal/safe"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// ErrMultiShard is wrapped by the error of a command that was split per
// slot (request_policy multi_shard) or sent to every primary or node
// (all_shards, all_nodes) when a part of it failed: the error is a
// *MultiShardError, which names the failed parts and wraps their errors.
var ErrMultiShard = errors.New("slotrouter: a part of a multi-shard command failed")

// PartError is one failed part of a multi-shard command.
type PartError struct {
	// Slot is the slot of a keyed part, NoSlot for a node-level part.
	Slot slots.Slot
	// Keys are the keys of a keyed part, in the caller's order.
	Keys []string
	// Addr is the node of a node-level part ("" for a keyed part, which
	// follows redirects: its error names the node when it matters, as
	// *UnknownOutcomeError does).
	Addr string
	// Err is the part's error.
	Err error
}

// MultiShardError is the error of a command split per slot, or fanned out
// to every primary or node, when some of its parts failed. No partial
// answer is returned with it. errors.Is and errors.As reach each part's
// error (ErrUnknownOutcome, *rueidis.RedisError, context errors...), and
// errors.Is(err, ErrMultiShard) holds.
type MultiShardError struct {
	// Command is the command as given ("MGET", "SCRIPT FLUSH").
	Command string
	// Parts is how many parts the command was sent as (slots or nodes).
	Parts int
	// Failed are the parts that failed, in the order they were built.
	Failed []PartError
}

// maxListedParts is how many failed parts MultiShardError.Error lists.
const maxListedParts = 4

// Error names the failed parts (their keys or nodes) and their errors.
func (e *MultiShardError) Error() string {
	var b strings.Builder
	b.WriteString("slotrouter: ")
	b.WriteString(strings.ToUpper(e.Command))
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(len(e.Failed)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(e.Parts))
	b.WriteString(" parts failed (the others were executed)")
	for i, p := range e.Failed {
		if i == maxListedParts {
			b.WriteString("; … and ")
			b.WriteString(strconv.Itoa(len(e.Failed) - maxListedParts))
			b.WriteString(" more")
			break
		}
		b.WriteString("; ")
		if p.Addr != "" {
			b.WriteString("node ")
			b.WriteString(p.Addr)
		} else {
			b.WriteString("slot ")
			b.WriteString(strconv.Itoa(int(p.Slot)))
			b.WriteString(" keys ")
			for k, key := range p.Keys {
				if k == command.MaxListedKeys {
					b.WriteString(" …")
					break
				}
				if k > 0 {
					b.WriteString(" ")
				}
				b.WriteString(strconv.Quote(key))
			}
		}
		b.WriteString(": ")
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// Unwrap returns the parts' errors.
func (e *MultiShardError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i := range e.Failed {
		out[i] = e.Failed[i].Err
	}
	return out
}

// Is makes errors.Is(err, ErrMultiShard) hold.
func (e *MultiShardError) Is(target error) bool { return target == ErrMultiShard }

// splittable reports whether a command with these tips may be split per
// slot: request_policy multi_shard with a response policy this package
// can merge. MSETNX (multi_shard, agg_min) is not: split, it would no
// longer set all the keys or none.
func splittable(cmd *command.Command) bool {
	if cmd.Tips.Request != command.RequestMultiShard || cmd.Name == "msetnx" {
		return false
	}
	switch cmd.Tips.Response {
	case command.ResponseSpecial, command.ResponseOneSucceeded:
		return false
	}
	return true
}

// msSplit is a command split per slot.
type msSplit struct {
	parts []msPart
	// where[i] is the part of the caller's i-th key and its index among
	// that part's keys.
	where []msWhere

	// Working memory, kept when the split is pooled (msPool).
	table   []int32
	flat    []string
	cmds    []Cmd
	pre     []decision
	results []Result
	arrs    [][]rueidis.RedisMessage
	out     []rueidis.RedisMessage
}

// msPool keeps msSplits: a split of 100 keys needs about 20 KB of
// working memory, none of which outlives the call.
type msPool struct{ p sync.Pool }

func (p *msPool) get() *msSplit {
	if sp, ok := p.p.Get().(*msSplit); ok {
		return sp
	}
	return &msSplit{}
}

// put clears sp (it held the caller's args and the replies) and keeps it.
func (p *msPool) put(sp *msSplit) {
	if cap(sp.where) > maxScratchUnits || cap(sp.flat) > 16*maxScratchUnits {
		return
	}
	sp.parts = clearAll(sp.parts)
	sp.where = sp.where[:0]
	sp.table = sp.table[:0]
	sp.flat = clearAll(sp.flat)
	sp.cmds = clearAll(sp.cmds)
	sp.pre = sp.pre[:0]
	sp.results = clearAll(sp.results)
	sp.arrs = clearAll(sp.arrs)
	sp.out = clearAll(sp.out)
	p.p.Put(sp)
}

// clearAll zeroes s up to its capacity and returns it empty.
func clearAll[T any](s []T) []T {
	clear(s[:cap(s)])
	return s[:0]
}

// grow returns s with length n, reusing its array when it is big enough
// (the elements are then whatever they were: zero after clearAll).
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// msPart is the command for one slot: the caller's prefix (name, and
// subcommand), the groups of its keys (each key with its arguments), and
// the caller's suffix.
type msPart struct {
	slot slots.Slot
	args []string
	keys int // how many of the caller's keys
}

type msWhere struct{ part, pos int32 }

// keyLayout finds where the keys of args are, for a command split per
// slot: keys at first, first+step, ... (n of them), each owning the step
// arguments from its position. Only a command with one key
// specification, a range begun at an index, whose keys are found exactly
// there, can be split.
func keyLayout(cmd *command.Command, args []string) (first, step, n int, ok bool) {
	if len(cmd.Specs) != 1 || cmd.Flags&command.FlagKeysIncomplete != 0 {
		return 0, 0, 0, false
	}
	s := &cmd.Specs[0]
	if s.Begin != command.BeginIndex || s.Find != command.FindRange || s.NotKey || s.KeyStep < 1 || s.Limit > 1 {
		// (A limit: keys, then as many other arguments; not cut per key.)
		return 0, 0, 0, false
	}
	var buf [128]int
	idx, err := cmd.KeyIndexes(args, buf[:0])
	if err != nil || len(idx) < 2 {
		return 0, 0, 0, false
	}
	first, step, n = idx[0], s.KeyStep, len(idx)
	for i, p := range idx {
		if p != first+i*step {
			return 0, 0, 0, false
		}
	}
	if first+n*step > len(args) {
		return 0, 0, 0, false
	}
	return first, step, n, true
}

// split splits args into one command per slot, in the order the slots
// first appear, each key keeping its arguments and its place among the
// keys of its slot; it reuses sp's memory.
func (sp *msSplit) split(args []string, first, step, n int) {
	sp.where = grow(sp.where, n)
	sp.parts = sp.parts[:0]
	// Parts by slot: a linear search while there are few, then an
	// open-addressing table (slots are < 2^14: slot&mask spreads them).
	var table []int32 // part+1 by slot&mask; 0: empty
	var mask int
	for i := range n {
		s := slots.Of(args[first+i*step])
		p := int32(-1)
		if table == nil {
			for q := range sp.parts {
				if sp.parts[q].slot == s {
					p = int32(q)
					break
				}
			}
		} else {
			for h := int(s) & mask; table[h] != 0; h = (h + 1) & mask {
				if sp.parts[table[h]-1].slot == s {
					p = table[h] - 1
					break
				}
			}
		}
		if p < 0 {
			p = int32(len(sp.parts))
			sp.parts = append(sp.parts, msPart{slot: s})
			switch {
			case table != nil:
				tableAdd(table, mask, s, p)
			case len(sp.parts) > 16:
				size := 64
				for size < 2*n && size < 1<<15 {
					size <<= 1
				}
				table, mask = grow(sp.table, size), size-1
				clear(table)
				sp.table = table
				for q := range sp.parts {
					tableAdd(table, mask, sp.parts[q].slot, int32(q))
				}
			}
		}
		sp.where[i] = msWhere{part: p, pos: int32(sp.parts[p].keys)}
		sp.parts[p].keys++
	}
	suffix := args[first+n*step:]
	fixed := first + len(suffix)
	flat := grow(sp.flat, len(sp.parts)*fixed+n*step)[:0]
	for q := range sp.parts {
		p := &sp.parts[q]
		at := len(flat)
		flat = append(flat, args[:first]...)
		flat = flat[:len(flat)+p.keys*step] // filled below
		flat = append(flat, suffix...)
		p.args = flat[at:len(flat):len(flat)]
	}
	for i, w := range sp.where {
		p := &sp.parts[w.part]
		at := first + int(w.pos)*step
		copy(p.args[at:at+step], args[first+i*step:first+(i+1)*step])
	}
	sp.flat = flat
}

// tableAdd files part p of slot s in table (open addressing; the table
// has room: at least twice as many entries as there can be slots).
func tableAdd(table []int32, mask int, s slots.Slot, p int32) {
	h := int(s) & mask
	for table[h] != 0 {
		h = (h + 1) & mask
	}
	table[h] = p + 1
}

// multiShard runs args, whose keys hash to different slots (cse), split
// per slot when its command tips allow it (and StrictCrossSlot is off):
// the parts go as one DoMulti batch, each following its own redirects and
// retries, and their replies are merged by the command's response
// policy. ok is false when the command cannot be split: the caller then
// returns the cross-slot error.
func (c *Client) multiShard(ctx context.Context, args []string, idem bool) (msg rueidis.RedisMessage, err error, ok bool) {
	if c.strictCrossSlot {
		return msg, nil, false
	}
	cmd, cerr := c.table.Command(args)
	if cerr != nil || !splittable(cmd) {
		return msg, nil, false
	}
	first, step, n, ok := keyLayout(cmd, args)
	if !ok {
		return msg, nil, false
	}
	sp := c.splits.get()
	defer c.splits.put(sp)
	sp.split(args, first, step, n)
	// Every part is the command with its slot's keys: the table's
	// decision for the first, with each part's own slot.
	d, derr := decide(c.table, sp.parts[0].args)
	if derr != nil {
		return msg, nil, false
	}
	np := len(sp.parts)
	sp.cmds, sp.pre, sp.results = grow(sp.cmds, np), grow(sp.pre, np), grow(sp.results, np)
	for i := range sp.parts {
		sp.cmds[i] = Cmd{Args: sp.parts[i].args, Idempotent: idem}
		sp.pre[i] = d
		sp.pre[i].slot = sp.parts[i].slot
	}
	res := c.doMultiInto(ctx, sp.cmds, nil, sp.results, sp.pre, nil)
	var failed []PartError
	for i, r := range res {
		if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
			keys := make([]string, 0, sp.parts[i].keys)
			for k := range sp.parts[i].keys {
				keys = append(keys, sp.parts[i].args[first+k*step])
			}
			failed = append(failed, PartError{Slot: sp.parts[i].slot, Keys: keys, Err: r.Err})
		}
	}
	name := cmd.DisplayName(args)
	if len(failed) > 0 {
		return msg, &MultiShardError{Command: name, Parts: len(res), Failed: failed}, true
	}
	msg, err = mergeSplit(name, cmd.Tips.Response, sp, res)
	return msg, err, true
}

// runsAlone reports whether a command of DoMulti, whose decision is d
// (or err, from decideLazy), is split per slot or fanned out instead of
// being sent as it is.
func (c *Client) runsAlone(d decision, err error, args []string) bool {
	if err != nil {
		if err != errCrossLazy || c.strictCrossSlot {
			return false
		}
		cmd, cerr := c.table.Command(args)
		if cerr != nil || !splittable(cmd) {
			return false
		}
		_, _, _, ok := keyLayout(cmd, args)
		return ok
	}
	cmd, cerr := c.table.Command(args)
	if cerr != nil {
		return false
	}
	_, ok := fanOutPolicy(cmd.Name, cmd.Tips)
	return ok
}

// startAlone runs the commands of DoMulti at the indexes alone, split
// per slot or fanned out, each in a goroutine of its own beside the
// pipelines, and returns the function that waits for them; their
// results go to results. user, when not nil, holds the caller's rueidis
// commands, which are never sent (their args are split or sent to every
// node).
func (c *Client) startAlone(ctx context.Context, cmds []Cmd, user []rueidis.Completed, results []Result, alone []int) (wait func()) {
	var wg sync.WaitGroup
	for _, i := range alone {
		idem := cmds[i].Idempotent || user != nil && user[i].IsRetryable()
		args := cmds[i].Args
		wg.Go(func() {
			if err := safe.Call("DoMulti multi-shard "+args[0], func() {
				msg, err, ok := c.multiShard(ctx, args, idem)
				if !ok {
					msg, err, ok = c.fanOut(ctx, args)
				}
				if !ok {
					err = errors.New("slotrouter: " + args[0] + ": neither split nor fanned out") // runsAlone said it would be
				}
				results[i] = Result{Msg: msg, Err: err}
			}); err != nil {
				c.panicked("", err)
				results[i] = Result{Err: err}
			}
		})
	}
	return wg.Wait
}

// errMergeReply is the error of parts whose replies cannot be merged as
// the command's response policy says.
type errMergeReply struct {
	cmd    string
	policy string
	why    string
}

// Error explains the reply that could not be merged.
func (e *errMergeReply) Error() string {
	return "slotrouter: " + strings.ToUpper(e.cmd) + ": cannot merge the replies of its parts (response policy " +
		strconv.Quote(e.policy) + "): " + e.why
}

// mergeSplit merges the replies of the parts of a split command.
func mergeSplit(name string, policy command.ResponsePolicy, sp *msSplit, res []Result) (rueidis.RedisMessage, error) {
	if policy != command.ResponseDefault {
		msgs := make([]rueidis.RedisMessage, len(res))
		for i := range res {
			msgs[i] = res[i].Msg
		}
		return aggregate(name, policy, msgs)
	}
	// The default for keyed commands: one reply per key, in the order of
	// the caller's keys (MGET).
	arrs := grow(sp.arrs, len(res))
	sp.arrs = arrs
	for i := range res {
		a, err := res[i].Msg.ToArray()
		if err != nil || len(a) != sp.parts[i].keys {
			return rueidis.RedisMessage{}, &errMergeReply{cmd: name, policy: "default",
				why: fmt.Sprintf("part %d: want an array of %d replies", i, sp.parts[i].keys)}
		}
		arrs[i] = a
	}
	out := grow(sp.out, len(sp.where)) // read by arrayMessage, which copies
	sp.out = out
	for i, w := range sp.where {
		out[i] = arrs[w.part][w.pos]
	}
	return arrayMessage(out), nil
}

// aggregate merges replies by a response policy other than the default
// one: integers (or arrays of integers, element by element) for the agg_
// policies, the first reply for all_succeeded and one_succeeded (every
// reply given here succeeded).
func aggregate(name string, policy command.ResponsePolicy, msgs []rueidis.RedisMessage) (rueidis.RedisMessage, error) {
	switch policy {
	case command.ResponseAllSucceeded, command.ResponseOneSucceeded:
		return msgs[0], nil
	case command.ResponseAggSum, command.ResponseAggMin, command.ResponseAggMax,
		command.ResponseAggLogicalAnd, command.ResponseAggLogicalOr:
	default:
		return rueidis.RedisMessage{}, &errMergeReply{cmd: name, policy: policy.String(), why: "not supported"}
	}
	bad := func(why string) error { return &errMergeReply{cmd: name, policy: policy.String(), why: why} }
	if msgs[0].IsArray() {
		// Element by element (SCRIPT EXISTS: agg_logical_and).
		first, _ := msgs[0].ToArray()
		acc := make([]int64, len(first))
		for i := range msgs {
			a, err := msgs[i].ToArray()
			if err != nil || len(a) != len(acc) {
				return rueidis.RedisMessage{}, bad("the replies are not arrays of the same length")
			}
			for k := range a {
				v, err := a[k].AsInt64()
				if err != nil {
					return rueidis.RedisMessage{}, bad("an element is not an integer")
				}
				acc[k] = combine(policy, i == 0, acc[k], v)
			}
		}
		out := make([]rueidis.RedisMessage, len(acc))
		for k, v := range acc {
			out[k] = intMessage(v)
		}
		return arrayMessage(out), nil
	}
	var acc int64
	for i := range msgs {
		v, err := msgs[i].AsInt64()
		if err != nil {
			return rueidis.RedisMessage{}, bad("a reply is not an integer")
		}
		acc = combine(policy, i == 0, acc, v)
	}
	return intMessage(acc), nil
}

// combine adds v to acc by policy (first: acc is not set yet).
func combine(policy command.ResponsePolicy, first bool, acc, v int64) int64 {
	if first {
		if policy == command.ResponseAggLogicalAnd || policy == command.ResponseAggLogicalOr {
			return b2i(v != 0)
		}
		return v
	}
	switch policy {
	case command.ResponseAggSum:
		return acc + v
	case command.ResponseAggMin:
		return min(acc, v)
	case command.ResponseAggMax:
		return max(acc, v)
	case command.ResponseAggLogicalAnd:
		return b2i(acc != 0 && v != 0)
	default: // ResponseAggLogicalOr
		return b2i(acc != 0 || v != 0)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// fanOutPolicy reports whether a keyless command with these tips goes to
// every primary (all_shards) or every node (all_nodes). Left to one node
// as before: PING (a probe of the client's reach; rueidis and go-redis
// send it to one node, and a fan-out would fail it whenever one shard
// is down), RANDOMKEY (one random key: no merge of the shards' replies
// gives a uniformly random key; one primary's answer is what it was),
// and the commands whose response_policy is special (INFO, MEMORY
// STATS, LATENCY ..., FUNCTION STATS: per-node reports, for DoPrimaries).
// SCAN's request_policy is special: Client.Scan walks every primary.
func fanOutPolicy(name string, tips command.Tips) (allNodes, ok bool) {
	if tips.Response == command.ResponseSpecial {
		return false, false
	}
	switch name {
	case "ping", "randomkey":
		return false, false
	}
	switch tips.Request {
	case command.RequestAllShards:
		return false, true
	case command.RequestAllNodes:
		return true, true
	}
	return false, false
}

// fanOut sends a keyless command whose tips say all_shards (every
// primary) or all_nodes (every node, replicas included) to each of them
// in parallel (DoPrimaries' machinery: not redirected, not retried), and
// merges the replies by the response policy. ok is false when the
// command is not one to fan out.
func (c *Client) fanOut(ctx context.Context, args []string) (msg rueidis.RedisMessage, err error, ok bool) {
	cmd, cerr := c.table.Command(args)
	if cerr != nil {
		return msg, nil, false
	}
	allNodes, ok := fanOutPolicy(cmd.Name, cmd.Tips)
	if !ok {
		return msg, nil, false
	}
	var nodes []topology.Node
	if allNodes {
		nodes = c.allNodes()
	} else {
		nodes = c.Primaries()
	}
	if len(nodes) == 0 {
		return msg, ErrNoNode, true
	}
	// A copy for doNodes' goroutines: holding the caller's args would make
	// every Do's variadic args escape to the heap.
	res := c.doNodes(ctx, nodes, slices.Clone(args))
	msg, err = mergeNodes(cmd.DisplayName(args), cmd.Tips.Response, res)
	return msg, err, true
}

// allNodes returns the primaries that serve slots and their replicas
// that the cluster does not flag failed.
func (c *Client) allNodes() []topology.Node {
	var out []topology.Node
	shards := shardsOf(c.topo.Current())
	for i := range shards {
		p := servingPrimary(&shards[i])
		if p == nil {
			continue
		}
		out = append(out, *p)
		for _, r := range shards[i].Replicas {
			if r != nil && r.Addr != "" && r.Health != topology.HealthFailed {
				out = append(out, *r)
			}
		}
	}
	return out
}

// mergeNodes merges the replies of a fanned-out command: one_succeeded
// needs one success, every other policy every node's. The default
// concatenates arrays (KEYS, SLOWLOG GET) and otherwise gives the first
// node's reply.
func mergeNodes(name string, policy command.ResponsePolicy, res []NodeResult) (rueidis.RedisMessage, error) {
	var failed []PartError
	msgs := make([]rueidis.RedisMessage, 0, len(res))
	for _, r := range res {
		if r.Err != nil && !rueidis.IsRedisNil(r.Err) {
			failed = append(failed, PartError{Slot: NoSlot, Addr: r.Node.Addr, Err: r.Err})
			continue
		}
		msgs = append(msgs, r.Msg)
	}
	if policy == command.ResponseOneSucceeded && len(msgs) > 0 {
		return msgs[0], nil
	}
	if len(failed) > 0 {
		return rueidis.RedisMessage{}, &MultiShardError{Command: name, Parts: len(res), Failed: failed}
	}
	if policy != command.ResponseDefault {
		return aggregate(name, policy, msgs)
	}
	if !msgs[0].IsArray() {
		return msgs[0], nil
	}
	var all []rueidis.RedisMessage
	for i := range msgs {
		a, err := msgs[i].ToArray()
		if err != nil {
			return rueidis.RedisMessage{}, &errMergeReply{cmd: name, policy: "default", why: "some replies are arrays, others not"}
		}
		all = append(all, a...)
	}
	return arrayMessage(all), nil
}

// Messages built by the client (merged replies). rueidis exports no
// constructor for a RedisMessage; its cache serialization
// (RedisMessage.CacheMarshal / CacheUnmarshalView) is the exported way to
// make one. The format (7 TTL bytes, then per message a type byte, an
// 8-byte big-endian length or integer, and the elements or bytes) is
// rueidis's own and may change between its versions: TestMergedMessages
// checks it against the rueidis in go.mod. The message is built inside a
// one-element array and taken out of it, so that it does not carry the
// cache-hit mark CacheUnmarshalView puts on the top level.
const (
	respInteger = ':'
	respArray   = '*'
)

// intMessage returns an integer reply.
func intMessage(v int64) rueidis.RedisMessage {
	buf := make([]byte, 0, 7+9+9)
	buf = append(buf, make([]byte, 7)...)
	buf = appendHeader(buf, respArray, 1)
	buf = appendHeader(buf, respInteger, uint64(v))
	return unwrapMessage(buf)
}

// arrayMessage returns an array reply of elems.
func arrayMessage(elems []rueidis.RedisMessage) rueidis.RedisMessage {
	n := 7 + 9 + 9
	for i := range elems {
		n += elems[i].CacheSize()
	}
	buf := make([]byte, 0, n)
	buf = append(buf, make([]byte, 7)...)
	buf = appendHeader(buf, respArray, 1)
	buf = appendHeader(buf, respArray, uint64(len(elems)))
	for i := range elems {
		// The element's 7 TTL bytes go over the last 7 bytes written
		// (buf holds at least the two headers), which are put back: the
		// element is written where it belongs, not moved there.
		at := len(buf)
		var keep [7]byte
		copy(keep[:], buf[at-7:at])
		buf = elems[i].CacheMarshal(buf[:at-7])
		copy(buf[at-7:at], keep[:])
	}
	return unwrapMessage(buf)
}

func appendHeader(buf []byte, typ byte, v uint64) []byte {
	buf = append(buf, typ)
	return binary.BigEndian.AppendUint64(buf, v)
}

// unwrapMessage decodes buf (a one-element array) and returns the
// element; buf must not be reused (the message's strings point into it).
func unwrapMessage(buf []byte) rueidis.RedisMessage {
	var m rueidis.RedisMessage
	if err := m.CacheUnmarshalView(buf); err != nil {
		return rueidis.RedisMessage{}
	}
	a, err := m.ToArray()
	if err != nil || len(a) != 1 {
		return rueidis.RedisMessage{}
	}
	return a[0]
}
