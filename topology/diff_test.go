package topology

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiffMovedRuns(t *testing.T) {
	old, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	s, _ := old.ApplyMoved(100, "10.0.0.1:7001")
	s, _ = s.ApplyMoved(101, "10.0.0.1:7001")
	s, _ = s.ApplyMoved(103, "10.0.0.1:7002")
	ch := Diff(old, s)
	require.Len(t, ch.Moved, 2)
	assert.Equal(t, "100-101", ch.Moved[0].Range.String())
	assert.Equal(t, "A", ch.Moved[0].From.ID)
	assert.Equal(t, "B", ch.Moved[0].To.ID)
	assert.Equal(t, "103", ch.Moved[1].Range.String())
	assert.Equal(t, "C", ch.Moved[1].To.ID)
	assert.Empty(t, ch.Failovers)
	assert.Empty(t, ch.Added)
	assert.False(t, ch.Empty())
	assert.True(t, Diff(s, s).Empty())
}

func TestDiffFailoverAddedRemovedHealth(t *testing.T) {
	old, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	s, res := old.ApplyMoved(0, "10.0.0.1:7100") // a1 takes over from A
	require.Equal(t, MovedFailover, res.Kind)
	ch := Diff(old, s)
	require.Len(t, ch.Failovers, 1)
	assert.Equal(t, "A", ch.Failovers[0].Old.ID)
	assert.Equal(t, "a1", ch.Failovers[0].New.ID)
	require.Len(t, ch.Moved, 1)
	assert.Equal(t, "0-5460", ch.Moved[0].Range.String())

	s2, _ := s.ApplyMoved(16000, "10.9.9.9:1")
	ch = Diff(s, s2)
	require.Len(t, ch.Added, 1)
	assert.Equal(t, "10.9.9.9:1", ch.Added[0].Announced)
	ch = Diff(s2, s)
	require.Len(t, ch.Removed, 1)

	in := threeShards(t, false)
	in[1].Replicas[0].Health = HealthFailed
	s3, err := NewSnapshot(in, SnapshotOptions{})
	require.NoError(t, err)
	ch = Diff(old, s3)
	assert.Equal(t, []string{"b1"}, ids(ch.HealthChanged))
	assert.Empty(t, ch.Moved)
}

func TestDiffNil(t *testing.T) {
	s, err := NewSnapshot(threeShards(t, false), SnapshotOptions{})
	require.NoError(t, err)
	ch := Diff(nil, s)
	assert.Len(t, ch.Added, 6)
	require.Len(t, ch.Moved, 3)
	assert.Nil(t, ch.Moved[0].From)
	ch = Diff(s, nil)
	assert.Len(t, ch.Removed, 6)
	assert.Nil(t, ch.Moved[0].To)
	assert.True(t, Diff(nil, nil).Empty())
}
