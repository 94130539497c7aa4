package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// TestMergedMessages: the replies the client builds read back as rueidis
// messages of the right type and value, without the cache-hit mark (it
// fails if rueidis changes its cache serialization).
func TestMergedMessages(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 42, 1 << 62, -1 << 63} {
		m := intMessage(v)
		got, err := m.AsInt64()
		require.NoError(t, err)
		assert.Equal(t, v, got)
		assert.True(t, m.IsInt64())
		assert.False(t, m.IsCacheHit())
	}
	elems := []rueidis.RedisMessage{
		mock.RedisBlobString("v1"), mock.RedisNil(), mock.RedisString("OK"), mock.RedisInt64(7),
		mock.RedisArray(mock.RedisBlobString("a"), mock.RedisInt64(-3)), mock.RedisBlobString(""),
	}
	m := arrayMessage(elems)
	assert.False(t, m.IsCacheHit())
	arr, err := m.ToArray()
	require.NoError(t, err)
	require.Len(t, arr, len(elems))
	s, err := arr[0].ToString()
	require.NoError(t, err)
	assert.Equal(t, "v1", s)
	assert.True(t, arr[1].IsNil())
	s, _ = arr[2].ToString()
	assert.Equal(t, "OK", s)
	n, _ := arr[3].AsInt64()
	assert.Equal(t, int64(7), n)
	inner, err := arr[4].ToArray()
	require.NoError(t, err)
	require.Len(t, inner, 2)
	s, _ = inner[0].ToString()
	assert.Equal(t, "a", s)
	s, err = arr[5].ToString()
	require.NoError(t, err)
	assert.Equal(t, "", s)
	em := arrayMessage(nil)
	empty, err := em.ToArray()
	require.NoError(t, err)
	assert.Empty(t, empty)
}

