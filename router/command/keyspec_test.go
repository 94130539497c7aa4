package command_test

import (
	"testing"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
)

// Builders of COMMAND entries, as a server sends them (RESP3 maps, or
// RESP2 flat arrays with resp2 set).

type cmdEntryOpts struct {
	flags      []string
	first      int64
	last       int64
	step       int64
	specs      []rueidis.RedisMessage
	subs       []rueidis.RedisMessage
	legacyOnly bool // a Redis 6 entry: no key specs nor subcommands
}

func respStrs(ss ...string) rueidis.RedisMessage {
	m := make([]rueidis.RedisMessage, len(ss))
	for i, s := range ss {
		m[i] = mock.RedisString(s)
	}
	return mock.RedisArray(m...)
}

func cmdEntry(name string, arity int64, o cmdEntryOpts) rueidis.RedisMessage {
	f := []rueidis.RedisMessage{
		mock.RedisBlobString(name), mock.RedisInt64(arity), respStrs(o.flags...),
		mock.RedisInt64(o.first), mock.RedisInt64(o.last), mock.RedisInt64(o.step), respStrs("@read"),
	}
	if !o.legacyOnly {
		f = append(f, respStrs(), mock.RedisArray(o.specs...), mock.RedisArray(o.subs...))
	}
	return mock.RedisArray(f...)
}

// respKV builds a RESP3 map, or with resp2 a flat array.
func respKV(resp2 bool, pairs ...any) rueidis.RedisMessage {
	if resp2 {
		var vals []rueidis.RedisMessage
		for i := 0; i < len(pairs); i += 2 {
			vals = append(vals, mock.RedisBlobString(pairs[i].(string)), respVal(pairs[i+1]))
		}
		return mock.RedisArray(vals...)
	}
	m := map[string]rueidis.RedisMessage{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i].(string)] = respVal(pairs[i+1])
	}
	return mock.RedisMap(m)
}

func respVal(v any) rueidis.RedisMessage {
	switch v := v.(type) {
	case int:
		return mock.RedisInt64(int64(v))
	case string:
		return mock.RedisBlobString(v)
	case rueidis.RedisMessage:
		return v
	}
	panic("val: unsupported type")
}

func cmdSpec(resp2 bool, flags []string, bsType string, bs rueidis.RedisMessage, fkType string, fk rueidis.RedisMessage) rueidis.RedisMessage {
	return respKV(resp2,
		"flags", respStrs(flags...),
		"begin_search", respKV(resp2, "type", bsType, "spec", bs),
		"find_keys", respKV(resp2, "type", fkType, "spec", fk))
}

