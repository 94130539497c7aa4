package command

import (
	"fmt"
	"strings"

	"github.com/redis/rueidis"
)

// RequestPolicy is a command's request_policy tip (Redis 7): how a
// cluster client sends it when its keys, or the lack of them, do not
// name one shard.
type RequestPolicy uint8

// Request policies. The zero value is the default: a command with keys
// goes to the shard of its (one) slot, a command without keys to any one
// node.
const (
	RequestDefault    RequestPolicy = iota // no request_policy tip
	RequestAllNodes                        // "all_nodes": every node, replicas included
	RequestAllShards                       // "all_shards": every primary
	RequestMultiShard                      // "multi_shard": split the keys per slot, one part per slot
	RequestSpecial                         // "special": the client must know the command (SCAN)
)

var requestNames = [...]string{"", "all_nodes", "all_shards", "multi_shard", "special"}

// String returns the tip's value as the server spells it ("" for the
// default).
func (p RequestPolicy) String() string {
	if int(p) < len(requestNames) {
		return requestNames[p]
	}
	return fmt.Sprintf("RequestPolicy(%d)", uint8(p))
}

// ResponsePolicy is a command's response_policy tip (Redis 7): how a
// cluster client merges the replies of the nodes a command was sent to.
type ResponsePolicy uint8

// Response policies. The zero value is the default: for a command
// without keys the replies (arrays) are concatenated, for a keyed
// multi-shard command they are put back in the order of the keys.
const (
	ResponseDefault       ResponsePolicy = iota // no response_policy tip
	ResponseOneSucceeded                        // "one_succeeded": success if any node succeeded
	ResponseAllSucceeded                        // "all_succeeded": success only if every node succeeded
	ResponseAggLogicalAnd                       // "agg_logical_and": AND of the 0/1 replies (element-wise for arrays)
	ResponseAggLogicalOr                        // "agg_logical_or": OR of the 0/1 replies (element-wise for arrays)
	ResponseAggMin                              // "agg_min": the smallest integer (element-wise for arrays)
	ResponseAggMax                              // "agg_max": the largest integer (element-wise for arrays)
	ResponseAggSum                              // "agg_sum": the sum of the integers (element-wise for arrays)
	ResponseSpecial                             // "special": the client must know the command (INFO, MEMORY STATS)
)

var responseNames = [...]string{"", "one_succeeded", "all_succeeded", "agg_logical_and", "agg_logical_or",
	"agg_min", "agg_max", "agg_sum", "special"}

// String returns the tip's value as the server spells it ("" for the
// default).
func (p ResponsePolicy) String() string {
	if int(p) < len(responseNames) {
		return responseNames[p]
	}
	return fmt.Sprintf("ResponsePolicy(%d)", uint8(p))
}

// Tips are a command's Redis 7 command tips, as COMMAND lists them
// ("request_policy:multi_shard", "response_policy:agg_sum",
// "nondeterministic_output"...). Tips a server adds that this package
// does not know are ignored.
type Tips struct {
	// Request is the request_policy tip.
	Request RequestPolicy
	// Response is the response_policy tip.
	Response ResponsePolicy
	// Nondeterministic is "nondeterministic_output": the reply may differ
	// for the same data (TIME, RANDOMKEY, SPOP...).
	Nondeterministic bool
	// NondeterministicOrder is "nondeterministic_output_order": the reply
	// is a set whose order may differ (SMEMBERS, KEYS, HGETALL...).
	NondeterministicOrder bool
}

// String lists the tips as COMMAND does, separated by ','.
func (t Tips) String() string {
	var parts []string
	if t.Nondeterministic {
		parts = append(parts, "nondeterministic_output")
	}
	if t.NondeterministicOrder {
		parts = append(parts, "nondeterministic_output_order")
	}
	if t.Request != RequestDefault {
		parts = append(parts, "request_policy:"+t.Request.String())
	}
	if t.Response != ResponseDefault {
		parts = append(parts, "response_policy:"+t.Response.String())
	}
	return strings.Join(parts, ",")
}