// keysOnDifferentSlots returns n keys, "k0".. with distinct slots.
func keysOnDifferentSlots(n int) []string {
	var keys []string
	seen := map[slots.Slot]bool{}
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("k%d", i)
		if s := slots.Of(k); !seen[s] {
			seen[s] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func TestSplitPerSlot(t *testing.T) {
	tab := command.DefaultTable()
	k := keysOnDifferentSlots(3)
	a, b := k[0], k[1]
	tagged := "{" + a + "}:x" // a's slot
	t.Run("MGET keeps duplicates and order", func(t *testing.T) {
		args := []string{"MGET", a, b, a, tagged}
		cmd, _ := tab.Command(args)
		first, step, n, ok := keyLayout(cmd, args)
		require.True(t, ok)
		assert.Equal(t, []int{1, 1, 4}, []int{first, step, n})
		sp := splitPerSlot(args, first, step, n)
		require.Len(t, sp.parts, 2)
		assert.Equal(t, []string{"MGET", a, a, tagged}, sp.parts[0].args)
		assert.Equal(t, []string{"MGET", b}, sp.parts[1].args)
		assert.Equal(t, []msWhere{{0, 0}, {1, 0}, {0, 1}, {0, 2}}, sp.where)
		res := []Result{
			{Msg: mock.RedisArray(mock.RedisBlobString("va"), mock.RedisBlobString("va2"), mock.RedisNil())},
			{Msg: mock.RedisArray(mock.RedisBlobString("vb"))},
		}
		m, err := mergeSplit("MGET", cmd.Tips.Response, &sp, res)
		require.NoError(t, err)
		arr, err := m.ToArray()
		require.NoError(t, err)
		require.Len(t, arr, 4)
		for i, want := range []string{"va", "vb", "va2"} {
			s, err := arr[i].ToString()
			require.NoError(t, err)
			assert.Equal(t, want, s)
		}
		assert.True(t, arr[3].IsNil())
		// A part whose array has the wrong length is not merged.
		res[1].Msg = mock.RedisArray()
		_, err = mergeSplit("MGET", cmd.Tips.Response, &sp, res)
		assert.ErrorContains(t, err, "cannot merge")
	})
	t.Run("MSET keeps each key with its value", func(t *testing.T) {
		args := []string{"MSET", a, "1", b, "2", a, "3"}
		cmd, _ := tab.Command(args)
		first, step, n, ok := keyLayout(cmd, args)
		require.True(t, ok)
		assert.Equal(t, []int{1, 2, 3}, []int{first, step, n})
		sp := splitPerSlot(args, first, step, n)
		require.Len(t, sp.parts, 2)
		assert.Equal(t, []string{"MSET", a, "1", a, "3"}, sp.parts[0].args)
		assert.Equal(t, []string{"MSET", b, "2"}, sp.parts[1].args)
	})
	t.Run("a suffix is kept in every part", func(t *testing.T) {
		// A learned JSON.MGET-like command: keys from 1 to the last but one.
		cmd := &command.Command{Name: "json.mget", Arity: -3, Tips: command.Tips{Request: command.RequestMultiShard},
			Specs: []command.KeySpec{{Begin: command.BeginIndex, Index: 1, Find: command.FindRange, LastKey: -2, KeyStep: 1}}}
		args := []string{"JSON.MGET", a, b, "$.x"}
		first, step, n, ok := keyLayout(cmd, args)
		require.True(t, ok)
		sp := splitPerSlot(args, first, step, n)
		assert.Equal(t, []string{"JSON.MGET", a, "$.x"}, sp.parts[0].args)
		assert.Equal(t, []string{"JSON.MGET", b, "$.x"}, sp.parts[1].args)
	})
	t.Run("keys then as many other arguments", func(t *testing.T) {
		// An XREAD-like learned command: keys, then one ID per key.
		cmd := &command.Command{Name: "x.read", Arity: -3, Tips: command.Tips{Request: command.RequestMultiShard},
			Specs: []command.KeySpec{{Begin: command.BeginIndex, Index: 1, Find: command.FindRange, LastKey: -1, KeyStep: 1, Limit: 2}}}
		_, _, _, ok := keyLayout(cmd, []string{"X.READ", a, b, "0", "0"})
		assert.False(t, ok)
	})
	t.Run("many slots", func(t *testing.T) {
		keys := keysOnDifferentSlots(100)
		args := append([]string{"DEL"}, keys...)
		args = append(args, keys[50])
		sp := splitPerSlot(args, 1, 1, len(keys)+1)
		require.Len(t, sp.parts, 100)
		assert.Equal(t, []string{"DEL", keys[50], keys[50]}, sp.parts[50].args)
		assert.Equal(t, msWhere{50, 1}, sp.where[100])
	})
	t.Run("not splittable", func(t *testing.T) {
		for _, args := range [][]string{
			{"MSETNX", a, "1", b, "2"},
			{"SUNIONSTORE", a, b},
			{"BITOP", "AND", a, b},
			{"PFCOUNT", a, b},
		} {
			cmd, err := tab.Command(args)
			require.NoError(t, err)
			_, _, _, ok := keyLayout(cmd, args)
			assert.False(t, splittable(cmd) && ok, "%q", args)
		}
	})
}

func TestAggregate(t *testing.T) {
	ints := func(vs ...int64) []rueidis.RedisMessage {
		var out []rueidis.RedisMessage
		for _, v := range vs {
			out = append(out, mock.RedisInt64(v))
		}
		return out
	}
	for _, tc := range []struct {
		policy command.ResponsePolicy
		in     []int64
		want   int64
	}{
		{command.ResponseAggSum, []int64{1, 2, 3}, 6},
		{command.ResponseAggMin, []int64{3, 1, 2}, 1},
		{command.ResponseAggMax, []int64{3, 5, 2}, 5},
		{command.ResponseAggLogicalAnd, []int64{1, 1, 0}, 0},
		{command.ResponseAggLogicalAnd, []int64{1, 2}, 1},
		{command.ResponseAggLogicalOr, []int64{0, 0, 3}, 1},
		{command.ResponseAggLogicalOr, []int64{0}, 0},
	} {
		m, err := aggregate("X", tc.policy, ints(tc.in...))
		require.NoError(t, err)
		v, err := m.AsInt64()
		require.NoError(t, err)
		assert.Equal(t, tc.want, v, "%s %v", tc.policy, tc.in)
	}
	// Element by element (SCRIPT EXISTS).
	m, err := aggregate("SCRIPT EXISTS", command.ResponseAggLogicalAnd, []rueidis.RedisMessage{
		mock.RedisArray(ints(1, 0, 1)...), mock.RedisArray(ints(1, 1, 0)...)})
	require.NoError(t, err)
	got, err := m.AsIntSlice()
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 0, 0}, got)
	_, err = aggregate("SCRIPT EXISTS", command.ResponseAggLogicalAnd, []rueidis.RedisMessage{
		mock.RedisArray(ints(1)...), mock.RedisArray(ints(1, 1)...)})
	assert.ErrorContains(t, err, "same length")
	_, err = aggregate("DEL", command.ResponseAggSum, []rueidis.RedisMessage{mock.RedisInt64(1), mock.RedisString("x")})
	assert.ErrorContains(t, err, "not an integer")
	m, err = aggregate("MSET", command.ResponseAllSucceeded, []rueidis.RedisMessage{mock.RedisString("OK"), mock.RedisString("OK")})
	require.NoError(t, err)
	s, _ := m.ToString()
	assert.Equal(t, "OK", s)
}

