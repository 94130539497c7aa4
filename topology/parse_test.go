package topology

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summarize renders a view's shards canonically, sorted:
// "id4@addr/health ranges [replica-id4@addr/health ...]".
func summarize(v *View) []string {
	var out []string
	for _, sh := range v.Shards {
		var reps []string
		for _, r := range sh.Replicas {
			reps = append(reps, fmt.Sprintf("%s@%s/%s", r.ID[:4], r.Addr, r.Health))
		}
		sort.Strings(reps)
		out = append(out, fmt.Sprintf("%s@%s/%s %s [%s]", sh.Primary.ID[:4], sh.Primary.Addr, sh.Primary.Health,
			slots.FormatRanges(sh.Ranges, ","), strings.Join(reps, " ")))
	}
	sort.Strings(out)
	return out
}

// Full ids of the captured 3x1 cluster (testdata/replies/{healthy,migrating,failed,failedover}).
const (
	idB785 = "b785ac81474bfaa23c5100e39c71165368a409a9" // 127.0.0.1:22115, answered
	idA14C = "a14c2563d27b4e9256fa1a9bd4d904d89fe3a12e" // 127.0.0.1:20133
	id99A7 = "99a716c4c52817e434c9188f459511ecf9df5287" // 127.0.0.1:20568, killed
	idAAB1 = "aab15b69e451c77156795a0b8b16b62dab2e50aa" // 127.0.0.1:22499, its replica
	idD627 = "d6274c1d768c906333d2c68e159b05d634d7cd65" // 127.0.0.1:21398
	id3CB1 = "3cb1a68f4a857af2054b9248c362c85e8a7000a8" // 127.0.0.1:21294
)

func TestParseCapturedShards(t *testing.T) {
	healthy := []string{
		"99a7@127.0.0.1:20568/online 10923-16383 [aab1@127.0.0.1:22499/loading]",
		"a14c@127.0.0.1:20133/online 5461-10922 [3cb1@127.0.0.1:21294/loading]",
		"b785@127.0.0.1:22115/online 0-5460 [d627@127.0.0.1:21398/loading]",
	}
	cases := []struct {
		shape string
		resp3 bool
		want  []string
	}{
		{"healthy", false, healthy},
		{"healthy", true, healthy},
		{"migrating", false, healthy},
		{"migrating", true, healthy},
		{"failed", false, []string{
			"99a7@127.0.0.1:20568/failed 10923-16383 [aab1@127.0.0.1:22499/loading]",
			"a14c@127.0.0.1:20133/online 5462-10922 [3cb1@127.0.0.1:21294/loading]",
			"b785@127.0.0.1:22115/online 0-5461 [d627@127.0.0.1:21398/loading]",
		}},
		{"failed", true, []string{
			"99a7@127.0.0.1:20568/failed 10923-16383 [aab1@127.0.0.1:22499/loading]",
			"a14c@127.0.0.1:20133/online 5462-10922 [3cb1@127.0.0.1:21294/online]",
			"b785@127.0.0.1:22115/online 0-5461 [d627@127.0.0.1:21398/online]",
		}},
		{"failedover", false, []string{
			"99a7@127.0.0.1:20568/failed  []",
			"a14c@127.0.0.1:20133/online 5462-10922 [3cb1@127.0.0.1:21294/online]",
			"aab1@127.0.0.1:22499/online 10923-16383 []",
			"b785@127.0.0.1:22115/online 0-5461 [d627@127.0.0.1:21398/online]",
		}},
		{"hostname", true, []string{
			"3ae7@localhost:21574/online 5461-10922 [5882@localhost:20288/loading]",
			"42fa@localhost:22252/online 0-5460 [763b@localhost:20466/loading]",
			"73d3@localhost:22580/online 10923-16383 [6a55@localhost:22036/loading]",
		}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/resp3=%v", tc.shape, tc.resp3), func(t *testing.T) {
			v, err := ParseShards(capturedMessage(t, tc.shape, "shards", tc.resp3), answeredOf(t, tc.shape))
			require.NoError(t, err)
			assert.Equal(t, SourceShards, v.Source)
			assert.Equal(t, tc.want, summarize(&v))
			assert.Zero(t, v.Skipped)
			for _, n := range v.Nodes() {
				assert.Len(t, n.ID, 40)
				assert.Equal(t, "127.0.0.1", n.IP)
				assert.NotZero(t, n.Port)
				assert.False(t, n.EpochKnown, "CLUSTER SHARDS carries no epochs")
			}
		})
	}
	t.Run("hostname fields", func(t *testing.T) {
		v, err := ParseShards(capturedMessage(t, "hostname", "shards", false), answeredOf(t, "hostname"))
		require.NoError(t, err)
		for _, n := range v.Nodes() {
			assert.Equal(t, "localhost", n.Hostname)
			assert.Equal(t, "localhost", n.Endpoint)
			assert.Equal(t, "127.0.0.1", n.IP)
			assert.True(t, strings.HasPrefix(n.Announced, "localhost:"), n.Announced)
		}
	})
	t.Run("roles", func(t *testing.T) {
		v, err := ParseShards(capturedMessage(t, "healthy", "shards", true), answeredOf(t, "healthy"))
		require.NoError(t, err)
		for _, sh := range v.Shards {
			assert.Equal(t, RolePrimary, sh.Primary.Role)
			for _, r := range sh.Replicas {
				assert.Equal(t, RoleReplica, r.Role)
				assert.Equal(t, sh.Primary.ID, r.PrimaryID)
			}
		}
	})
}

