package command

// The static command table: every command of Redis 7.0 with its arity,
// flags and key specifications, as Redis 7.0.15 reports them through
// COMMAND (TestStaticTableMatchesServer checks each entry against a real
// server, and TestKeysMatchServerGetKeys checks the keys found against the
// server's COMMAND GETKEYS). SORT, MIGRATE, XREAD and XREADGROUP use
// hand-written finders that mirror the server's getkeys procedures, because
// their key specifications are incomplete (SORT ... STORE, MIGRATE ... KEYS)
// or cannot validate the arguments (an odd STREAMS list).

func staticCommands() []*Command {
	return []*Command{
		container("acl", -2, 0,
			cmd("cat", -2, FlagNoScript|FlagLoading|FlagStale),
			cmd("deluser", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("dryrun", -4, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("genpass", -2, FlagNoScript|FlagLoading|FlagStale),
			cmd("getuser", 3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("list", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("load", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("log", -2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("save", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("setuser", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("users", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("whoami", 2, FlagNoScript|FlagLoading|FlagStale),
		),
		cmd("append", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("asking", 1, FlagFast),
		cmd("auth", -2, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagNoAuth|FlagAllowBusy),
		cmd("bgrewriteaof", 1, FlagAdmin|FlagNoScript|FlagNoAsyncLoading),
		cmd("bgsave", -1, FlagAdmin|FlagNoScript|FlagNoAsyncLoading),
		cmd("bitcount", -2, FlagReadOnly, idx(1)),
		cmd("bitfield", -2, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("bitfield_ro", -2, FlagReadOnly|FlagFast, idx(1)),
		cmd("bitop", -4, FlagWrite|FlagDenyOOM, idx(2), rng(3, -1, 1)),
		cmd("bitpos", -3, FlagReadOnly, idx(1)),
		cmd("blmove", 6, FlagWrite|FlagDenyOOM|FlagNoScript|FlagBlocking, idx(1), idx(2)),
		cmd("blmpop", -5, FlagWrite|FlagBlocking|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("blpop", -3, FlagWrite|FlagNoScript|FlagBlocking, rng(1, -2, 1)),
		cmd("brpop", -3, FlagWrite|FlagNoScript|FlagBlocking, rng(1, -2, 1)),
		cmd("brpoplpush", 4, FlagWrite|FlagDenyOOM|FlagNoScript|FlagBlocking, idx(1), idx(2)),
		cmd("bzmpop", -5, FlagWrite|FlagBlocking|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("bzpopmax", -3, FlagWrite|FlagNoScript|FlagBlocking|FlagFast, rng(1, -2, 1)),
		cmd("bzpopmin", -3, FlagWrite|FlagNoScript|FlagBlocking|FlagFast, rng(1, -2, 1)),
		container("client", -2, 0,
			cmd("caching", 3, FlagNoScript|FlagLoading|FlagStale),
			cmd("getname", 2, FlagNoScript|FlagLoading|FlagStale),
			cmd("getredir", 2, FlagNoScript|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("id", 2, FlagNoScript|FlagLoading|FlagStale),
			cmd("info", 2, FlagNoScript|FlagLoading|FlagStale),
			cmd("kill", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("list", -2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("no-evict", 3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("pause", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("reply", 3, FlagNoScript|FlagLoading|FlagStale),
			cmd("setname", 3, FlagNoScript|FlagLoading|FlagStale),
			cmd("tracking", -3, FlagNoScript|FlagLoading|FlagStale),
			cmd("trackinginfo", 2, FlagNoScript|FlagLoading|FlagStale),
			cmd("unblock", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("unpause", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
		),
		container("cluster", -2, 0,
			cmd("addslots", -3, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("addslotsrange", -4, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("bumpepoch", 2, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("count-failure-reports", 3, FlagAdmin|FlagStale),
			cmd("countkeysinslot", 3, FlagStale),
			cmd("delslots", -3, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("delslotsrange", -4, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("failover", -2, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("flushslots", 2, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("forget", 3, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("getkeysinslot", 4, FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("info", 2, FlagStale),
			cmd("keyslot", 3, FlagStale),
			cmd("links", 2, FlagStale),
			cmd("meet", -4, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("myid", 2, FlagStale),
			cmd("nodes", 2, FlagStale),
			cmd("replicas", 3, FlagAdmin|FlagStale),
			cmd("replicate", 3, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("reset", -2, FlagAdmin|FlagNoScript|FlagStale),
			cmd("saveconfig", 2, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("set-config-epoch", 3, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("setslot", -4, FlagAdmin|FlagStale|FlagNoAsyncLoading),
			cmd("shards", 2, FlagStale),
			cmd("slaves", 3, FlagAdmin|FlagStale),
			cmd("slots", 2, FlagStale),
		),
		container("command", -1, FlagLoading|FlagStale,
			cmd("count", 2, FlagLoading|FlagStale),
			cmd("docs", -2, FlagLoading|FlagStale),
			cmd("getkeys", -4, FlagLoading|FlagStale),
			cmd("getkeysandflags", -4, FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("info", -2, FlagLoading|FlagStale),
			cmd("list", -2, FlagLoading|FlagStale),
		),
		container("config", -2, 0,
			cmd("get", -3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("resetstat", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("rewrite", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("set", -4, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
		),
		cmd("copy", -3, FlagWrite|FlagDenyOOM, idx(1), idx(2)),
		cmd("dbsize", 1, FlagReadOnly|FlagFast),
		cmd("debug", -2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
		cmd("decr", 2, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("decrby", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("del", -2, FlagWrite, rng(1, -1, 1)),
		cmd("discard", 1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagAllowBusy),
		cmd("dump", 2, FlagReadOnly, idx(1)),
		cmd("echo", 2, FlagLoading|FlagStale|FlagFast),
		cmd("eval", -3, FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("eval_ro", -3, FlagReadOnly|FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("evalsha", -3, FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("evalsha_ro", -3, FlagReadOnly|FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("exec", 1, FlagNoScript|FlagLoading|FlagStale|FlagSkipSlowlog),
		cmd("exists", -2, FlagReadOnly|FlagFast, rng(1, -1, 1)),
		cmd("expire", -3, FlagWrite|FlagFast, idx(1)),
		cmd("expireat", -3, FlagWrite|FlagFast, idx(1)),
		cmd("expiretime", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("failover", -1, FlagAdmin|FlagNoScript|FlagStale),
		cmd("fcall", -3, FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("fcall_ro", -3, FlagReadOnly|FlagNoScript|FlagStale|FlagSkipMonitor|FlagNoMandatoryKeys|FlagMovableKeys, keynum(2, 0, 1, 1)),
		cmd("flushall", -1, FlagWrite),
		cmd("flushdb", -1, FlagWrite),
		container("function", -2, 0,
			cmd("delete", 3, FlagWrite|FlagNoScript),
			cmd("dump", 2, FlagNoScript),
			cmd("flush", -2, FlagWrite|FlagNoScript),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("kill", 2, FlagNoScript|FlagAllowBusy),
			cmd("list", -2, FlagNoScript),
			cmd("load", -3, FlagWrite|FlagDenyOOM|FlagNoScript),
			cmd("restore", -3, FlagWrite|FlagDenyOOM|FlagNoScript),
			cmd("stats", 2, FlagNoScript|FlagAllowBusy),
		),
		cmd("geoadd", -5, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("geodist", -4, FlagReadOnly, idx(1)),
		cmd("geohash", -2, FlagReadOnly, idx(1)),
		cmd("geopos", -2, FlagReadOnly, idx(1)),
		cmd("georadius", -6, FlagWrite|FlagDenyOOM|FlagMovableKeys, idx(1), kw("STORE", 6, 0, 1, 0), kw("STOREDIST", 6, 0, 1, 0)),
		cmd("georadius_ro", -6, FlagReadOnly, idx(1)),
		cmd("georadiusbymember", -5, FlagWrite|FlagDenyOOM|FlagMovableKeys, idx(1), kw("STORE", 5, 0, 1, 0), kw("STOREDIST", 5, 0, 1, 0)),
		cmd("georadiusbymember_ro", -5, FlagReadOnly, idx(1)),
		cmd("geosearch", -7, FlagReadOnly, idx(1)),
		cmd("geosearchstore", -8, FlagWrite|FlagDenyOOM, idx(1), idx(2)),
		cmd("get", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("getbit", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("getdel", 2, FlagWrite|FlagFast, idx(1)),
		cmd("getex", -2, FlagWrite|FlagFast, idx(1)),
		cmd("getrange", 4, FlagReadOnly, idx(1)),
		cmd("getset", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hdel", -3, FlagWrite|FlagFast, idx(1)),
		cmd("hello", -1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagNoAuth|FlagAllowBusy),
		cmd("hexists", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("hget", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("hgetall", 2, FlagReadOnly, idx(1)),
		cmd("hincrby", 4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hincrbyfloat", 4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hkeys", 2, FlagReadOnly, idx(1)),
		cmd("hlen", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("hmget", -3, FlagReadOnly|FlagFast, idx(1)),
		cmd("hmset", -4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hrandfield", -2, FlagReadOnly, idx(1)),
		cmd("hscan", -3, FlagReadOnly, idx(1)),
		cmd("hset", -4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hsetnx", 4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("hstrlen", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("hvals", 2, FlagReadOnly, idx(1)),
		cmd("incr", 2, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("incrby", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("incrbyfloat", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("info", -1, FlagLoading|FlagStale),
		cmd("keys", 2, FlagReadOnly),
		cmd("lastsave", 1, FlagLoading|FlagStale|FlagFast),
		container("latency", -2, 0,
			cmd("doctor", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("graph", 3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("histogram", -2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("history", 3, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("latest", 2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
			cmd("reset", -2, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
		),
		cmd("lcs", -3, FlagReadOnly, rng(1, 1, 1)),
		cmd("lindex", 3, FlagReadOnly, idx(1)),
		cmd("linsert", 5, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("llen", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("lmove", 5, FlagWrite|FlagDenyOOM, idx(1), idx(2)),
		cmd("lmpop", -4, FlagWrite|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("lolwut", -1, FlagReadOnly|FlagFast),
		cmd("lpop", -2, FlagWrite|FlagFast, idx(1)),
		cmd("lpos", -3, FlagReadOnly, idx(1)),
		cmd("lpush", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("lpushx", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("lrange", 4, FlagReadOnly, idx(1)),
		cmd("lrem", 4, FlagWrite, idx(1)),
		cmd("lset", 4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("ltrim", 4, FlagWrite, idx(1)),
		container("memory", -2, 0,
			cmd("doctor", 2, 0),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("malloc-stats", 2, 0),
			cmd("purge", 2, 0),
			cmd("stats", 2, 0),
			cmd("usage", -3, FlagReadOnly, idx(2)),
		),
		cmd("mget", -2, FlagReadOnly|FlagFast, rng(1, -1, 1)),
		cmd("migrate", -6, FlagWrite|FlagMovableKeys, findMigrate),
		container("module", -2, 0,
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("list", 2, FlagAdmin|FlagNoScript),
			cmd("load", -3, FlagAdmin|FlagNoScript|FlagNoAsyncLoading),
			cmd("loadex", -3, FlagAdmin|FlagNoScript|FlagNoAsyncLoading),
			cmd("unload", 3, FlagAdmin|FlagNoScript|FlagNoAsyncLoading),
		),
		cmd("monitor", 1, FlagAdmin|FlagNoScript|FlagLoading|FlagStale),
		cmd("move", 3, FlagWrite|FlagFast, idx(1)),
		cmd("mset", -3, FlagWrite|FlagDenyOOM, rng(1, -1, 2)),
		cmd("msetnx", -3, FlagWrite|FlagDenyOOM, rng(1, -1, 2)),
		cmd("multi", 1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagAllowBusy),
		container("object", -2, 0,
			cmd("encoding", 3, FlagReadOnly, idx(2)),
			cmd("freq", 3, FlagReadOnly, idx(2)),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("idletime", 3, FlagReadOnly, idx(2)),
			cmd("refcount", 3, FlagReadOnly, idx(2)),
		),
		cmd("persist", 2, FlagWrite|FlagFast, idx(1)),
		cmd("pexpire", -3, FlagWrite|FlagFast, idx(1)),
		cmd("pexpireat", -3, FlagWrite|FlagFast, idx(1)),
		cmd("pexpiretime", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("pfadd", -2, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("pfcount", -2, FlagReadOnly, rng(1, -1, 1)),
		cmd("pfdebug", 3, FlagWrite|FlagDenyOOM|FlagAdmin, idx(2)),
		cmd("pfmerge", -2, FlagWrite|FlagDenyOOM, idx(1), rng(2, -1, 1)),
		cmd("pfselftest", 1, FlagAdmin),
		cmd("ping", -1, FlagFast),
		cmd("psetex", 4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("psubscribe", -2, FlagPubSub|FlagNoScript|FlagLoading|FlagStale),
		cmd("psync", -3, FlagAdmin|FlagNoScript|FlagNoAsyncLoading|FlagNoMulti),
		cmd("pttl", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("publish", 3, FlagPubSub|FlagLoading|FlagStale|FlagFast),
		container("pubsub", -2, 0,
			cmd("channels", -2, FlagPubSub|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("numpat", 2, FlagPubSub|FlagLoading|FlagStale),
			cmd("numsub", -2, FlagPubSub|FlagLoading|FlagStale),
			cmd("shardchannels", -2, FlagPubSub|FlagLoading|FlagStale),
			cmd("shardnumsub", -2, FlagPubSub|FlagLoading|FlagStale),
		),
		cmd("punsubscribe", -1, FlagPubSub|FlagNoScript|FlagLoading|FlagStale),
		cmd("quit", -1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagNoAuth|FlagAllowBusy),
		cmd("randomkey", 1, FlagReadOnly),
		cmd("readonly", 1, FlagLoading|FlagStale|FlagFast),
		cmd("readwrite", 1, FlagLoading|FlagStale|FlagFast),
		cmd("rename", 3, FlagWrite, idx(1), idx(2)),
		cmd("renamenx", 3, FlagWrite|FlagFast, idx(1), idx(2)),
		cmd("replconf", -1, FlagAdmin|FlagNoScript|FlagLoading|FlagStale|FlagAllowBusy),
		cmd("replicaof", 3, FlagAdmin|FlagNoScript|FlagStale|FlagNoAsyncLoading),
		cmd("reset", 1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagNoAuth|FlagAllowBusy),
		cmd("restore", -4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("restore-asking", -4, FlagWrite|FlagDenyOOM|FlagAsking, idx(1)),
		cmd("role", 1, FlagNoScript|FlagLoading|FlagStale|FlagFast),
		cmd("rpop", -2, FlagWrite|FlagFast, idx(1)),
		cmd("rpoplpush", 3, FlagWrite|FlagDenyOOM, idx(1), idx(2)),
		cmd("rpush", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("rpushx", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("sadd", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("save", 1, FlagAdmin|FlagNoScript|FlagNoAsyncLoading|FlagNoMulti),
		cmd("scan", -2, FlagReadOnly),
		cmd("scard", 2, FlagReadOnly|FlagFast, idx(1)),
		container("script", -2, 0,
			cmd("debug", 3, FlagNoScript),
			cmd("exists", -3, FlagNoScript),
			cmd("flush", -2, FlagNoScript),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("kill", 2, FlagNoScript|FlagAllowBusy),
			cmd("load", 3, FlagNoScript|FlagStale),
		),
		cmd("sdiff", -2, FlagReadOnly, rng(1, -1, 1)),
		cmd("sdiffstore", -3, FlagWrite|FlagDenyOOM, idx(1), rng(2, -1, 1)),
		cmd("select", 2, FlagLoading|FlagStale|FlagFast),
		cmd("set", -3, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("setbit", 4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("setex", 4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("setnx", 3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("setrange", 4, FlagWrite|FlagDenyOOM, idx(1)),
		cmd("shutdown", -1, FlagAdmin|FlagNoScript|FlagLoading|FlagStale|FlagNoMulti|FlagAllowBusy),
		cmd("sinter", -2, FlagReadOnly, rng(1, -1, 1)),
		cmd("sintercard", -3, FlagReadOnly|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("sinterstore", -3, FlagWrite|FlagDenyOOM, idx(1), rng(2, -1, 1)),
		cmd("sismember", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("slaveof", 3, FlagAdmin|FlagNoScript|FlagStale|FlagNoAsyncLoading),
		container("slowlog", -2, 0,
			cmd("get", -2, FlagAdmin|FlagLoading|FlagStale),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("len", 2, FlagAdmin|FlagLoading|FlagStale),
			cmd("reset", 2, FlagAdmin|FlagLoading|FlagStale),
		),
		cmd("smembers", 2, FlagReadOnly, idx(1)),
		cmd("smismember", -3, FlagReadOnly|FlagFast, idx(1)),
		cmd("smove", 4, FlagWrite|FlagFast, idx(1), idx(2)),
		cmd("sort", -2, FlagWrite|FlagDenyOOM|FlagMovableKeys, findSort),
		cmd("sort_ro", -2, FlagReadOnly|FlagMovableKeys, idx(1)),
		cmd("spop", -2, FlagWrite|FlagFast, idx(1)),
		cmd("spublish", 3, FlagPubSub|FlagLoading|FlagStale|FlagFast, idxNotKey(1)),
		cmd("srandmember", -2, FlagReadOnly, idx(1)),
		cmd("srem", -3, FlagWrite|FlagFast, idx(1)),
		cmd("sscan", -3, FlagReadOnly, idx(1)),
		cmd("ssubscribe", -2, FlagPubSub|FlagNoScript|FlagLoading|FlagStale, rngNotKey(1, -1, 1)),
		cmd("strlen", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("subscribe", -2, FlagPubSub|FlagNoScript|FlagLoading|FlagStale),
		cmd("substr", 4, FlagReadOnly, idx(1)),
		cmd("sunion", -2, FlagReadOnly, rng(1, -1, 1)),
		cmd("sunionstore", -3, FlagWrite|FlagDenyOOM, idx(1), rng(2, -1, 1)),
		cmd("sunsubscribe", -1, FlagPubSub|FlagNoScript|FlagLoading|FlagStale, rngNotKey(1, -1, 1)),
		cmd("swapdb", 3, FlagWrite|FlagFast),
		cmd("sync", 1, FlagAdmin|FlagNoScript|FlagNoAsyncLoading|FlagNoMulti),
		cmd("time", 1, FlagLoading|FlagStale|FlagFast),
		cmd("touch", -2, FlagReadOnly|FlagFast, rng(1, -1, 1)),
		cmd("ttl", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("type", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("unlink", -2, FlagWrite|FlagFast, rng(1, -1, 1)),
		cmd("unsubscribe", -1, FlagPubSub|FlagNoScript|FlagLoading|FlagStale),
		cmd("unwatch", 1, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagAllowBusy),
		cmd("wait", 3, FlagNoScript),
		cmd("watch", -2, FlagNoScript|FlagLoading|FlagStale|FlagFast|FlagAllowBusy, rng(1, -1, 1)),
		cmd("xack", -4, FlagWrite|FlagFast, idx(1)),
		cmd("xadd", -5, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("xautoclaim", -6, FlagWrite|FlagFast, idx(1)),
		cmd("xclaim", -6, FlagWrite|FlagFast, idx(1)),
		cmd("xdel", -3, FlagWrite|FlagFast, idx(1)),
		container("xgroup", -2, 0,
			cmd("create", -5, FlagWrite|FlagDenyOOM, idx(2)),
			cmd("createconsumer", 5, FlagWrite|FlagDenyOOM, idx(2)),
			cmd("delconsumer", 5, FlagWrite, idx(2)),
			cmd("destroy", 4, FlagWrite, idx(2)),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("setid", -5, FlagWrite, idx(2)),
		),
		container("xinfo", -2, 0,
			cmd("consumers", 4, FlagReadOnly, idx(2)),
			cmd("groups", 3, FlagReadOnly, idx(2)),
			cmd("help", 2, FlagLoading|FlagStale),
			cmd("stream", -3, FlagReadOnly, idx(2)),
		),
		cmd("xlen", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("xpending", -3, FlagReadOnly, idx(1)),
		cmd("xrange", -4, FlagReadOnly, idx(1)),
		cmd("xread", -4, FlagReadOnly|FlagBlocking|FlagMovableKeys, findXRead),
		cmd("xreadgroup", -7, FlagWrite|FlagBlocking|FlagMovableKeys, findXRead),
		cmd("xrevrange", -4, FlagReadOnly, idx(1)),
		cmd("xsetid", -3, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("xtrim", -4, FlagWrite, idx(1)),
		cmd("zadd", -4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("zcard", 2, FlagReadOnly|FlagFast, idx(1)),
		cmd("zcount", 4, FlagReadOnly|FlagFast, idx(1)),
		cmd("zdiff", -3, FlagReadOnly|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("zdiffstore", -4, FlagWrite|FlagDenyOOM|FlagMovableKeys, idx(1), keynum(2, 0, 1, 1)),
		cmd("zincrby", 4, FlagWrite|FlagDenyOOM|FlagFast, idx(1)),
		cmd("zinter", -3, FlagReadOnly|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("zintercard", -3, FlagReadOnly|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("zinterstore", -4, FlagWrite|FlagDenyOOM|FlagMovableKeys, idx(1), keynum(2, 0, 1, 1)),
		cmd("zlexcount", 4, FlagReadOnly|FlagFast, idx(1)),
		cmd("zmpop", -4, FlagWrite|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("zmscore", -3, FlagReadOnly|FlagFast, idx(1)),
		cmd("zpopmax", -2, FlagWrite|FlagFast, idx(1)),
		cmd("zpopmin", -2, FlagWrite|FlagFast, idx(1)),
		cmd("zrandmember", -2, FlagReadOnly, idx(1)),
		cmd("zrange", -4, FlagReadOnly, idx(1)),
		cmd("zrangebylex", -4, FlagReadOnly, idx(1)),
		cmd("zrangebyscore", -4, FlagReadOnly, idx(1)),
		cmd("zrangestore", -5, FlagWrite|FlagDenyOOM, idx(1), idx(2)),
		cmd("zrank", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("zrem", -3, FlagWrite|FlagFast, idx(1)),
		cmd("zremrangebylex", 4, FlagWrite, idx(1)),
		cmd("zremrangebyrank", 4, FlagWrite, idx(1)),
		cmd("zremrangebyscore", 4, FlagWrite, idx(1)),
		cmd("zrevrange", -4, FlagReadOnly, idx(1)),
		cmd("zrevrangebylex", -4, FlagReadOnly, idx(1)),
		cmd("zrevrangebyscore", -4, FlagReadOnly, idx(1)),
		cmd("zrevrank", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("zscan", -3, FlagReadOnly, idx(1)),
		cmd("zscore", 3, FlagReadOnly|FlagFast, idx(1)),
		cmd("zunion", -3, FlagReadOnly|FlagMovableKeys, keynum(1, 0, 1, 1)),
		cmd("zunionstore", -4, FlagWrite|FlagDenyOOM|FlagMovableKeys, idx(1), keynum(2, 0, 1, 1)),
	}
}

// part is a key specification or a finder given to cmd.
type part interface{ applyTo(c *Command) }

func (s KeySpec) applyTo(c *Command) { c.Specs = append(c.Specs, s) }
func (f finder) applyTo(c *Command)  { c.find = f }

// cmd describes a command (or, inside container, a subcommand).
func cmd(name string, arity int, flags Flags, parts ...part) *Command {
	c := &Command{Name: name, Arity: arity, Flags: flags}
	for _, p := range parts {
		p.applyTo(c)
	}
	return c
}

// container describes a command with subcommands.
func container(name string, arity int, flags Flags, subs ...*Command) *Command {
	c := &Command{Name: name, Arity: arity, Flags: flags | FlagContainer, subs: make(map[string]*Command, len(subs))}
	for _, s := range subs {
		addName(c.subs, s.Name, s)
		s.Name = name + "|" + s.Name
	}
	return c
}

// idx is one key at index i.
func idx(i int) KeySpec {
	return KeySpec{Begin: BeginIndex, Index: i, Find: FindRange, KeyStep: 1}
}

// idxNotKey is one channel (not a key, but it decides the slot) at i.
func idxNotKey(i int) KeySpec {
	s := idx(i)
	s.NotKey = true
	return s
}

// rng is keys from index i to lastKey (relative to i, or from the end
// when negative), every step arguments.
func rng(i, lastKey, step int) KeySpec {
	return KeySpec{Begin: BeginIndex, Index: i, Find: FindRange, LastKey: lastKey, KeyStep: step}
}

// rngNotKey is rng for channels.
func rngNotKey(i, lastKey, step int) KeySpec {
	s := rng(i, lastKey, step)
	s.NotKey = true
	return s
}

// kw is keys after keyword, searched from startFrom (backwards from the
// end when negative); lastKey, step and limit as for rng.
func kw(keyword string, startFrom, lastKey, step, limit int) KeySpec {
	return KeySpec{Begin: BeginKeyword, Keyword: keyword, StartFrom: startFrom, Find: FindRange,
		LastKey: lastKey, KeyStep: step, Limit: limit}
}

// keynum is a count of keys at i+numIdx followed by the keys from
// i+first, every step arguments.
func keynum(i, numIdx, first, step int) KeySpec {
	return KeySpec{Begin: BeginIndex, Index: i, Find: FindKeyNum, KeyNumIdx: numIdx, FirstKey: first, KeyStep: step}
}

// buildStatic indexes the static commands by name and computes the
// derived flags.
func buildStatic() map[string]*Command {
	list := staticCommands()
	m := make(map[string]*Command, len(list))
	for _, c := range list {
		addName(m, c.Name, c)
	}
	applyStaticTips(m)
	for _, c := range list {
		finish(c) // after the tips: the class depends on them
	}
	return m
}

// finish sets the computed flags, the single key and the class of c and
// its subcommands; c's tips must be set.
func finish(c *Command) {
	if len(c.Specs) == 0 && c.find == findSpecs {
		c.Flags |= FlagKeyless
	} else {
		c.Flags &^= FlagKeyless
	}
	for _, s := range c.Specs {
		if s.Incomplete || s.Begin == BeginUnknown || s.Find == FindUnknown {
			c.Flags |= FlagKeysIncomplete
		}
	}
	c.setSingle()
	c.class = classOf(c) | classKnown
	for key, s := range c.subs {
		if isCanonical(key, s.Name) {
			finish(s)
		}
	}
}