// moduleReply describes made-up module commands of every spec kind.
func moduleReply(resp2 bool) rueidis.RedisMessage {
	idx := func(i int) rueidis.RedisMessage { return respKV(resp2, "index", i) }
	rng := func(last, step, limit int) rueidis.RedisMessage {
		return respKV(resp2, "lastkey", last, "keystep", step, "limit", limit)
	}
	return mock.RedisArray(
		cmdEntry("json.get", -2, cmdEntryOpts{flags: []string{"readonly", "module"}, first: 1, last: 1, step: 1,
			specs: []rueidis.RedisMessage{cmdSpec(resp2, []string{"RO"}, "index", idx(1), "range", rng(0, 1, 0))}}),
		cmdEntry("json.mset", -4, cmdEntryOpts{flags: []string{"write", "module", "denyoom"}, first: 1, last: -1, step: 3,
			specs: []rueidis.RedisMessage{cmdSpec(resp2, []string{"RW"}, "index", idx(1), "range", rng(-1, 3, 0))}}),
		cmdEntry("mod.kw", -3, cmdEntryOpts{flags: []string{"write", "module", "movablekeys"},
			specs: []rueidis.RedisMessage{cmdSpec(resp2, nil, "keyword", respKV(resp2, "keyword", "KEYS", "startfrom", 1),
				"range", rng(-1, 1, 2))}}),
		cmdEntry("mod.num", -3, cmdEntryOpts{flags: []string{"readonly", "module", "movablekeys"},
			specs: []rueidis.RedisMessage{cmdSpec(resp2, nil, "index", idx(1), "keynum",
				respKV(resp2, "keynumidx", 0, "firstkey", 1, "keystep", 1))}}),
		cmdEntry("mod.unknown", -2, cmdEntryOpts{flags: []string{"write", "module", "movablekeys"},
			specs: []rueidis.RedisMessage{
				cmdSpec(resp2, nil, "index", idx(1), "range", rng(0, 1, 0)),
				cmdSpec(resp2, nil, "unknown", respKV(resp2), "unknown", respKV(resp2)),
			}}),
		cmdEntry("mod.future", -2, cmdEntryOpts{flags: []string{"write", "some_future_flag"},
			specs: []rueidis.RedisMessage{cmdSpec(resp2, []string{"incomplete"}, "index", idx(1), "fancy", respKV(resp2))}}),
		cmdEntry("mod.cont", -2, cmdEntryOpts{subs: []rueidis.RedisMessage{
			cmdEntry("mod.cont|get", 3, cmdEntryOpts{flags: []string{"readonly"},
				specs: []rueidis.RedisMessage{cmdSpec(resp2, nil, "index", idx(2), "range", rng(0, 1, 0))}}),
			cmdEntry("help", 2, cmdEntryOpts{flags: []string{"loading"}}),
		}}),
		mock.RedisNil(), // COMMAND INFO of an unknown name
	)
}

func TestLearnModuleCommands(t *testing.T) {
	for _, resp2 := range []bool{false, true} {
		tab, err := command.DefaultTable().Learn(moduleReply(resp2))
		require.NoError(t, err)
		assert.Equal(t, command.DefaultTable().Len()+7, tab.Len())
		runTableCases(t, tab, []keyCase{
			{"JSON.GET k $", []int{1}},
			{"json.mset a $ 1 b $ 2", []int{1, 4}},
			{"mod.kw x y KEYS a b 1 2", []int{4, 5}},
			{"mod.kw x y z", nil},
			{"mod.num 2 a b c", []int{2, 3}},
			{"mod.unknown a b", []int{1}},
			{"mod.future a", nil},
			{"mod.cont get k", []int{2}},
			{"MOD.CONT GET k", []int{2}},
			{"mod.cont help", nil},
		})
		c, _ := tab.Lookup("json.get")
		assert.Equal(t, command.FlagReadOnly|command.FlagModule, c.Flags)
		assert.True(t, tab.IsReadOnly([]string{"json.get", "k"}))
		c, _ = tab.Lookup("mod.unknown")
		assert.NotZero(t, c.Flags&command.FlagKeysIncomplete)
		c, _ = tab.Lookup("mod.future")
		assert.NotZero(t, c.Flags&command.FlagKeysIncomplete)
		assert.Equal(t, command.FlagWrite, c.Flags&^command.FlagKeysIncomplete)
		c, _ = tab.Lookup("mod.cont")
		assert.NotZero(t, c.Flags&command.FlagContainer)
		assert.ElementsMatch(t, []string{"mod.cont|get", "mod.cont|help"}, c.Subcommands())

		for _, bad := range []string{"mod.kw x y KEYS a b 1", "mod.num 3 a b", "mod.num -1 a", "json.get"} {
			_, err := tab.KeyIndexes(sampleArgs(bad), nil)
			assert.ErrorIs(t, err, command.ErrBadCommand, bad)
		}
	}
}

func runTableCases(t *testing.T, tab *command.Table, cases []keyCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := tab.KeyIndexes(sampleArgs(tc.cmd), nil)
		if assert.NoError(t, err, tc.cmd) {
			assert.Equal(t, tc.want, got, tc.cmd)
		}
	}
}