func TestParseCapturedSlots(t *testing.T) {
	healthy := []string{
		"99a7@127.0.0.1:20568/unknown 10923-16383 []",
		"a14c@127.0.0.1:20133/unknown 5461-10922 []",
		"b785@127.0.0.1:22115/unknown 0-5460 []",
	}
	cases := []struct {
		shape string
		resp3 bool
		want  []string
	}{
		{"healthy", false, healthy},
		{"healthy", true, healthy},
		{"failed", false, []string{
			"99a7@127.0.0.1:20568/unknown 10923-16383 []",
			"a14c@127.0.0.1:20133/unknown 5462-10922 []",
			"b785@127.0.0.1:22115/unknown 0-5461 []",
		}},
		{"failed", true, []string{
			"99a7@127.0.0.1:20568/unknown 10923-16383 []",
			"a14c@127.0.0.1:20133/unknown 5462-10922 [3cb1@127.0.0.1:21294/unknown]",
			"b785@127.0.0.1:22115/unknown 0-5461 [d627@127.0.0.1:21398/unknown]",
		}},
		{"failedover", false, []string{
			"a14c@127.0.0.1:20133/unknown 5462-10922 [3cb1@127.0.0.1:21294/unknown]",
			"aab1@127.0.0.1:22499/unknown 10923-16383 []",
			"b785@127.0.0.1:22115/unknown 0-5461 [d627@127.0.0.1:21398/unknown]",
		}},
		{"hostname", false, []string{
			"3ae7@localhost:21574/unknown 5461-10922 []",
			"42fa@localhost:22252/unknown 0-5460 []",
			"73d3@localhost:22580/unknown 10923-16383 []",
		}},
		{"hostname", true, []string{
			"3ae7@localhost:21574/unknown 5461-10922 []",
			"42fa@localhost:22252/unknown 0-5460 []",
			"73d3@localhost:22580/unknown 10923-16383 []",
		}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/resp3=%v", tc.shape, tc.resp3), func(t *testing.T) {
			v, err := ParseSlots(capturedMessage(t, tc.shape, "slots", tc.resp3), answeredOf(t, tc.shape))
			require.NoError(t, err)
			assert.Equal(t, SourceSlots, v.Source)
			assert.Equal(t, tc.want, summarize(&v))
			if tc.shape == "hostname" {
				for _, n := range v.Nodes() {
					assert.Equal(t, "127.0.0.1", n.IP, "ip from the 4th element metadata")
					assert.Equal(t, "localhost", n.Endpoint)
				}
			}
		})
	}
}

