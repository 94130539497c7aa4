package router

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/slotrouter/slotrouter/topology"
)

// TestReplicaTiers checks that pickReplica chooses among the online
// replicas only and lastResortReplica among the loading ones only (pick
// asks it after pickReplica and the primary), neither a failed replica,
// and both honour ok.
func TestReplicaTiers(t *testing.T) {
	online := &topology.Node{Addr: "127.0.0.1:1", Health: topology.HealthOnline}
	loading := &topology.Node{Addr: "127.0.0.1:2", Health: topology.HealthLoading}
	failed := &topology.Node{Addr: "127.0.0.1:3", Health: topology.HealthFailed}
	sh := &topology.Shard{Replicas: []*topology.Node{failed, loading, online}}
	for range 50 { // the start is random
		assert.Same(t, online, pickReplica(sh, nil))
		assert.Same(t, loading, lastResortReplica(sh, nil))
	}
	none := func(*topology.Node) bool { return false }
	assert.Nil(t, pickReplica(sh, none))
	assert.Nil(t, lastResortReplica(sh, none))
	onlyFailed := &topology.Shard{Replicas: []*topology.Node{failed}}
	assert.Nil(t, pickReplica(onlyFailed, nil))
	assert.Nil(t, lastResortReplica(onlyFailed, nil))
}

// TestChooseRead checks every policy's choice: who serves a read when
// everything is usable, when the primary is not, when replicas lag.
func TestChooseRead(t *testing.T) {
	p := &topology.Node{Addr: "p", Health: topology.HealthOnline, ReplicationOffset: 1000}
	r1 := &topology.Node{Addr: "r1", Health: topology.HealthOnline, ReplicationOffset: 990}
	r2 := &topology.Node{Addr: "r2", Health: topology.HealthOnline, ReplicationOffset: 100}
	sh := &topology.Shard{Primary: p, Replicas: []*topology.Node{r1, r2}}
	all := func(*topology.Node) bool { return true }
	noPrimary := func(n *topology.Node) bool { return n != p }
	nothing := func(*topology.Node) bool { return false }
	flat := func(*topology.Node) int64 { return 0 }

	// ReadPrimary is never asked (pick sends it to the primary); its
	// choice is the primary anyway.
	assert.Same(t, p, chooseRead(sh, ReadPrimary, 0, all, all, flat).node)

	c := chooseRead(sh, PrimaryPreferred, 0, all, all, flat)
	assert.Same(t, p, c.node)
	assert.False(t, c.replica || c.fallback)
	c = chooseRead(sh, PrimaryPreferred, 0, noPrimary, noPrimary, flat)
	assert.True(t, c.replica && c.fallback && c.usable, "the fail-open read")
	assert.NotSame(t, p, c.node)
	c = chooseRead(sh, PrimaryPreferred, 0, nothing, nothing, flat)
	assert.Same(t, p, c.node)
	assert.False(t, c.usable, "nothing usable: the primary, for its breaker's error")

	for range 50 {
		c = chooseRead(sh, PreferReplica, 0, all, all, flat)
		assert.True(t, c.replica && !c.fallback)
		c = chooseRead(sh, PreferReplica, 50, all, all, flat)
		assert.Same(t, r1, c.node, "r2 lags by 900 bytes, beyond MaxReplicaLag 50")
	}
	c = chooseRead(sh, PreferReplica, 5, all, all, flat)
	assert.Same(t, p, c.node, "every replica lags: the primary")
	assert.True(t, c.usable)

	// Nearest: two random candidates, the lower latency wins.
	lat := map[string]int64{"p": 5_000_000, "r1": 100_000, "r2": 200_000}
	ewma := func(n *topology.Node) int64 { return lat[n.Addr] }
	counts := map[string]int{}
	for range 3000 {
		counts[chooseRead(sh, Nearest, 0, all, all, ewma).node.Addr]++
	}
	assert.Greater(t, counts["r1"], counts["r2"])
	assert.Greater(t, counts["r2"], counts["p"])
	assert.Positive(t, counts["p"], "the slow node still gets some reads (both candidates the same)")
	for range 50 {
		assert.NotSame(t, r2, chooseRead(sh, Nearest, 50, all, all, ewma).node, "a lagging replica is not a candidate")
	}
}

func TestReadPolicyString(t *testing.T) {
	for p, s := range map[ReadPolicy]string{ReadPrimary: "primary", PreferReplica: "prefer-replica", PrimaryPreferred: "primary-preferred", Nearest: "nearest", 9: "ReadPolicy(9)"} {
		assert.Equal(t, s, p.String())
	}
	assert.False(t, ReadPolicy(9).valid())
}

// TestNearestTakesOnePass: Nearest compares its candidates without taking
// their breakers' passes; only the node chosen is asked (a half-open
// probe pass of the other candidate stays free).
func TestNearestTakesOnePass(t *testing.T) {
	p := &topology.Node{Addr: "p", Health: topology.HealthOnline}
	r := &topology.Node{Addr: "r", Health: topology.HealthOnline}
	sh := &topology.Shard{Primary: p, Replicas: []*topology.Node{r}}
	for range 200 {
		var asked []string
		usable := func(n *topology.Node) bool { asked = append(asked, n.Addr); return true }
		peek := func(*topology.Node) bool { return true }
		c := chooseRead(sh, Nearest, 0, usable, peek, func(n *topology.Node) int64 { return int64(len(n.Addr)) })
		assert.Equal(t, []string{c.node.Addr}, asked)
	}
}