func TestLearnLegacyTriple(t *testing.T) {
	reply := mock.RedisArray(
		cmdEntry("old.mset", -3, cmdEntryOpts{flags: []string{"write"}, first: 1, last: -1, step: 2, legacyOnly: true}),
		cmdEntry("old.two", 3, cmdEntryOpts{flags: []string{"write"}, first: 1, last: 2, step: 1, legacyOnly: true}),
		cmdEntry("old.eval", -3, cmdEntryOpts{flags: []string{"noscript", "movablekeys"}, legacyOnly: true}),
		cmdEntry("old.ping", -1, cmdEntryOpts{flags: []string{"fast"}, legacyOnly: true}),
	)
	tab, err := new(command.Table).Learn(reply)
	require.NoError(t, err)
	runTableCases(t, tab, []keyCase{
		{"old.mset a 1 b 2", []int{1, 3}},
		{"old.two a b", []int{1, 2}},
		{"old.eval s 1 k", nil},
		{"old.ping", nil},
	})
	c, _ := tab.Lookup("old.eval")
	assert.NotZero(t, c.Flags&command.FlagKeysIncomplete)
	assert.Zero(t, c.Flags&command.FlagKeyless)
	c, _ = tab.Lookup("old.ping")
	assert.NotZero(t, c.Flags&command.FlagKeyless)
}

// TestLearnStaticStaysAuthoritative: a server that describes a known
// command differently does not change it, Learn leaves its receiver
// alone, and new subcommands of known containers are added.
func TestLearnStaticStaysAuthoritative(t *testing.T) {
	static := command.DefaultTable()
	before, _ := static.Lookup("get")
	objBefore, _ := static.Lookup("object")
	reply := mock.RedisArray(
		cmdEntry("GET", 3, cmdEntryOpts{flags: []string{"write"},
			specs: []rueidis.RedisMessage{cmdSpec(false, nil, "index", respKV(false, "index", 2), "range",
				respKV(false, "lastkey", 0, "keystep", 1, "limit", 0))}}),
		cmdEntry("object", -2, cmdEntryOpts{subs: []rueidis.RedisMessage{
			cmdEntry("object|encoding", 3, cmdEntryOpts{flags: []string{"write"}}),
			cmdEntry("object|newsub", 3, cmdEntryOpts{flags: []string{"readonly"},
				specs: []rueidis.RedisMessage{cmdSpec(false, nil, "index", respKV(false, "index", 2), "range",
					respKV(false, "lastkey", 0, "keystep", 1, "limit", 0))}}),
		}}),
	)
	tab, err := static.Learn(reply)
	require.NoError(t, err)
	got, _ := tab.Lookup("get")
	assert.Same(t, before, got)
	assert.True(t, tab.IsReadOnly([]string{"GET", "k"}))
	runTableCases(t, tab, []keyCase{
		{"GET k", []int{1}},
		{"OBJECT ENCODING k", []int{2}},
		{"OBJECT NEWSUB k", []int{2}},
	})
	assert.True(t, tab.IsReadOnly([]string{"OBJECT", "ENCODING", "k"}))

	// The receiver is unchanged.
	_, err = static.KeyIndexes([]string{"OBJECT", "NEWSUB", "k"}, nil)
	assert.NoError(t, err) // an unknown subcommand falls back to the keyless container
	objAfter, _ := static.Lookup("object")
	assert.Same(t, objBefore, objAfter)
	_, ok := objAfter.Subcommand("newsub")
	assert.False(t, ok)
	slot, hasKeys, err := static.Slot([]string{"OBJECT", "NEWSUB", "k"})
	assert.NoError(t, err)
	assert.False(t, hasKeys)
	assert.Zero(t, slot)
}

func TestLearnCapturedRESP2EqualsRESP3(t *testing.T) {
	t2, err := learnCaptured("resp2")
	require.NoError(t, err)
	t3, err := learnCaptured("resp3")
	require.NoError(t, err)
	assert.Equal(t, t3, t2)
	assert.Equal(t, command.DefaultTable().Len(), t3.Len())

	// Learning the server's own commands changes nothing in the static
	// table.
	merged, err := command.DefaultTable().Learn(mustCaptured(t, "resp3"))
	require.NoError(t, err)
	for _, name := range merged.Names() {
		m, _ := merged.Lookup(name)
		s, _ := command.DefaultTable().Lookup(name)
		assert.Same(t, s, m, name)
	}
}