func TestParseCapturedNodes(t *testing.T) {
	healthy := []string{
		"99a7@127.0.0.1:20568/online 10923-16383 [aab1@127.0.0.1:22499/online]",
		"a14c@127.0.0.1:20133/online 5461-10922 [3cb1@127.0.0.1:21294/online]",
		"b785@127.0.0.1:22115/online 0-5460 [d627@127.0.0.1:21398/online]",
	}
	for _, resp3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("healthy/resp3=%v", resp3), func(t *testing.T) {
			v, err := ParseNodesReply(capturedMessage(t, "healthy", "nodes", resp3), answeredOf(t, "healthy"))
			require.NoError(t, err)
			assert.Equal(t, healthy, summarize(&v))
			assert.Equal(t, idB785, v.MyID)
			require.Len(t, v.Facts, 6)
			epochs := map[string]uint64{}
			for _, f := range v.Facts {
				epochs[f.ID[:4]] = f.ConfigEpoch
				assert.True(t, f.EpochKnown)
				assert.True(t, f.NoFailover)
				assert.Equal(t, "connected", f.LinkState)
				assert.Equal(t, f.Port+10000, f.BusPort)
			}
			assert.Equal(t, map[string]uint64{"b785": 1, "d627": 1, "a14c": 2, "3cb1": 2, "99a7": 3, "aab1": 3}, epochs)
		})
		t.Run(fmt.Sprintf("migrating/resp3=%v", resp3), func(t *testing.T) {
			v, err := ParseNodesReply(capturedMessage(t, "migrating", "nodes", resp3), answeredOf(t, "migrating"))
			require.NoError(t, err)
			assert.Equal(t, healthy, summarize(&v))
			assert.Equal(t, idA14C, v.MyID)
			var mig []SlotMigration
			for _, f := range v.Facts {
				mig = append(mig, f.Migrating...)
				assert.Empty(t, f.Importing)
			}
			assert.Equal(t, []SlotMigration{{Slot: 5461, NodeID: idB785}}, mig)
		})
		t.Run(fmt.Sprintf("failed/resp3=%v", resp3), func(t *testing.T) {
			v, err := ParseNodesReply(capturedMessage(t, "failed", "nodes", resp3), answeredOf(t, "failed"))
			require.NoError(t, err)
			assert.Equal(t, []string{
				"99a7@127.0.0.1:20568/failed 10923-16383 [aab1@127.0.0.1:22499/online]",
				"a14c@127.0.0.1:20133/online 5462-10922 [3cb1@127.0.0.1:21294/online]",
				"b785@127.0.0.1:22115/online 0-5461 [d627@127.0.0.1:21398/online]",
			}, summarize(&v))
			for _, f := range v.Facts {
				if f.ID == id99A7 {
					assert.True(t, f.Fail)
					assert.Equal(t, "disconnected", f.LinkState)
					assert.Equal(t, []string{"master", "fail", "nofailover"}, f.Flags)
				}
				if f.ID == idB785 {
					assert.Equal(t, uint64(7), f.ConfigEpoch, "bumped by the slot move")
				}
			}
		})
		t.Run(fmt.Sprintf("failedover/resp3=%v", resp3), func(t *testing.T) {
			v, err := ParseNodesReply(capturedMessage(t, "failedover", "nodes", resp3), answeredOf(t, "failedover"))
			require.NoError(t, err)
			assert.Equal(t, []string{
				"99a7@127.0.0.1:20568/failed  []",
				"a14c@127.0.0.1:20133/online 5462-10922 [3cb1@127.0.0.1:21294/online]",
				"aab1@127.0.0.1:22499/online 10923-16383 []",
				"b785@127.0.0.1:22115/online 0-5461 [d627@127.0.0.1:21398/online]",
			}, summarize(&v))
			for _, sh := range v.Shards {
				if sh.Primary.ID == idAAB1 {
					assert.Equal(t, uint64(8), sh.Primary.ConfigEpoch)
				}
			}
		})
	}
	t.Run("hostname", func(t *testing.T) {
		v, err := ParseNodesReply(capturedMessage(t, "hostname", "nodes", false), answeredOf(t, "hostname"))
		require.NoError(t, err)
		for _, n := range v.Nodes() {
			assert.Equal(t, "localhost", n.Hostname)
			assert.Equal(t, "127.0.0.1", n.IP)
			assert.Equal(t, "127.0.0.1", n.Endpoint, "CLUSTER NODES announces the ip first")
		}
	})
}