// TestMultiShardError: the error names the failed keys, and errors.Is/As
// reach each part's error.
func TestMultiShardError(t *testing.T) {
	wrongType := mock.Result(mock.RedisError("WRONGTYPE Operation against a key holding the wrong kind of value")).Error()
	unknown := &UnknownOutcomeError{Addr: "127.0.0.1:7001", Command: "DEL", Err: errors.New("conn reset")}
	err := error(&MultiShardError{Command: "DEL", Parts: 3, Failed: []PartError{
		{Slot: 12, Keys: []string{"a", "a2"}, Err: unknown},
		{Slot: 13, Keys: []string{"b"}, Err: wrongType},
	}})
	assert.ErrorIs(t, err, ErrMultiShard)
	assert.ErrorIs(t, err, ErrUnknownOutcome)
	var re *rueidis.RedisError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.Error(), "WRONGTYPE")
	var me *MultiShardError
	require.ErrorAs(t, err, &me)
	assert.Len(t, me.Failed, 2)
	assert.Contains(t, err.Error(), `DEL: 2 of 3 parts failed`)
	assert.Contains(t, err.Error(), `slot 12 keys "a" "a2": slotrouter: outcome of DEL`)
	assert.Contains(t, err.Error(), `slot 13 keys "b": WRONGTYPE`)
	node := &MultiShardError{Command: "FLUSHALL", Parts: 3, Failed: []PartError{{Slot: NoSlot, Addr: "127.0.0.1:7002", Err: errors.New("refused")}}}
	assert.Contains(t, node.Error(), "node 127.0.0.1:7002: refused")
}

func TestFanOutPolicy(t *testing.T) {
	tab := command.DefaultTable()
	for _, tc := range []struct {
		args         []string
		ok, allNodes bool
	}{
		{[]string{"DBSIZE"}, true, false},
		{[]string{"KEYS", "*"}, true, false},
		{[]string{"FLUSHALL"}, true, false},
		{[]string{"SCRIPT", "LOAD", "return 1"}, true, true},
		{[]string{"SCRIPT", "FLUSH"}, true, true},
		{[]string{"SCRIPT", "EXISTS", "x"}, true, false},
		{[]string{"FUNCTION", "LOAD", "x"}, true, false},
		{[]string{"CONFIG", "SET", "a", "b"}, true, true},
		{[]string{"WAIT", "0", "0"}, true, false},
		{[]string{"PING"}, false, false},
		{[]string{"RANDOMKEY"}, false, false},
		{[]string{"INFO"}, false, false},
		{[]string{"SCAN", "0"}, false, false},
		{[]string{"CONFIG", "GET", "a"}, false, false},
	} {
		cmd, err := tab.Command(tc.args)
		require.NoError(t, err)
		allNodes, ok := fanOutPolicy(cmd.Name, cmd.Tips)
		assert.Equal(t, tc.ok, ok, "%q", tc.args)
		assert.Equal(t, tc.allNodes, allNodes, "%q", tc.args)
	}
}

