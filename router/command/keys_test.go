package command_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// keyCase is a command and the positions of its keys. These tables pin
// the behaviour per family without a server; TestKeysMatchServerGetKeys
// checks the same table against the server itself.
type keyCase struct {
	cmd  string
	want []int
}

func runKeyCases(t *testing.T, cases []keyCase) {
	t.Helper()
	tab := command.DefaultTable()
	for _, tc := range cases {
		args := sampleArgs(tc.cmd)
		got, err := tab.KeyIndexes(args, nil)
		if assert.NoError(t, err, tc.cmd) {
			assert.Equal(t, tc.want, got, tc.cmd)
		}
	}
}

func TestKeysStrings(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"GET k", []int{1}},
		{"get k", []int{1}},
		{"GeT k", []int{1}},
		{"SET k v EX 10 NX", []int{1}},
		{"GETEX k PERSIST", []int{1}},
		{"GETDEL k", []int{1}},
		{"GETSET k v", []int{1}},
		{"SETRANGE k 0 v", []int{1}},
		{"GETRANGE k 0 1", []int{1}},
		{"APPEND k v", []int{1}},
		{"STRLEN k", []int{1}},
		{"INCRBYFLOAT k 1", []int{1}},
		{"DECRBY k 1", []int{1}},
		{"MGET a b c", []int{1, 2, 3}},
		{"MSET a 1 b 2 c 3", []int{1, 3, 5}},
		{"MSETNX a 1 b 2", []int{1, 3}},
		{"LCS a b", []int{1, 2}},
		{"BITOP XOR d a b c", []int{2, 3, 4, 5}},
		{"BITCOUNT k 0 1", []int{1}},
		{"BITFIELD k GET u8 0", []int{1}},
		{"BITFIELD_RO k GET u8 0", []int{1}},
	})
}

func TestKeysKeyspace(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"DEL a b c", []int{1, 2, 3}},
		{"UNLINK a", []int{1}},
		{"EXISTS a b", []int{1, 2}},
		{"TOUCH a b", []int{1, 2}},
		{"WATCH a b", []int{1, 2}},
		{"COPY s d REPLACE", []int{1, 2}},
		{"RENAME a b", []int{1, 2}},
		{"RENAMENX a b", []int{1, 2}},
		{"TYPE k", []int{1}},
		{"TTL k", []int{1}},
		{"PTTL k", []int{1}},
		{"EXPIRE k 10 GT", []int{1}},
		{"PEXPIREAT k 10", []int{1}},
		{"EXPIRETIME k", []int{1}},
		{"PERSIST k", []int{1}},
		{"DUMP k", []int{1}},
		{"RESTORE k 0 x REPLACE", []int{1}},
		{"OBJECT ENCODING k", []int{2}},
		{"object Freq k", []int{2}},
		{"MEMORY USAGE k SAMPLES 0", []int{2}},
		{"SORT k", []int{1}},
		{"SORT k BY w_* LIMIT 0 5 GET o_* STORE d", []int{1, 10}},
		{"SORT k STORE a STORE b", []int{1, 5}},
		{"SORT k LIMIT store 1 ALPHA", []int{1}}, // "store" is LIMIT's offset
		{"SORT k GET store", []int{1}},
		{"SORT_RO k BY w_* GET o_*", []int{1}},
		{`MIGRATE h 1 k 0 10`, []int{3}},
		{`MIGRATE h 1 "" 0 10 COPY REPLACE KEYS a b c`, []int{9, 10, 11}},
		{`MIGRATE h 1 "" 0 10 AUTH keys KEYS a`, []int{9}},
		{`MIGRATE h 1 "" 0 10 AUTH2 keys keys KEYS a`, []int{10}},
		{`MIGRATE h 1 "" 0 10 KEYS`, nil},
	})
}