// The three parsers agree on who owns what, in every captured shape.
func TestParsersAgree(t *testing.T) {
	owners := func(v *View) map[string]string {
		m := map[string]string{}
		for _, sh := range v.Shards {
			if len(sh.Ranges) > 0 {
				m[sh.Primary.ID] = slots.FormatRanges(sh.Ranges, ",")
			}
		}
		return m
	}
	for _, shape := range []string{"healthy", "migrating", "failed", "failedover", "hostname"} {
		for _, resp3 := range []bool{false, true} {
			ans := answeredOf(t, shape)
			a, err := ParseShards(capturedMessage(t, shape, "shards", resp3), ans)
			require.NoError(t, err)
			b, err := ParseSlots(capturedMessage(t, shape, "slots", resp3), ans)
			require.NoError(t, err)
			c, err := ParseNodesReply(capturedMessage(t, shape, "nodes", resp3), ans)
			require.NoError(t, err)
			assert.Equal(t, owners(&a), owners(&b), shape)
			assert.Equal(t, owners(&a), owners(&c), shape)
			// Epochs attach by id.
			assert.Equal(t, 6, a.AttachEpochs(&c), shape)
			assert.True(t, a.HasEpochs())
		}
	}
}

func TestParseNodesSynthetic(t *testing.T) {
	text := "" +
		"aaaa 10.0.0.1:7000@17000,host-a,tls-port=7443,shard-id=s1 myself,master - 0 0 5 connected 0-99 100 [101->-bbbb] [102-<-cccc]\n" +
		"bbbb [::1]:7001@17001 master - 0 0 6 connected 200-300\r\n" +
		"cccc ::1:7002@17002 slave bbbb 0 0 6 connected\n" +
		"dddd :0@0 master,noaddr - 0 0 0 disconnected\n" +
		"eeee 10.0.0.5:7005@17005 handshake - 0 0 0 connected\n" +
		"ffff 10.0.0.6:7006@17006 slave,fail? zzzz 0 0 1 connected\n" +
		"\n"
	v, err := ParseNodes(text, "10.0.0.1:7000")
	require.NoError(t, err)
	assert.Equal(t, "aaaa", v.MyID)
	require.Len(t, v.Facts, 6)
	a := v.Facts[0]
	assert.Equal(t, "host-a", a.Hostname)
	assert.Equal(t, 7443, a.TLSPort)
	assert.Equal(t, "s1", a.Aux["shard-id"])
	assert.Equal(t, []slots.Range{{Start: 0, End: 99}, {Start: 100, End: 100}}, a.Ranges)
	assert.Equal(t, []SlotMigration{{Slot: 101, NodeID: "bbbb"}}, a.Migrating)
	assert.Equal(t, []SlotMigration{{Slot: 102, NodeID: "cccc"}}, a.Importing)
	assert.Equal(t, "[::1]:7001", v.Facts[1].Announced)
	assert.Equal(t, "[::1]:7002", v.Facts[2].Announced)
	assert.True(t, v.Facts[3].NoAddr)
	assert.True(t, v.Facts[4].Handshake)
	assert.True(t, v.Facts[5].PFail)
	assert.Equal(t, HealthOnline, v.Facts[5].Health, "fail? is only a suspicion")
	// Shards: aaaa (0-100 merged), bbbb with replica cccc; dddd/eeee skipped;
	// ffff's primary zzzz is unknown, so it is skipped too.
	require.Len(t, v.Shards, 2)
	assert.Equal(t, "s1", v.Shards[0].ID)
	assert.Equal(t, []slots.Range{{Start: 0, End: 100}}, v.Shards[0].Ranges)
	assert.Equal(t, "cccc", v.Shards[1].Replicas[0].ID)
	assert.Equal(t, 3, v.Skipped)

	// Myself with an unknown ip takes the host that answered.
	v, err = ParseNodes("aaaa :7000@17000 myself,master - 0 0 1 connected 0-16383\n", "[fe80::1]:7000")
	require.NoError(t, err)
	assert.Equal(t, "[fe80::1]:7000", v.Shards[0].Primary.Announced)
}

