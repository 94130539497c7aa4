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