// parseTip adds one tip, as COMMAND spells it, to t. A tip this package
// does not know (a newer server's, a module's) is ignored, and so is an
// unknown policy value: the command then keeps the default policy, which
// sends it to one node.
func (t *Tips) parseTip(tip string) {
	key, val, _ := strings.Cut(strings.ToLower(tip), ":")
	switch key {
	case "nondeterministic_output":
		t.Nondeterministic = true
	case "nondeterministic_output_order":
		t.NondeterministicOrder = true
	case "request_policy":
		for i, n := range requestNames[1:] {
			if n == val {
				t.Request = RequestPolicy(i + 1)
			}
		}
	case "response_policy":
		for i, n := range responseNames[1:] {
			if n == val {
				t.Response = ResponsePolicy(i + 1)
			}
		}
	}
}

// parseTips decodes the tips field of a COMMAND entry: an array of
// strings (RESP2 and RESP3), or nil.
func parseTips(m *rueidis.RedisMessage) (Tips, error) {
	var t Tips
	if m.IsNil() {
		return t, nil
	}
	tips, err := m.ToArray()
	if err != nil {
		return t, fmt.Errorf("tips: %v", err)
	}
	for i := range tips {
		s, err := text(&tips[i])
		if err != nil {
			return t, fmt.Errorf("tip %d: %v", i, err)
		}
		t.parseTip(s)
	}
	return t, nil
}

// TipsOf returns the tips of the command args (name first): those of the
// subcommand for a container (SCRIPT FLUSH, CONFIG SET). It allocates
// nothing; an unknown command has no tips.
func (t *Table) TipsOf(args []string) Tips {
	c, err := t.Command(args)
	if err != nil {
		return Tips{}
	}
	return c.Tips
}

// Tip values of the static table, shortened.
var (
	tipAllShardsAllSucceeded = Tips{Request: RequestAllShards, Response: ResponseAllSucceeded}
	tipAllNodesAllSucceeded  = Tips{Request: RequestAllNodes, Response: ResponseAllSucceeded}
	tipAllShardsOneSucceeded = Tips{Request: RequestAllShards, Response: ResponseOneSucceeded}
	tipMultiShardSum         = Tips{Request: RequestMultiShard, Response: ResponseAggSum}
	tipND                    = Tips{Nondeterministic: true}
	tipNDOrder               = Tips{NondeterministicOrder: true}
)

