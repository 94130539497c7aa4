package command

import "strings"

// Class tells a cluster client what a command asks of it beyond routing
// by its keys: a set of bits, 0 for an ordinary command (GET, SET,
// HGETALL, MGET...). It is computed from the command's name, flags and
// tips once, when the table is built, so that a router pays one test for
// an ordinary command instead of comparing names.
type Class uint8

// Command classes.
const (
	// ClassTransaction: MULTI, EXEC, DISCARD, WATCH, UNWATCH, which
	// belong to a transaction's connection.
	ClassTransaction Class = 1 << iota
	// ClassPublish: PUBLISH, keyless, but best sent to the primary of its
	// channel's slot (one node per channel keeps a publisher's messages in
	// order).
	ClassPublish
	// ClassConnState: MONITOR, SYNC, PSYNC, QUIT, RESET, HELLO, AUTH,
	// READONLY, READWRITE, ASKING, CLIENT REPLY and CLIENT TRACKING, which change
	// or take over the state of a connection that a client shares
	// between callers.
	ClassConnState
	// ClassSubscribe: a command whose name ends in "subscribe"
	// (SUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE...), for a pub/sub API only.
	ClassSubscribe
	// ClassBlocking: a command that may block its connection: one with
	// FlagBlocking (see Command.IsBlocking for the arguments that decide
	// it), or WAIT and WAITAOF, which wait for replicas (or the AOF)
	// without the blocking flag.
	ClassBlocking
	// ClassFanOut: the request tip is all_shards or all_nodes, so that a
	// keyless call may go to every shard or node.
	ClassFanOut

	// classKnown marks Command.class as computed (by finish); it is not
	// part of the Class that Command.Class returns.
	classKnown Class = 1 << 7
)

// Class returns the command's class (0 for an ordinary command). For the
// commands of a Table it is computed when the table is built.
func (c *Command) Class() Class {
	if c.class&classKnown == 0 {
		return classOf(c) // a Command that finish has not seen
	}
	return c.class &^ classKnown
}

// classOf computes the class of c from its name, flags and tips.
func classOf(c *Command) Class {
	var k Class
	switch c.Name {
	case "multi", "exec", "discard", "watch", "unwatch":
		k |= ClassTransaction
	case "publish":
		k |= ClassPublish
	case "monitor", "sync", "psync", "quit", "reset", "hello", "auth",
		"readonly", "readwrite", "asking", "client|reply", "client|tracking":
		k |= ClassConnState
	}
	const suffix = "subscribe"
	if n := len(c.Name); n >= len(suffix) && strings.EqualFold(c.Name[n-len(suffix):], suffix) {
		k |= ClassSubscribe
	}
	if c.Flags&FlagBlocking != 0 || c.Name == "wait" || c.Name == "waitaof" {
		k |= ClassBlocking
	}
	if c.Tips.Request == RequestAllShards || c.Tips.Request == RequestAllNodes {
		k |= ClassFanOut
	}
	return k
}

// String lists the classes by name, separated by '|' ("0" for none).
func (k Class) String() string {
	if k == 0 {
		return "0"
	}
	var b strings.Builder
	for i, n := range [...]string{"transaction", "publish", "connstate", "subscribe", "blocking", "fanout"} {
		if k&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// FixedKey returns the position in args (name first) of the command's
// only key when the command has exactly one key at a fixed position (GET
// k, SET k v, HINCRBY k f n: 1) and args have the command's arity, else
// 0: a command with no key, several keys or keys whose positions depend
// on the arguments, a container command (its subcommand decides), or a
// wrong number of arguments. args[FixedKey(args)] is then the key that
// decides the slot.
func (c *Command) FixedKey(args []string) int {
	if uint(len(args))-c.singleMin <= c.singleSpan {
		return c.single // inlined into the caller
	}
	return c.fixedKeySlow(args)
}

// fixedKeySlow is FixedKey outside the bounds computed by finish: 0, or
// for a Command that finish has not seen what singleKey says.
func (c *Command) fixedKeySlow(args []string) int {
	if c.single != 0 {
		return 0 // no single key, or the wrong number of arguments
	}
	n := len(args)
	if i := c.singleKey(); i > 0 && i < n && c.arityOK(n) {
		return i
	}
	return 0
}
