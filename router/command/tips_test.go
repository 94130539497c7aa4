package command_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
)

// entryWithTips is a RESP3 COMMAND reply with one entry, "foo", whose
// tips field is tips (raw RESP).
func entryWithTips(tips string) []byte {
	return []byte("*1\r\n*10\r\n$3\r\nfoo\r\n:-2\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:1\r\n*0\r\n" + tips +
		"*1\r\n%3\r\n+flags\r\n*0\r\n+begin_search\r\n%2\r\n+type\r\n+index\r\n+spec\r\n%1\r\n+index\r\n:1\r\n" +
		"+find_keys\r\n%2\r\n+type\r\n+range\r\n+spec\r\n%3\r\n+lastkey\r\n:-1\r\n+keystep\r\n:1\r\n+limit\r\n:0\r\n*0\r\n")
}

func TestStaticTips(t *testing.T) {
	tab := command.DefaultTable()
	for _, tc := range []struct {
		args []string
		want command.Tips
	}{
		{[]string{"MGET", "a"}, command.Tips{Request: command.RequestMultiShard}},
		{[]string{"del", "a"}, command.Tips{Request: command.RequestMultiShard, Response: command.ResponseAggSum}},
		{[]string{"MSET", "a", "1"}, command.Tips{Request: command.RequestMultiShard, Response: command.ResponseAllSucceeded}},
		{[]string{"MSETNX", "a", "1"}, command.Tips{Request: command.RequestMultiShard, Response: command.ResponseAggMin}},
		{[]string{"DBSIZE"}, command.Tips{Request: command.RequestAllShards, Response: command.ResponseAggSum}},
		{[]string{"script", "EXISTS", "x"}, command.Tips{Request: command.RequestAllShards, Response: command.ResponseAggLogicalAnd}},
		{[]string{"SCRIPT", "LOAD", "x"}, command.Tips{Request: command.RequestAllNodes, Response: command.ResponseAllSucceeded}},
		{[]string{"CONFIG", "SET", "a", "b"}, command.Tips{Request: command.RequestAllNodes, Response: command.ResponseAllSucceeded}},
		{[]string{"CONFIG", "GET", "a"}, command.Tips{}},
		{[]string{"SCAN", "0"}, command.Tips{Request: command.RequestSpecial, Nondeterministic: true}},
		{[]string{"KEYS", "*"}, command.Tips{Request: command.RequestAllShards, NondeterministicOrder: true}},
		{[]string{"GET", "a"}, command.Tips{}},
		{[]string{"NOSUCH"}, command.Tips{}},
		{nil, command.Tips{}},
	} {
		assert.Equal(t, tc.want, tab.TipsOf(tc.args), "%q", tc.args)
	}
	c, ok := tab.Lookup("info")
	require.True(t, ok)
	assert.Equal(t, "nondeterministic_output,request_policy:all_shards,response_policy:special", c.Tips.String())
	assert.Equal(t, "multi_shard", command.RequestMultiShard.String())
	assert.Equal(t, "agg_logical_or", command.ResponseAggLogicalOr.String())
	assert.Equal(t, "RequestPolicy(9)", command.RequestPolicy(9).String())
	assert.Equal(t, "ResponsePolicy(99)", command.ResponsePolicy(99).String())
}

func TestLearnTips(t *testing.T) {
	for _, tc := range []struct {
		name string
		tips string
		want command.Tips
	}{
		{"multi_shard", "*2\r\n+request_policy:multi_shard\r\n$23\r\nresponse_policy:agg_max\r\n",
			command.Tips{Request: command.RequestMultiShard, Response: command.ResponseAggMax}},
		{"case and unknown tips are ignored", "*4\r\n+REQUEST_POLICY:ALL_NODES\r\n+response_policy:agg_median\r\n+some_future_tip\r\n+nondeterministic_output_order\r\n",
			command.Tips{Request: command.RequestAllNodes, NondeterministicOrder: true}},
		{"none", "*0\r\n", command.Tips{}},
		{"nil", "_\r\n", command.Tips{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseRESP(entryWithTips(tc.tips))
			require.NoError(t, err)
			tab, err := new(command.Table).Learn(m)
			require.NoError(t, err)
			c, ok := tab.Lookup("FOO")
			require.True(t, ok)
			assert.Equal(t, tc.want, c.Tips)
			assert.Equal(t, tc.want, tab.TipsOf([]string{"foo", "k"}))
		})
	}
}

// TestLearnHostileTips: a tips field that is not an array of strings is
// a malformed reply (an error wrapping ErrCommandReply), never a panic.
func TestLearnHostileTips(t *testing.T) {
	for _, tips := range []string{
		":1\r\n",
		"+request_policy:multi_shard\r\n",
		"*1\r\n:7\r\n",
		"*1\r\n*1\r\n+request_policy:multi_shard\r\n",
		"*2\r\n+request_policy:all_nodes\r\n-ERR no\r\n",
		"%1\r\n+request_policy\r\n+multi_shard\r\n",
	} {
		m, err := parseRESP(entryWithTips(tips))
		require.NoError(t, err, "%q", tips)
		_, err = new(command.Table).Learn(m)
		assert.True(t, errors.Is(err, command.ErrCommandReply), "%q: %v", tips, err)
	}
}

// TestLearnKeepsStaticTips: a server's tips do not replace those of the
// commands the static table knows (they are checked against 7.0.15).
func TestLearnKeepsStaticTips(t *testing.T) {
	raw := []byte("*1\r\n*10\r\n$4\r\nmget\r\n:-2\r\n*1\r\n+readonly\r\n:1\r\n:-1\r\n:1\r\n*0\r\n*1\r\n+request_policy:special\r\n*0\r\n*0\r\n")
	m, err := parseRESP(raw)
	require.NoError(t, err)
	tab, err := command.DefaultTable().Learn(m)
	require.NoError(t, err)
	assert.Equal(t, command.RequestMultiShard, tab.TipsOf([]string{"MGET", "a"}).Request)
}