// staticTips are the command tips of Redis 7.0.15, exactly as its
// COMMAND reply lists them (TestStaticTableMatchesServer compares every
// command of the static table with the captured reply), by the
// command's full name.
func staticTips() map[string]Tips {
	ndAllShardsSpecial := Tips{Nondeterministic: true, Request: RequestAllShards, Response: ResponseSpecial}
	ndAllNodesSpecial := Tips{Nondeterministic: true, Request: RequestAllNodes, Response: ResponseSpecial}
	return map[string]Tips{
		// Keyed commands split per slot.
		"del":    tipMultiShardSum,
		"exists": tipMultiShardSum,
		"touch":  tipMultiShardSum,
		"unlink": tipMultiShardSum,
		"mget":   {Request: RequestMultiShard},
		"mset":   {Request: RequestMultiShard, Response: ResponseAllSucceeded},
		"msetnx": {Request: RequestMultiShard, Response: ResponseAggMin},

		// Keyless commands for every primary or every node.
		"dbsize":              {Request: RequestAllShards, Response: ResponseAggSum},
		"flushall":            tipAllShardsAllSucceeded,
		"flushdb":             tipAllShardsAllSucceeded,
		"keys":                {Request: RequestAllShards, NondeterministicOrder: true},
		"ping":                tipAllShardsAllSucceeded,
		"randomkey":           {Request: RequestAllShards, Nondeterministic: true},
		"scan":                {Request: RequestSpecial, Nondeterministic: true},
		"wait":                {Request: RequestAllShards, Response: ResponseAggMin},
		"info":                ndAllShardsSpecial,
		"config|set":          tipAllNodesAllSucceeded,
		"script|exists":       {Request: RequestAllShards, Response: ResponseAggLogicalAnd},
		"script|flush":        tipAllNodesAllSucceeded,
		"script|kill":         tipAllShardsOneSucceeded,
		"script|load":         tipAllNodesAllSucceeded,
		"function|delete":     tipAllShardsAllSucceeded,
		"function|flush":      tipAllShardsAllSucceeded,
		"function|kill":       tipAllShardsOneSucceeded,
		"function|load":       tipAllShardsAllSucceeded,
		"function|restore":    tipAllShardsAllSucceeded,
		"function|stats":      ndAllShardsSpecial,
		"memory|doctor":       ndAllShardsSpecial,
		"memory|malloc-stats": ndAllShardsSpecial,
		"memory|purge":        tipAllShardsAllSucceeded,
		"memory|stats":        ndAllShardsSpecial,
		"latency|doctor":      ndAllNodesSpecial,
		"latency|graph":       ndAllNodesSpecial,
		"latency|histogram":   ndAllNodesSpecial,
		"latency|history":     ndAllNodesSpecial,
		"latency|latest":      ndAllNodesSpecial,
		"latency|reset":       tipAllNodesAllSucceeded,
		"slowlog|get":         {Request: RequestAllNodes, Nondeterministic: true},
		"slowlog|len":         {Request: RequestAllNodes, Response: ResponseAggSum, Nondeterministic: true},
		"slowlog|reset":       tipAllNodesAllSucceeded,

		// Only nondeterministic.
		"client|info":                   tipND,
		"client|list":                   tipND,
		"cluster|bumpepoch":             tipND,
		"cluster|count-failure-reports": tipND,
		"cluster|getkeysinslot":         tipND,
		"cluster|info":                  tipND,
		"cluster|links":                 tipND,
		"cluster|nodes":                 tipND,
		"cluster|replicas":              tipND,
		"cluster|shards":                tipND,
		"cluster|slaves":                tipND,
		"cluster|slots":                 tipND,
		"dump":                          tipND,
		"hrandfield":                    tipND,
		"hscan":                         tipND,
		"lastsave":                      tipND,
		"migrate":                       tipND,
		"object|encoding":               tipND,
		"object|freq":                   tipND,
		"object|idletime":               tipND,
		"object|refcount":               tipND,
		"pttl":                          tipND,
		"spop":                          tipND,
		"srandmember":                   tipND,
		"sscan":                         tipND,
		"time":                          tipND,
		"ttl":                           tipND,
		"xadd":                          tipND,
		"xautoclaim":                    tipND,
		"xclaim":                        tipND,
		"xinfo|consumers":               tipND,
		"xpending":                      tipND,
		"xtrim":                         tipND,
		"zrandmember":                   tipND,
		"zscan":                         tipND,
		"command":                       tipNDOrder,
		"command|docs":                  tipNDOrder,
		"command|info":                  tipNDOrder,
		"command|list":                  tipNDOrder,
		"function|list":                 tipNDOrder,
		"hgetall":                       tipNDOrder,
		"hkeys":                         tipNDOrder,
		"hvals":                         tipNDOrder,
		"module|list":                   tipNDOrder,
		"sdiff":                         tipNDOrder,
		"sinter":                        tipNDOrder,
		"smembers":                      tipNDOrder,
		"sunion":                        tipNDOrder,
	}
}

// applyStaticTips sets the tips of the static commands in m.
func applyStaticTips(m map[string]*Command) {
	for name, tips := range staticTips() {
		top, sub, isSub := strings.Cut(name, "|")
		c := m[top]
		if c != nil && isSub {
			c = c.subs[sub]
		}
		if c != nil {
			c.Tips = tips
		}
	}
}