func TestParseNodesMalformed(t *testing.T) {
	line := func(s string) string { return s + "\n" }
	cases := map[string]string{
		"empty":            "",
		"blank lines":      "\n\n",
		"too few fields":   line("aaaa 1.2.3.4:1@2 master - 0 0"),
		"bad id":           line("a!a 1.2.3.4:1@2 master - 0 0 1 connected"),
		"no port":          line("aaaa 1.2.3.4 master - 0 0 1 connected"),
		"bad port":         line("aaaa 1.2.3.4:99999@2 master - 0 0 1 connected"),
		"bad bus port":     line("aaaa 1.2.3.4:1@x master - 0 0 1 connected"),
		"bad epoch":        line("aaaa 1.2.3.4:1@2 master - 0 0 -1 connected"),
		"bad ping":         line("aaaa 1.2.3.4:1@2 master - x 0 1 connected"),
		"bad pong":         line("aaaa 1.2.3.4:1@2 master - 0 x 1 connected"),
		"bad link":         line("aaaa 1.2.3.4:1@2 master - 0 0 1 maybe"),
		"slot 99999":       line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected 99999"),
		"reversed range":   line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected 10-5"),
		"bad marker":       line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected [5-x-bbbb]"),
		"marker slot":      line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected [20000->-bbbb]"),
		"unclosed marker":  line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected [5->-bbbb"),
		"replica slots":    line("aaaa 1.2.3.4:1@2 slave bbbb 0 0 1 connected 0-5"),
		"replica no prim":  line("aaaa 1.2.3.4:1@2 slave - 0 0 1 connected"),
		"master and slave": line("aaaa 1.2.3.4:1@2 master,slave - 0 0 1 connected"),
		"duplicate":        line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected") + line("aaaa 1.2.3.4:1@2 master - 0 0 1 connected"),
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseNodes(text, "1.2.3.4:1")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedReply)
		})
	}
	_, err := ParseNodesReply(mock.RedisError("ERR This instance has cluster support disabled"), "x:1")
	assert.ErrorIs(t, err, ErrErrorReply)
	assert.Contains(t, err.Error(), "cluster support disabled")
	_, err = ParseNodesReply(mock.RedisArray(), "x:1")
	assert.ErrorIs(t, err, ErrMalformedReply)
}

// shardsNode builds one CLUSTER SHARDS node map.
func shardsNode(kv ...any) rueidis.RedisMessage {
	m := map[string]rueidis.RedisMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch x := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = mock.RedisBlobString(x)
		case int:
			m[kv[i].(string)] = mock.RedisInt64(int64(x))
		case rueidis.RedisMessage:
			m[kv[i].(string)] = x
		}
	}
	return mock.RedisMap(m)
}

func shardEntry(slotBounds []int64, nodes ...rueidis.RedisMessage) rueidis.RedisMessage {
	var b []rueidis.RedisMessage
	for _, s := range slotBounds {
		b = append(b, mock.RedisInt64(s))
	}
	return mock.RedisMap(map[string]rueidis.RedisMessage{
		"slots": mock.RedisArray(b...),
		"nodes": mock.RedisArray(nodes...),
	})
}

func okNode(id string, port int, role string) rueidis.RedisMessage {
	return shardsNode("id", id, "port", port, "ip", "10.0.0.1", "endpoint", "10.0.0.1", "role", role, "health", "online", "replication-offset", 5)
}

