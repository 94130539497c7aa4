// Package command is what slotrouter knows about Redis commands, with no
// I/O and no client: the command table, the key specifications, key
// extraction, and the cross-slot check with its error.
//
// A Table maps each command (and subcommand: OBJECT ENCODING, XINFO
// STREAM ...) to its arity, its flags as the server reports them
// (readonly, write, blocking, movablekeys ...) and where its keys are.
// DefaultTable is the static table of the Redis 7.0 commands, checked
// against Redis 7.0.15; Table.Learn returns a table that adds what a
// server's COMMAND reply describes (module commands, newer commands),
// decoded from the rueidis reply in RESP2 or RESP3. Tables are immutable
// and safe for concurrent use.
//
// Given a command's arguments (name first), a Table answers without
// allocating: Table.Command resolves the (sub)command, Table.KeyIndexes
// finds the positions of its keys (mirroring the server's own key
// extraction, SORT ... STORE, MIGRATE ... KEYS and XREAD ... STREAMS
// included), Table.Slot gives the one hash slot they share, and
// IsReadOnly and IsBlocking read the flags. A malformed command (a wrong
// arity, a bad numkeys, an odd STREAMS list) is refused with an error
// wrapping ErrBadCommand, an unknown one with ErrUnknownCommand, and keys
// that hash to different slots with a *CrossSlotError (ErrCrossSlot)
// that lists every key with its slot and suggests hash-tagged names.
// CheckSlot does the cross-slot check for keys already known.
//
// Every command carries its Redis 7 command tips (Command.Tips,
// Table.TipsOf): the request_policy that tells a cluster client how to
// send a command whose keys span slots (multi_shard: MGET, MSET, DEL,
// UNLINK, EXISTS, TOUCH, MSETNX) or that has no keys but concerns every
// shard or node (all_shards: DBSIZE, KEYS, FLUSHALL, FUNCTION LOAD...;
// all_nodes: CONFIG SET, SCRIPT LOAD...), and the response_policy that
// merges the replies (agg_sum, agg_min, all_succeeded, one_succeeded...).
// They are static for Redis 7.0 (checked against 7.0.15) and learned
// from COMMAND for the rest; this package only describes them, package
// router acts on them.
//
// Computed once per command when a table is built, for a client's hot
// path: Command.Class sorts out what a command asks of a client beyond
// its keys (0 for an ordinary command; transactions, PUBLISH, commands
// that take over the connection, the subscribe family, blocking and
// fan-out commands), and Command.FixedKey gives the position of the one
// key of a command like GET or SET, so that its slot is that of one
// argument.
//
// A proxy or tool that must decide where a command goes without the
// client — the slot's owner comes from package topology — calls
// Table.Slot on the parsed arguments, answers an error to its own caller
// before forwarding anything, and sends a command without keys to any
// primary. Package router is the client built on this package: its Route
// adds read policies and the topology, and its Client adds the
// connections and the redirect loop. This package imports only slots,
// hashtag and rueidis (for the COMMAND reply), never router.
package command
