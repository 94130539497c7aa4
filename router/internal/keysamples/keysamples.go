// Package keysamples holds the sample commands the tests of router and
// router/command share: well-formed argument lists for every keyed
// command of Redis 7.0, and malformed ones the table must refuse. It is
// test data, internal so that it is no part of the API.
package keysamples

import "strings"

// valid are well-formed argument lists, at least one for every
// command of Redis 7.0 that has keys, with options that move the keys.
// The server's COMMAND GETKEYS is the oracle for each (see
// router/command's TestKeysMatchServerGetKeys); TestSamplesCoverServer checks that every
// keyed command the server lists has a sample. Arguments are separated by
// spaces; "" is an empty argument. Multi-key samples mostly share a hash
// tag so that they route; some deliberately do not.
var valid = [...]string{
	// strings
	"append k v", "decr k", "decrby k 2", "get k", "getdel k", "getex k", "getex k EX 10",
	"getrange k 0 1", "getset k v", "incr k", "incrby k 2", "incrbyfloat k 1.5",
	"lcs {t}a {t}b", "lcs {t}a {t}b LEN", "mget {t}a {t}b {t}c", "mget a", "mget a b",
	"mset {t}a 1 {t}b 2", "msetnx {t}a 1 {t}b 2 {t}c 3", "psetex k 100 v", "set k v",
	"set k v NX GET", "setex k 10 v", "setnx k v", "setrange k 0 v", "strlen k", "substr k 0 1",
	// bitmaps
	"bitcount k", "bitcount k 0 1 BIT", "bitfield k GET u8 0", "bitfield_ro k GET u8 0",
	"bitop AND {t}d {t}a {t}b", "bitop NOT {t}d {t}a", "bitpos k 1", "getbit k 0", "setbit k 0 1",
	// keyspace
	"copy {t}a {t}b", "copy {t}a {t}b DB 0 REPLACE", "del a", "del {t}a {t}b {t}c", "dump k",
	"exists {t}a {t}b", "expire k 10", "expire k 10 NX", "expireat k 100", "expiretime k",
	"move k 1", "persist k", "pexpire k 10", "pexpireat k 100", "pexpiretime k", "pttl k",
	"rename {t}a {t}b", "renamenx {t}a {t}b", "restore k 0 payload", "restore k 0 payload REPLACE",
	"restore-asking k 0 payload", "touch {t}a {t}b", "ttl k", "type k", "unlink {t}a {t}b", "watch {t}a {t}b",
	"object encoding k", "object freq k", "object idletime k", "object refcount k", "OBJECT ENCODING k",
	"memory usage k", "memory usage k SAMPLES 5",
	"migrate 127.0.0.1 6379 k 0 1000", "migrate 127.0.0.1 6379 k 0 1000 COPY REPLACE",
	"migrate 127.0.0.1 6379 \"\" 0 1000 KEYS {t}a {t}b", "migrate 127.0.0.1 6379 \"\" 0 1000 COPY AUTH pw KEYS {t}a",
	"migrate 127.0.0.1 6379 \"\" 0 1000 AUTH2 keys pw KEYS {t}a {t}b",
	"migrate 127.0.0.1 6379 k 0 1000 AUTH keys",
	"sort k", "sort k LIMIT 0 10 STORE d", "sort {t}k BY nosort GET # STORE {t}d",
	"sort k STORE a STORE b", "sort k ALPHA DESC", "sort_ro k", "sort_ro k BY nosort LIMIT 0 1",
	// hashes
	"hdel k f", "hexists k f", "hget k f", "hgetall k", "hincrby k f 1", "hincrbyfloat k f 1.5",
	"hkeys k", "hlen k", "hmget k f g", "hmset k f v", "hrandfield k 2", "hscan k 0",
	"hset k f v g w", "hsetnx k f v", "hstrlen k f", "hvals k",
	// lists
	"blmove {t}a {t}b LEFT RIGHT 0", "blmpop 0 2 {t}a {t}b LEFT", "blmpop 1.5 1 a RIGHT COUNT 2",
	"blpop {t}a {t}b 0", "blpop a 1", "brpop {t}a {t}b 0", "brpoplpush {t}a {t}b 0",
	"lindex k 0", "linsert k BEFORE p v", "llen k", "lmove {t}a {t}b LEFT RIGHT",
	"lmpop 2 {t}a {t}b LEFT", "lmpop 1 a RIGHT COUNT 3", "lpop k", "lpop k 2", "lpos k v",
	"lpush k a b", "lpushx k a", "lrange k 0 -1", "lrem k 0 v", "lset k 0 v", "ltrim k 0 1",
	"rpop k", "rpoplpush {t}a {t}b", "rpush k a", "rpushx k a",
	// sets
	"sadd k m", "scard k", "sdiff {t}a {t}b", "sdiffstore {t}d {t}a {t}b", "sinter {t}a {t}b",
	"sintercard 2 {t}a {t}b", "sintercard 1 a LIMIT 5", "sinterstore {t}d {t}a", "sismember k m",
	"smembers k", "smismember k a b", "smove {t}a {t}b m", "spop k", "srandmember k 2", "srem k m",
	"sscan k 0", "sunion {t}a {t}b", "sunionstore {t}d {t}a {t}b",
	// sorted sets
	"bzmpop 0 2 {t}a {t}b MIN", "bzpopmax {t}a {t}b 0", "bzpopmin a 0", "zadd k 1 m",
	"zcard k", "zcount k 0 1", "zdiff 2 {t}a {t}b", "zdiff 1 a WITHSCORES", "zdiffstore {t}d 2 {t}a {t}b",
	"zincrby k 1 m", "zinter 2 {t}a {t}b WEIGHTS 1 2", "zintercard 2 {t}a {t}b LIMIT 1",
	"zinterstore {t}d 2 {t}a {t}b AGGREGATE MAX", "zlexcount k - +", "zmpop 2 {t}a {t}b MIN",
	"zmpop 1 a MAX COUNT 2", "zmscore k a b", "zpopmax k", "zpopmin k 2", "zrandmember k",
	"zrange k 0 -1", "zrange k 0 -1 REV LIMIT 0 1 BYSCORE", "zrangebylex k - +", "zrangebyscore k 0 1",
	"zrangestore {t}d {t}a 0 -1", "zrank k m", "zrem k m", "zremrangebylex k - +",
	"zremrangebyrank k 0 1", "zremrangebyscore k 0 1", "zrevrange k 0 1", "zrevrangebylex k + -",
	"zrevrangebyscore k 1 0", "zrevrank k m", "zscan k 0", "zscore k m", "zunion 2 {t}a {t}b",
	"zunion 3 {t}a {t}b {t}c AGGREGATE SUM", "zunionstore {t}d 2 {t}a {t}b WEIGHTS 1 2",
	// HyperLogLog
	"pfadd k a", "pfcount {t}a {t}b", "pfmerge {t}d {t}a {t}b", "pfmerge {t}d {t}a", "pfdebug GETREG k",
	// geo
	"geoadd k 1 2 m", "geodist k a b", "geohash k a", "geopos k a",
	"georadius k 1 2 3 m", "georadius {t}k 1 2 3 m STORE {t}d", "georadius {t}k 1 2 3 km STOREDIST {t}d",
	"georadius {t}k 1 2 3 m STORE {t}a STOREDIST {t}b", "georadius {t}k 1 2 3 m STORE {t}a STORE {t}b",
	"georadiusbymember {t}k m 3 m STOREDIST {t}a STORE {t}b", "georadius k 1 2 3 m STORE", "georadius k 1 2 3 m WITHDIST COUNT 5",
	"georadius_ro k 1 2 3 m", "georadiusbymember k m 3 m", "georadiusbymember {t}k m 3 m STORE {t}d",
	"georadiusbymember_ro k m 3 m", "geosearch k FROMMEMBER m BYRADIUS 1 m",
	"geosearchstore {t}d {t}s FROMMEMBER m BYRADIUS 1 m", "geosearchstore {t}d {t}s FROMLONLAT 1 2 BYBOX 1 1 km STOREDIST",
	// streams
	"xack k g 0-1", "xadd k * f v", "xadd k MAXLEN 10 * f v", "xautoclaim k g c 0 0", "xclaim k g c 0 0-1",
	"xdel k 0-1", "xlen k", "xpending k g", "xrange k - +", "xrevrange k + -", "xsetid k 0-1", "xtrim k MAXLEN 0",
	"xread STREAMS k 0", "xread COUNT 1 BLOCK 0 STREAMS {t}a {t}b 0 0", "xread STREAMS streams streams 0 0",
	"xread BLOCK 10 STREAMS {t}a {t}b {t}c 0 0 0",
	"xreadgroup GROUP g c STREAMS k >", "xreadgroup GROUP g c COUNT 1 BLOCK 0 NOACK STREAMS {t}a {t}b > >",
	"xreadgroup GROUP streams streams STREAMS streams >",
	"xgroup create k g $", "xgroup create k g $ MKSTREAM", "xgroup createconsumer k g c",
	"xgroup delconsumer k g c", "xgroup destroy k g", "xgroup setid k g $",
	"xinfo consumers k g", "xinfo groups k", "xinfo stream k", "xinfo stream k FULL",
	// scripting and functions
	"eval s 0", "eval s 1 k", "eval s 2 {t}a {t}b arg", "eval_ro s 1 k a", "evalsha abc 2 {t}a {t}b",
	"evalsha_ro abc 1 k", "fcall f 1 k", "fcall f 0 a", "fcall_ro f 2 {t}a {t}b x",
	// sharded pub/sub
	"spublish ch msg", "ssubscribe ch", "ssubscribe {t}a {t}b", "sunsubscribe ch",
}