func TestParseShardsSynthetic(t *testing.T) {
	msg := mock.RedisArray(
		shardEntry([]int64{0, 10, 11, 20}, okNode("p1", 7000, "master"), okNode("r1", 7001, "replica")),
		// "" endpoint: the answering host (IPv6); "?" endpoint: skipped.
		shardEntry([]int64{21, 30},
			shardsNode("id", "p2", "port", 7002, "endpoint", "", "role", "master", "health", "loading"),
			shardsNode("id", "r2", "port", 7003, "endpoint", "?", "role", "replica", "health", "online")),
		// Primary unknown: the shard is left out, its slots unclaimed.
		shardEntry([]int64{31, 40}, shardsNode("id", "p3", "port", 7004, "endpoint", "?", "role", "master")),
		// Two primaries (old one failed): the healthy one wins.
		shardEntry([]int64{41, 50},
			shardsNode("id", "old", "port", 7005, "endpoint", "h", "role", "master", "health", "failed", "replication-offset", 100),
			shardsNode("id", "new", "tls-port", 7006, "endpoint", "h", "role", "master", "health", "online", "replication-offset", 90)),
	)
	v, err := ParseShards(msg, "[::1]:6379")
	require.NoError(t, err)
	require.Len(t, v.Shards, 3)
	assert.Equal(t, 2, v.Skipped)
	assert.Equal(t, []slots.Range{{Start: 0, End: 20}}, v.Shards[0].Ranges)
	assert.Equal(t, int64(5), v.Shards[0].Primary.ReplicationOffset)
	assert.Equal(t, "[::1]:7002", v.Shards[1].Primary.Announced)
	assert.Equal(t, HealthLoading, v.Shards[1].Primary.Health)
	assert.Empty(t, v.Shards[1].Replicas)
	assert.Equal(t, "new", v.Shards[2].Primary.ID)
	assert.Equal(t, "h:7006", v.Shards[2].Primary.Addr, "TLS-only node dials its tls-port")
	assert.Equal(t, "old", v.Shards[2].Replicas[0].ID)
	covered := v.Covered()
	assert.False(t, covered.Has(35))
}

func TestParseShardsMalformed(t *testing.T) {
	good := okNode("p1", 7000, "master")
	cases := map[string]rueidis.RedisMessage{
		"not array":       mock.RedisString("hello"),
		"nil":             mock.RedisNil(),
		"int":             mock.RedisInt64(3),
		"entry not map":   mock.RedisArray(mock.RedisInt64(1)),
		"odd kv array":    mock.RedisArray(mock.RedisArray(mock.RedisString("slots"))),
		"no slots":        mock.RedisArray(mock.RedisMap(map[string]rueidis.RedisMessage{"nodes": mock.RedisArray()})),
		"no nodes":        mock.RedisArray(mock.RedisMap(map[string]rueidis.RedisMessage{"slots": mock.RedisArray()})),
		"odd slots":       mock.RedisArray(shardEntry([]int64{0, 1, 2}, good)),
		"slot 99999":      mock.RedisArray(shardEntry([]int64{0, 99999}, good)),
		"negative slot":   mock.RedisArray(shardEntry([]int64{-1, 5}, good)),
		"reversed":        mock.RedisArray(shardEntry([]int64{9, 5}, good)),
		"slots not array": mock.RedisArray(mock.RedisMap(map[string]rueidis.RedisMessage{"slots": mock.RedisInt64(1), "nodes": mock.RedisArray()})),
		"nodes not array": mock.RedisArray(mock.RedisMap(map[string]rueidis.RedisMessage{"slots": mock.RedisArray(), "nodes": mock.RedisInt64(1)})),
		"node not map":    mock.RedisArray(shardEntry([]int64{0, 5}, mock.RedisInt64(1))),
		"no id":           mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("port", 1, "role", "master"))),
		"empty id":        mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "", "port", 1, "role", "master"))),
		"id not string":   mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", 5, "port", 1, "role", "master"))),
		"no port":         mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "role", "master"))),
		"port string":     mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", "abc", "role", "master"))),
		"port 70000":      mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 70000, "role", "master"))),
		"no role":         mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 1))),
		"bad role":        mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 1, "role", "boss"))),
		"bad health":      mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 1, "role", "master", "health", "meh"))),
		"bad offset":      mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 1, "role", "master", "replication-offset", "z"))),
		"endpoint int":    mock.RedisArray(shardEntry([]int64{0, 5}, shardsNode("id", "x", "port", 1, "role", "master", "endpoint", 3))),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseShards(msg, "1.2.3.4:1")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedReply)
		})
	}
	_, err := ParseShards(mock.RedisError("ERR unknown command 'CLUSTER SHARDS'"), "x:1")
	assert.ErrorIs(t, err, ErrErrorReply)

	// Errors say where the problem is.
	_, err = ParseShards(cases["slot 99999"], "x:1")
	assert.EqualError(t, err, "topology: malformed reply: CLUSTER SHARDS shard[0].slots[0]: slot bound is not an integer in 0-16383")
	_, err = ParseShards(mock.RedisArray(shardEntry([]int64{0, 1}, good, shardsNode("id", "x", "port", 1, "role", "boss"))), "x:1")
	assert.EqualError(t, err, `topology: malformed reply: CLUSTER SHARDS shard[0].nodes[1].role: unknown role "boss"`)
}