func TestKeysCollections(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"HGETALL k", []int{1}},
		{"HSET k f v g w", []int{1}},
		{"HMGET k a b", []int{1}},
		{"LPUSH k a b", []int{1}},
		{"LMOVE a b LEFT RIGHT", []int{1, 2}},
		{"BLMOVE a b LEFT RIGHT 0", []int{1, 2}},
		{"RPOPLPUSH a b", []int{1, 2}},
		{"BRPOPLPUSH a b 0", []int{1, 2}},
		{"BLPOP a b c 0", []int{1, 2, 3}},
		{"BRPOP a 1.5", []int{1}},
		{"BZPOPMIN a b 0", []int{1, 2}},
		{"BZPOPMAX a 0", []int{1}},
		{"LMPOP 2 a b LEFT COUNT 3", []int{2, 3}},
		{"BLMPOP 0 2 a b LEFT", []int{3, 4}},
		{"ZMPOP 1 a MIN", []int{2}},
		{"BZMPOP 1.5 3 a b c MAX", []int{3, 4, 5}},
		{"SMOVE a b m", []int{1, 2}},
		{"SUNIONSTORE d a b", []int{1, 2, 3}},
		{"SINTERSTORE d a", []int{1, 2}},
		{"SDIFFSTORE d a b", []int{1, 2, 3}},
		{"SINTERCARD 2 a b LIMIT 1", []int{2, 3}},
		{"ZUNIONSTORE d 2 a b WEIGHTS 1 2", []int{1, 3, 4}},
		{"ZINTERSTORE d 1 a", []int{1, 3}},
		{"ZDIFFSTORE d 2 a b", []int{1, 3, 4}},
		{"ZUNION 2 a b WITHSCORES", []int{2, 3}},
		{"ZINTER 3 a b c", []int{2, 3, 4}},
		{"ZDIFF 2 a b", []int{2, 3}},
		{"ZINTERCARD 2 a b", []int{2, 3}},
		{"ZRANGESTORE d s 0 -1", []int{1, 2}},
		{"PFCOUNT a b", []int{1, 2}},
		{"PFMERGE d a b", []int{1, 2, 3}},
		{"PFMERGE d", []int{1}},
	})
}

func TestKeysGeo(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"GEOADD k 1 2 m", []int{1}},
		{"GEODIST k a b km", []int{1}},
		{"GEOHASH k a b", []int{1}},
		{"GEOPOS k a", []int{1}},
		{"GEORADIUS k 1 2 3 m", []int{1}},
		{"GEORADIUS k 1 2 3 m STORE d", []int{1, 7}},
		{"GEORADIUS k 1 2 3 m COUNT 1 STOREDIST d", []int{1, 9}},
		{"GEORADIUS k 1 2 3 m STORE a STOREDIST b", []int{1, 7, 9}},
		{"GEORADIUS_RO k 1 2 3 m", []int{1}},
		{"GEORADIUSBYMEMBER k m 3 km STORE d", []int{1, 6}},
		{"GEORADIUSBYMEMBER_RO k m 3 km", []int{1}},
		{"GEOSEARCH k FROMMEMBER m BYRADIUS 1 m", []int{1}},
		{"GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 m", []int{1, 2}},
	})
}

func TestKeysStreams(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"XADD k * f v", []int{1}},
		{"XRANGE k - +", []int{1}},
		{"XLEN k", []int{1}},
		{"XACK k g 1-0", []int{1}},
		{"XCLAIM k g c 0 1-0", []int{1}},
		{"XAUTOCLAIM k g c 0 0", []int{1}},
		{"XPENDING k g", []int{1}},
		{"XTRIM k MAXLEN 1", []int{1}},
		{"XDEL k 1-0", []int{1}},
		{"XGROUP CREATE k g $ MKSTREAM", []int{2}},
		{"XGROUP SETID k g $", []int{2}},
		{"XINFO STREAM k FULL", []int{2}},
		{"XINFO GROUPS k", []int{2}},
		{"XREAD STREAMS a 0", []int{2}},
		{"XREAD COUNT 10 BLOCK 0 STREAMS a b 0 0", []int{6, 7}},
		{"xread streams streams streams 0 0", []int{2, 3}},
		{"XREADGROUP GROUP g c STREAMS a >", []int{5}},
		{"XREADGROUP GROUP streams c COUNT 1 BLOCK 0 NOACK STREAMS a b > >", []int{10, 11}},
	})
}

func TestKeysScriptsAndPubSub(t *testing.T) {
	runKeyCases(t, []keyCase{
		{"EVAL s 0", nil},
		{"EVAL s 0 arg", nil},
		{"EVAL s 2 a b arg", []int{3, 4}},
		{"EVALSHA h 1 a", []int{3}},
		{"EVAL_RO s 1 a", []int{3}},
		{"EVALSHA_RO h 2 a b", []int{3, 4}},
		{"FCALL f 1 a x", []int{3}},
		{"FCALL_RO f 2 a b", []int{3, 4}},
		{"SPUBLISH ch msg", []int{1}},
		{"SSUBSCRIBE a b", []int{1, 2}},
		{"SUNSUBSCRIBE", nil},
		{"PUBLISH ch msg", nil},
	})
}

