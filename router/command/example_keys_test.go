package command_test

import (
	"errors"
	"fmt"

	"github.com/redis/rueidis/mock"

	"github.com/slotrouter/slotrouter/router/command"
)

func ExampleTable_Slot() {
	tab := command.DefaultTable()

	slot, hasKeys, err := tab.Slot([]string{"GET", "user:{42}:name"})
	fmt.Println(slot, hasKeys, err)

	// Keys that share a hash tag share a slot.
	slot, hasKeys, err = tab.Slot([]string{"MGET", "user:{42}:name", "user:{42}:mail"})
	fmt.Println(slot, hasKeys, err)

	// A keyless command may go to any primary.
	_, hasKeys, err = tab.Slot([]string{"PING"})
	fmt.Println(hasKeys, err)

	// A malformed command is refused before anything is sent.
	_, _, err = tab.Slot([]string{"EVAL", "return 1", "3", "k"})
	fmt.Println(errors.Is(err, command.ErrBadCommand), err)
	// Output:
	// 8000 true <nil>
	// 8000 true <nil>
	// false <nil>
	// true slotrouter: malformed EVAL: numkeys is 3 but only 1 arguments follow
}

func ExampleCrossSlotError() {
	_, _, err := command.DefaultTable().Slot([]string{"MGET", "user:1", "user:2"})
	fmt.Println(err)

	var cs *command.CrossSlotError
	if errors.As(err, &cs) {
		for _, k := range cs.Keys {
			fmt.Printf("%s is in slot %d\n", k.Key, k.Slot)
		}
		fmt.Println(cs.SuggestedKeys)
	}
	fmt.Println(errors.Is(err, command.ErrCrossSlot))
	// Output:
	// slotrouter: MGET keys hash to different slots: "user:1" → 10778, "user:2" → 6777; put a common hash tag in the keys, e.g. "{user}:1", "{user}:2"
	// user:1 is in slot 10778
	// user:2 is in slot 6777
	// [{user}:1 {user}:2]
	// true
}

func ExampleTable_KeyIndexes() {
	tab := command.DefaultTable()
	var buf [8]int // no allocation while the keys fit
	for _, args := range [][]string{
		{"XREAD", "COUNT", "10", "STREAMS", "{s}a", "{s}b", "0", "0"},
		{"ZUNIONSTORE", "{z}dst", "2", "{z}a", "{z}b", "WEIGHTS", "1", "2"},
		{"SORT", "list", "BY", "nosort", "STORE", "dst"},
		{"OBJECT", "ENCODING", "k"},
	} {
		idx, err := tab.KeyIndexes(args, buf[:0])
		fmt.Println(args[0], idx, err)
	}
	// Output:
	// XREAD [4 5] <nil>
	// ZUNIONSTORE [1 3 4] <nil>
	// SORT [1 5] <nil>
	// OBJECT [2] <nil>
}

func ExampleTable_IsReadOnly() {
	tab := command.DefaultTable()
	for _, args := range [][]string{
		{"GET", "k"},
		{"XREAD", "BLOCK", "0", "STREAMS", "s", "$"},
		{"EVAL_RO", "return 1", "0"},
		{"EVAL", "return 1", "0"},
		{"SORT", "k"}, // flagged write: use SORT_RO on replicas
		{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"},
	} {
		fmt.Println(args[0], tab.IsReadOnly(args))
	}
	// Output:
	// GET true
	// XREAD true
	// EVAL_RO true
	// EVAL false
	// SORT false
	// XREADGROUP false
}

func ExampleTable_Learn() {
	// A module command, as COMMAND describes it (RESP2 shape): JSON.MGET
	// key [key ...] path, keys from index 1 to the one before last.
	str := mock.RedisBlobString
	num := mock.RedisInt64
	reply := mock.RedisArray(mock.RedisArray(
		str("json.mget"), num(-3), mock.RedisArray(mock.RedisString("readonly"), mock.RedisString("module")),
		num(1), num(-2), num(1), mock.RedisArray(), mock.RedisArray(),
		mock.RedisArray(mock.RedisArray(
			str("flags"), mock.RedisArray(mock.RedisString("RO")),
			str("begin_search"), mock.RedisArray(str("type"), str("index"), str("spec"), mock.RedisArray(str("index"), num(1))),
			str("find_keys"), mock.RedisArray(str("type"), str("range"), str("spec"),
				mock.RedisArray(str("lastkey"), num(-2), str("keystep"), num(1), str("limit"), num(0))),
		)),
		mock.RedisArray(),
	))
	tab, err := command.DefaultTable().Learn(reply)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, err := tab.Keys([]string{"JSON.MGET", "{doc}1", "{doc}2", "$.name"})
	fmt.Println(keys, err, tab.IsReadOnly([]string{"JSON.MGET", "a", "$"}))
	// Output:
	// [{doc}1 {doc}2] <nil> true
}