// BenchmarkMultiShardSplit measures splitting a 16-key MSET (values
// included) and a 100-key MGET per slot, without a server.
func BenchmarkMultiShardSplit(b *testing.B) {
	tab := command.DefaultTable()
	keys := keysOnDifferentSlots(100)
	mset := []string{"MSET"}
	for _, k := range keys[:16] {
		mset = append(mset, k, "value")
	}
	mget := append([]string{"MGET"}, keys...)
	for _, bc := range []struct {
		name string
		args []string
	}{{"MSET16", mset}, {"MGET100", mget}} {
		b.Run(bc.name, func(b *testing.B) {
			cmd, err := tab.Command(bc.args)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				first, step, n, ok := keyLayout(cmd, bc.args)
				if !ok {
					b.Fatal("not splittable")
				}
				sp := splitPerSlot(bc.args, first, step, n)
				if len(sp.parts) != n {
					b.Fatal(len(sp.parts))
				}
			}
		})
	}
}

// FuzzSplitPerSlot splits random MSET-like and MGET-like commands (with
// a suffix) and checks the parts: each key keeps its arguments, one slot
// per part, the prefix and suffix in every part, and where finds every
// key in its part.
func FuzzSplitPerSlot(f *testing.F) {
	f.Add("a,b,a,{a}c,d", uint8(1))
	f.Add("k0,k1,k2,k3,k4,k5,k6,k7,k8,k9,k10,k11,k12,k13,k14,k15,k16,k17,k18,k19,k20", uint8(2))
	f.Add(",,{},{}x", uint8(3))
	f.Fuzz(func(t *testing.T, list string, stepB uint8) {
		step := int(stepB%3) + 1
		keys := strings.Split(list, ",")
		if len(keys) > 500 {
			keys = keys[:500]
		}
		args := []string{"CMD"}
		for i, k := range keys {
			args = append(args, k)
			for j := 1; j < step; j++ {
				args = append(args, fmt.Sprint("v", i, ".", j))
			}
		}
		args = append(args, "SUFFIX")
		n := len(keys)
		sp := splitPerSlot(args, 1, step, n)
		total := 0
		for _, p := range sp.parts {
			total += p.keys
			if len(p.args) != 2+p.keys*step || p.args[0] != "CMD" || p.args[len(p.args)-1] != "SUFFIX" {
				t.Fatalf("part %q", p.args)
			}
			for k := range p.keys {
				if slots.Of(p.args[1+k*step]) != p.slot {
					t.Fatalf("key %q not in slot %d", p.args[1+k*step], p.slot)
				}
			}
		}
		if total != n || len(sp.where) != n {
			t.Fatalf("%d keys in parts, %d where, want %d", total, len(sp.where), n)
		}
		for i, w := range sp.where {
			p := sp.parts[w.part]
			got := p.args[1+int(w.pos)*step : 1+int(w.pos+1)*step]
			want := args[1+i*step : 1+(i+1)*step]
			if !slices.Equal(got, want) {
				t.Fatalf("key %d: %q in its part, want %q", i, got, want)
			}
		}
	})
}

// splitPerSlot is msSplit.split into a fresh msSplit.
func splitPerSlot(args []string, first, step, n int) msSplit {
	var sp msSplit
	sp.split(args, first, step, n)
	return sp
}

// BenchmarkArrayMessage builds the merged reply of a 100-key MGET: 100
// 16-byte bulk strings in one array message.
func BenchmarkArrayMessage(b *testing.B) {
	elems := make([]rueidis.RedisMessage, 100)
	for i := range elems {
		elems[i] = mock.RedisBlobString(fmt.Sprintf("value-%010d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if m := arrayMessage(elems); !m.IsArray() {
			b.Fatal("not an array")
		}
	}
}