func TestKeylessCommands(t *testing.T) {
	tab := command.DefaultTable()
	for _, s := range []string{
		"PING", "PING hello", "INFO", "INFO server", "TIME", "DBSIZE", "ECHO x", "RANDOMKEY",
		"CLUSTER SHARDS", "CLUSTER KEYSLOT k", "CLUSTER INFO", "CONFIG GET maxmemory",
		"FUNCTION LIST", "SCRIPT LOAD s", "SCRIPT FLUSH", "PUBLISH ch m", "COMMAND", "COMMAND INFO get",
		"CLIENT LIST", "KEYS *", "SCAN 0", "FLUSHALL", "WAIT 1 0", "OBJECT HELP", "XINFO HELP",
		"CLUSTER NOSUCHSUB", // an unknown subcommand of a keyless container
	} {
		args := sampleArgs(s)
		slot, hasKeys, err := tab.Slot(args)
		require.NoError(t, err, s)
		assert.False(t, hasKeys, s)
		assert.Zero(t, slot, s)
		cmd, err := tab.Command(args)
		require.NoError(t, err, s)
		assert.NotZero(t, cmd.Flags&command.FlagKeyless, "%s: %v", s, cmd.Flags)
	}
}

func TestSlot(t *testing.T) {
	tab := command.DefaultTable()
	for _, s := range []string{
		"GET user:1", "SET {user:1}:name x", "MGET {u}a {u}b {u}c", "EVAL s 2 {u}a {u}b",
		"XREAD STREAMS {s}a {s}b 0 0", "OBJECT ENCODING k", "SPUBLISH ch m",
	} {
		args := sampleArgs(s)
		keys, err := tab.Keys(args)
		require.NoError(t, err, s)
		slot, hasKeys, err := tab.Slot(args)
		require.NoError(t, err, s)
		assert.True(t, hasKeys, s)
		assert.Equal(t, slots.Of(keys[0]), slot, s)
		shared, ok := hashtag.Shared(keys...)
		assert.True(t, ok)
		assert.Equal(t, slots.Of(shared), slot, s)
	}
}

func TestIsReadOnly(t *testing.T) {
	tab := command.DefaultTable()
	ro := []string{
		"GET k", "get k", "MGET a b", "HGETALL k", "XREAD STREAMS a 0", "XREAD BLOCK 0 STREAMS a 0",
		"EVAL_RO s 0", "EVALSHA_RO h 1 k", "FCALL_RO f 0", "SORT_RO k", "GEORADIUS_RO k 1 2 3 m",
		"GEORADIUSBYMEMBER_RO k m 1 m", "OBJECT ENCODING k", "XINFO STREAM k", "MEMORY USAGE k",
		"EXISTS k", "TTL k", "BITFIELD_RO k GET u8 0", "ZRANGE k 0 1", "LRANGE k 0 1", "SCAN 0",
		"DBSIZE", "KEYS *", "PFCOUNT k",
	}
	notRO := []string{
		"SET k v", "EVAL s 0", "EVALSHA h 0", "FCALL f 0", "SORT k", "SORT k STORE d",
		"XREADGROUP GROUP g c STREAMS k >", "GEORADIUS k 1 2 3 m", "BITFIELD k GET u8 0",
		"DEL k", "XGROUP CREATE k g $", "PING", "WATCH k", "SPUBLISH c m", "NOSUCHCOMMAND k", "",
		"OBJECT", "XINFO",
	}
	for _, s := range ro {
		assert.True(t, tab.IsReadOnly(sampleArgs(s)), s)
	}
	for _, s := range notRO {
		assert.False(t, tab.IsReadOnly(sampleArgs(s)), s)
	}
}

func TestIsBlocking(t *testing.T) {
	tab := command.DefaultTable()
	for s, want := range map[string]bool{
		"BLPOP k 0":                                 true,
		"BZMPOP 0 1 k MIN":                          true,
		"BLMOVE a b LEFT LEFT 0":                    true,
		"XREAD STREAMS k 0":                         false,
		"XREAD COUNT 1 BLOCK 0 STREAMS k 0":         true,
		"XREADGROUP GROUP g c STREAMS k >":          false,
		"XREADGROUP GROUP g c block 10 STREAMS k >": true,
		"XREAD STREAMS block 0":                     false,
		"GET k":                                     false,
		"LPOP k":                                    false,
	} {
		assert.Equal(t, want, tab.IsBlocking(sampleArgs(s)), s)
	}
}

