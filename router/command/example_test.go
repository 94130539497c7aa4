package command_test

import (
	"errors"
	"fmt"

	"github.com/slotrouter/slotrouter/router/command"
)

// A proxy's decision for each command it receives: what the command is,
// where its keys are, which slot it goes to, or why it is refused before
// anything is forwarded.
func Example() {
	tab := command.DefaultTable()
	for _, args := range [][]string{
		{"SET", "user:{42}:name", "ann"},
		{"OBJECT", "ENCODING", "user:{42}:name"},
		{"MGET", "user:{42}:name", "user:{42}:mail"},
		{"PING"},
		{"MGET", "user:1", "user:2"},
		{"GET"},
		{"NOSUCH", "k"},
	} {
		c, err := tab.Command(args)
		if err != nil {
			fmt.Printf("%v: unknown: %v\n", args, errors.Is(err, command.ErrUnknownCommand))
			continue
		}
		var buf [8]int
		idx, err := c.KeyIndexes(args, buf[:0])
		if err != nil {
			fmt.Printf("%v: refused: %v\n", args, errors.Is(err, command.ErrBadCommand))
			continue
		}
		slot, hasKeys, err := c.Slot(args)
		var cs *command.CrossSlotError
		switch {
		case errors.As(err, &cs):
			fmt.Printf("%v: cross-slot, keys in slots %d and %d, try %q\n", args, cs.Keys[0].Slot, cs.Keys[1].Slot, cs.SuggestedKeys)
		case !hasKeys:
			fmt.Printf("%v: no keys, any primary\n", args)
		default:
			fmt.Printf("%v: %s, keys at %v, slot %d, read-only %v\n", args, c.Name, idx, slot, c.Flags&command.FlagReadOnly != 0)
		}
	}
	// Output:
	// [SET user:{42}:name ann]: set, keys at [1], slot 8000, read-only false
	// [OBJECT ENCODING user:{42}:name]: object|encoding, keys at [2], slot 8000, read-only true
	// [MGET user:{42}:name user:{42}:mail]: mget, keys at [1 2], slot 8000, read-only true
	// [PING]: no keys, any primary
	// [MGET user:1 user:2]: cross-slot, keys in slots 10778 and 6777, try ["{user}:1" "{user}:2"]
	// [GET]: refused: true
	// [NOSUCH k]: unknown: true
}
