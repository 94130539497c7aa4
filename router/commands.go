package router

import (
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// The command table lives in package router/command, which needs no
// client (tools and proxies import it alone). The names below are kept
// for the code written against router before the table moved there; they
// are the same types and the same error values, so errors.Is and
// errors.As work with either spelling. New code may use either.

// Table is command.Table: what the router knows about each command's
// keys and flags (Options.Table, Client.Table).
type Table = command.Table

// Command is command.Command: one command or subcommand of a Table.
type Command = command.Command

// Flags is command.Flags, the flags of a Command (the constants are
// command.FlagWrite, command.FlagReadOnly, ...).
type Flags = command.Flags

// KeySpec is command.KeySpec, one Redis 7 key specification.
type KeySpec = command.KeySpec

// KeySlot is command.KeySlot, one key of a CrossSlotError with its slot.
type KeySlot = command.KeySlot

// CrossSlotError is command.CrossSlotError: the keys of one command hash
// to different slots, found before anything is sent. Get it with
// errors.As.
type CrossSlotError = command.CrossSlotError

// MaxListedKeys is command.MaxListedKeys: how many keys
// CrossSlotError.Error lists.
const MaxListedKeys = command.MaxListedKeys

// Errors of the command table, the same values as package command's.
var (
	// ErrBadCommand is command.ErrBadCommand: a malformed command (or,
	// from the client, an input it refuses before sending anything).
	ErrBadCommand = command.ErrBadCommand
	// ErrUnknownCommand is command.ErrUnknownCommand: the table knows
	// nothing of the command.
	ErrUnknownCommand = command.ErrUnknownCommand
	// ErrCrossSlot is command.ErrCrossSlot: the keys of one command hash
	// to more than one slot (the error is a *CrossSlotError).
	ErrCrossSlot = command.ErrCrossSlot
	// ErrCommandReply is command.ErrCommandReply: a COMMAND reply could
	// not be decoded (Table.Learn).
	ErrCommandReply = command.ErrCommandReply
)

// DefaultTable returns command.DefaultTable(), the shared static table of
// the Redis 7.0 commands.
func DefaultTable() *Table { return command.DefaultTable() }

// CheckSlot is command.CheckSlot: the slot that all keys hash to, for a
// command named name (used in the error message only), or a
// *CrossSlotError. With no keys it returns 0, false, nil. It allocates
// nothing unless it fails.
func CheckSlot(name string, keys ...string) (slot slots.Slot, hasKeys bool, err error) {
	return command.CheckSlot(name, keys...)
}