// bad are malformed commands that the table must refuse with
// ErrBadCommand; the server refuses to run them too (router/command's TestBadCommandsRefusedByServer).
// Its COMMAND GETKEYS is laxer than its commands (it reads numkeys
// with atoi), so it is not the oracle here.
var bad = [...]string{
	"get", "get a b", "mget", "eval s", "eval s 3 a b", "eval s -1 a", "eval s x a", "eval s +1 a",
	"eval s 01 a", "fcall f 2 a", "zunionstore d 3 a b", "zunion 5 a", "lmpop 4 a b LEFT", "blmpop 0 4 a LEFT",
	"sintercard 2 a", "zintercard -1 a", "bzmpop 0 x a MIN",
	"xread k 0", "xread COUNT 1 k 0", "xread STREAMS a b 0", "xread STREAMS", "xread COUNT 1 STREAMS a",
	"xreadgroup GROUP g c STREAMS a b >", "xreadgroup GROUP g c a >",
	"migrate 127.0.0.1 1 k 0 1000 KEYS a b",
	"object encoding", "xinfo stream", "memory usage", "blpop a",
}

// Args splits a sample on spaces; `""` is an empty argument.
func Args(s string) []string {
	args := strings.Fields(s)
	for i, a := range args {
		if a == `""` {
			args[i] = ""
		}
	}
	return args
}

// Valid returns the well-formed samples (a new slice each time): at least
// one for every command of Redis 7.0 that has keys.
func Valid() []string { return append([]string(nil), valid[:]...) }

// Bad returns the malformed samples (a new slice each time), which the
// table refuses with ErrBadCommand.
func Bad() []string { return append([]string(nil), bad[:]...) }