func TestMalformedCommands(t *testing.T) {
	tab := command.DefaultTable()
	for _, tc := range []struct{ cmd, msg string }{
		{"GET", "wrong number of arguments"},
		{"GET a b", "wrong number of arguments"},
		{"EVAL s 3 a b", "numkeys is 3 but only 2 arguments follow"},
		{"EVAL s -1 a", "not a non-negative integer"},
		{"EVAL s x", "not a non-negative integer"},
		{"EVAL s 99999999999999999999 a", "not a non-negative integer"},
		{"EVAL s 9223372036854775807 a", "numkeys is 9223372036854775807"},
		{"FCALL f 2 a", "numkeys is 2"},
		{"ZUNIONSTORE d 3 a b", "numkeys is 3"},
		{"ZINTERCARD -2 a", "not a non-negative integer"},
		{"BLMPOP 0 3 a b", "numkeys is 3"},
		{"XREAD k 0 1", "no STREAMS"},
		{"XREAD COUNT 1 k 0 1", "no STREAMS"},
		{"XREAD STREAMS a b 0", "got 3 arguments"},
		{"XREAD STREAMS a b", ""},
		{"XREADGROUP GROUP g c STREAMS a b >", "got 3 arguments"},
		{"MIGRATE h 1 k 0 10 KEYS a", "must be empty"},
		{"OBJECT ENCODING", "wrong number of arguments"},
		{"", "empty command"},
	} {
		args := sampleArgs(tc.cmd)
		if tc.cmd == "" {
			args = nil
		}
		if tc.cmd == "XREAD STREAMS a b" {
			// Not malformed: stream a, ID b.
			got, err := tab.KeyIndexes(args, nil)
			require.NoError(t, err)
			assert.Equal(t, []int{2}, got)
			continue
		}
		_, err := tab.KeyIndexes(args, nil)
		require.ErrorIs(t, err, command.ErrBadCommand, tc.cmd)
		assert.Contains(t, err.Error(), tc.msg, tc.cmd)
		_, _, err = tab.Slot(args)
		assert.ErrorIs(t, err, command.ErrBadCommand, tc.cmd)
	}
}

func TestUnknownCommand(t *testing.T) {
	tab := command.DefaultTable()
	_, _, err := tab.Slot([]string{"JSON.GET", "k"})
	require.ErrorIs(t, err, command.ErrUnknownCommand)
	assert.Contains(t, err.Error(), `"JSON.GET"`)
	assert.NotErrorIs(t, err, command.ErrBadCommand)
	_, ok := tab.Lookup("json.get")
	assert.False(t, ok)
	// The zero Table knows nothing.
	_, err = new(command.Table).KeyIndexes([]string{"GET", "k"}, nil)
	assert.ErrorIs(t, err, command.ErrUnknownCommand)
}

func TestLookupFoldsCase(t *testing.T) {
	tab := command.DefaultTable()
	for _, n := range []string{"get", "GET", "Get", "gEt", "BITFIELD_RO", "restore-asking", "RESTORE-ASKING"} {
		c, ok := tab.Lookup(n)
		require.True(t, ok, n)
		assert.Equal(t, strings.ToLower(n), c.Name)
	}
	long := strings.Repeat("x", 100)
	_, ok := tab.Lookup(long)
	assert.False(t, ok)
	_, ok = tab.Lookup(strings.ToUpper(long))
	assert.False(t, ok)
	// Upper-case aliases are not listed.
	names := tab.Names()
	assert.Len(t, names, tab.Len())
	assert.Equal(t, 240, tab.Len())
	for _, n := range names {
		assert.Equal(t, strings.ToLower(n), n)
	}
	obj, _ := tab.Lookup("object")
	assert.ElementsMatch(t, []string{"object|encoding", "object|freq", "object|help", "object|idletime", "object|refcount"},
		obj.Subcommands())
	for _, n := range []string{"encoding", "ENCODING", "Encoding"} {
		_, ok := obj.Subcommand(n)
		assert.True(t, ok, n)
	}
	enc, ok := obj.Subcommand("ENCODING")
	require.True(t, ok)
	assert.Equal(t, "object|encoding", enc.Name)
}

func TestKeyIndexesAppendsToDst(t *testing.T) {
	dst := []int{42}
	got, err := command.DefaultTable().KeyIndexes(sampleArgs("MGET a b"), dst)
	require.NoError(t, err)
	assert.Equal(t, []int{42, 1, 2}, got)
}

func TestRoutingAllocatesNothing(t *testing.T) {
	tab := command.DefaultTable()
	for _, s := range []string{
		"GET k", "get k", "SET k v", "HGET {u}h f", "OBJECT ENCODING k", "object encoding k",
		"EVAL s 2 {t}a {t}b", "XREAD STREAMS {t}a {t}b 0 0", "MGET {t}1 {t}2 {t}3 {t}4 {t}5 {t}6 {t}7 {t}8 {t}9 {t}10",
		"PING",
	} {
		args := sampleArgs(s)
		var dst [16]int
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := tab.Slot(args); err != nil {
				t.Fatal(err)
			}
			if _, err := tab.KeyIndexes(args, dst[:0]); err != nil {
				t.Fatal(err)
			}
			_ = tab.IsReadOnly(args)
			_ = tab.IsBlocking(args)
		})
		assert.Zero(t, allocs, s)
	}
}

func TestFlagsString(t *testing.T) {
	c, _ := command.DefaultTable().Lookup("get")
	assert.Equal(t, "readonly|fast", c.Flags.String())
	assert.Equal(t, "0", command.Flags(0).String())
	c, _ = command.DefaultTable().Lookup("ping")
	assert.Equal(t, "fast|keyless", c.Flags.String())
}