func mustCaptured(t *testing.T, proto string) rueidis.RedisMessage {
	t.Helper()
	raw, err := readCapture(proto)
	require.NoError(t, err)
	m, err := parseRESP(raw)
	require.NoError(t, err)
	return m
}

func TestLearnRejectsMalformedReplies(t *testing.T) {
	good := func(specs ...rueidis.RedisMessage) rueidis.RedisMessage {
		return mock.RedisArray(cmdEntry("x", 2, cmdEntryOpts{specs: specs}))
	}
	rng := respKV(false, "lastkey", 0, "keystep", 1, "limit", 0)
	idx := respKV(false, "index", 1)
	for name, reply := range map[string]rueidis.RedisMessage{
		"not an array":   mock.RedisString("OK"),
		"error reply":    mock.RedisError("ERR nope"),
		"entry not list": mock.RedisArray(mock.RedisInt64(1)),
		"short entry":    mock.RedisArray(mock.RedisArray(mock.RedisBlobString("x"), mock.RedisInt64(2))),
		"empty name": mock.RedisArray(mock.RedisArray(mock.RedisBlobString(""), mock.RedisInt64(2), respStrs(),
			mock.RedisInt64(0), mock.RedisInt64(0), mock.RedisInt64(0))),
		"arity not int": mock.RedisArray(mock.RedisArray(mock.RedisBlobString("x"), mock.RedisBlobString("two"), respStrs(),
			mock.RedisInt64(0), mock.RedisInt64(0), mock.RedisInt64(0))),
		"flags not list": mock.RedisArray(mock.RedisArray(mock.RedisBlobString("x"), mock.RedisInt64(2), mock.RedisInt64(1),
			mock.RedisInt64(0), mock.RedisInt64(0), mock.RedisInt64(0))),
		"huge arity": mock.RedisArray(mock.RedisArray(mock.RedisBlobString("x"), mock.RedisInt64(1<<40), respStrs(),
			mock.RedisInt64(0), mock.RedisInt64(0), mock.RedisInt64(0))),
		"spec not map":     good(mock.RedisInt64(3)),
		"no begin_search":  good(respKV(false, "find_keys", respKV(false, "type", "range", "spec", rng))),
		"no find_keys":     good(respKV(false, "begin_search", respKV(false, "type", "index", "spec", idx))),
		"index missing":    good(cmdSpec(false, nil, "index", respKV(false), "range", rng)),
		"negative index":   good(cmdSpec(false, nil, "index", respKV(false, "index", -1), "range", rng)),
		"zero keystep":     good(cmdSpec(false, nil, "index", idx, "range", respKV(false, "lastkey", 0, "keystep", 0, "limit", 0))),
		"huge lastkey":     good(cmdSpec(false, nil, "index", idx, "range", respKV(false, "lastkey", 1<<30, "keystep", 1, "limit", 0))),
		"keyword not text": good(cmdSpec(false, nil, "keyword", respKV(false, "keyword", mock.RedisArray(), "startfrom", 1), "range", rng)),
		"type not text":    good(respKV(false, "begin_search", respKV(false, "type", mock.RedisArray(), "spec", idx), "find_keys", respKV(false, "type", "range", "spec", rng))),
		"odd spec array":   good(mock.RedisArray(mock.RedisBlobString("flags"))),
		"sub of sub": mock.RedisArray(cmdEntry("a", -2, cmdEntryOpts{subs: []rueidis.RedisMessage{
			cmdEntry("a|b", -2, cmdEntryOpts{subs: []rueidis.RedisMessage{cmdEntry("a|b|c", 2, cmdEntryOpts{})}})}})),
	} {
		tab, err := command.DefaultTable().Learn(reply)
		assert.ErrorIs(t, err, command.ErrCommandReply, name)
		assert.True(t, tab == nil, name)
	}
}