func slotsNode(endpoint any, port int64, id string, meta ...rueidis.RedisMessage) rueidis.RedisMessage {
	var ep rueidis.RedisMessage
	switch e := endpoint.(type) {
	case string:
		ep = mock.RedisBlobString(e)
	case nil:
		ep = mock.RedisNil()
	}
	el := []rueidis.RedisMessage{ep, mock.RedisInt64(port), mock.RedisBlobString(id)}
	return mock.RedisArray(append(el, meta...)...)
}

func TestParseSlotsSynthetic(t *testing.T) {
	msg := mock.RedisArray(
		mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(9),
			slotsNode("", 7000, "p1", mock.RedisArray(mock.RedisString("hostname"), mock.RedisString("h1"))),
			slotsNode("?", 7001, "r1")),
		mock.RedisArray(mock.RedisInt64(10), mock.RedisInt64(19),
			slotsNode("", 7000, "p1"), slotsNode("10.0.0.2", 7002, "r2")),
		mock.RedisArray(mock.RedisInt64(20), mock.RedisInt64(29), slotsNode(nil, 7003, "p3"), slotsNode("x", 7004, "r3")),
		mock.RedisArray(mock.RedisInt64(30), mock.RedisInt64(39), slotsNode("2001:db8::1", 7005, "p4",
			mock.RedisMap(map[string]rueidis.RedisMessage{"ip": mock.RedisString("2001:db8::1"), "hostname": mock.RedisString("n4")}))),
	)
	v, err := ParseSlots(msg, "10.0.0.1:7000")
	require.NoError(t, err)
	require.Len(t, v.Shards, 2)
	assert.Equal(t, 3, v.Skipped)
	p1 := v.Shards[0]
	assert.Equal(t, "10.0.0.1:7000", p1.Primary.Addr)
	assert.Equal(t, "h1", p1.Primary.Hostname)
	assert.Equal(t, []slots.Range{{Start: 0, End: 19}}, p1.Ranges, "entries of one primary merge")
	require.Len(t, p1.Replicas, 1)
	assert.Equal(t, "r2", p1.Replicas[0].ID)
	assert.Equal(t, "[2001:db8::1]:7005", v.Shards[1].Primary.Addr)
	assert.Equal(t, "n4", v.Shards[1].Primary.Hostname)
}

func TestParseSlotsMalformed(t *testing.T) {
	n := slotsNode("h", 1, "id")
	cases := map[string]rueidis.RedisMessage{
		"not array":      mock.RedisString("x"),
		"nil":            mock.RedisNil(),
		"entry not arr":  mock.RedisArray(mock.RedisInt64(1)),
		"short entry":    mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1))),
		"slot 99999":     mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(99999), n)),
		"slot string":    mock.RedisArray(mock.RedisArray(mock.RedisString("a"), mock.RedisInt64(1), n)),
		"reversed":       mock.RedisArray(mock.RedisArray(mock.RedisInt64(5), mock.RedisInt64(1), n)),
		"node not array": mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), mock.RedisInt64(3))),
		"short node":     mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), mock.RedisArray(mock.RedisString("h")))),
		"port 0":         mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), slotsNode("h", 0, "id"))),
		"endpoint int":   mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), mock.RedisArray(mock.RedisInt64(1), mock.RedisInt64(1)))),
		"id int":         mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), mock.RedisArray(mock.RedisString("h"), mock.RedisInt64(1), mock.RedisInt64(1)))),
		"odd metadata":   mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), slotsNode("h", 1, "id", mock.RedisArray(mock.RedisString("ip"))))),
		"meta value int": mock.RedisArray(mock.RedisArray(mock.RedisInt64(0), mock.RedisInt64(1), slotsNode("h", 1, "id", mock.RedisArray(mock.RedisString("ip"), mock.RedisInt64(1))))),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSlots(msg, "1.2.3.4:1")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedReply)
		})
	}
}
