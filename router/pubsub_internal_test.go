package router

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

// TestParseSubscribe: Receive's command is checked and copied; the
// channels of SSUBSCRIBE share a slot.
func TestParseSubscribe(t *testing.T) {
	args := []string{"SSUBSCRIBE", "{a}1", "{a}2"}
	s, err := parseSubscribe(args)
	require.NoError(t, err)
	assert.Equal(t, subShard, s.kind)
	assert.Equal(t, slots.Of("a"), s.slot)
	args[1] = "changed"
	assert.Equal(t, []string{"{a}1", "{a}2"}, s.chans, "a copy")
	assert.Equal(t, "ssubscribe", s.confirmKind())

	s, err = parseSubscribe([]string{"psubscribe", "news.*"})
	require.NoError(t, err)
	assert.Equal(t, subPattern, s.kind)
	assert.Equal(t, NoSlot, s.slotOrNone())
	s, err = parseSubscribe([]string{"Subscribe", "a", "b"})
	require.NoError(t, err)
	assert.Equal(t, subChannel, s.kind)

	for _, bad := range [][]string{nil, {""}, {"GET", "k"}, {"SUBSCRIBE"}, {"SUNSUBSCRIBE", "a"}} {
		_, err := parseSubscribe(bad)
		assert.ErrorIs(t, err, command.ErrBadCommand, "%q", bad)
	}
	_, err = parseSubscribe([]string{"SSUBSCRIBE", "user:1", "user:2"})
	var cse *CrossSlotError
	require.ErrorAs(t, err, &cse)
	assert.Contains(t, err.Error(), `"user:1"`)
	assert.Contains(t, err.Error(), `"user:2"`)
}

// TestSubscriptionBuild: the commands sent are rueidis's typed ones, with
// the exact upper-case names its Receive needs.
func TestSubscriptionBuild(t *testing.T) {
	b, err := noSlotBuilder()
	require.NoError(t, err)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"subscribe", "a", "b"}, []string{"SUBSCRIBE", "a", "b"}},
		{[]string{"PSUBSCRIBE", "n.*"}, []string{"PSUBSCRIBE", "n.*"}},
		{[]string{"ssubscribe", "{x}1", "{x}2"}, []string{"SSUBSCRIBE", "{x}1", "{x}2"}},
	} {
		s, err := parseSubscribe(tc.args)
		require.NoError(t, err)
		cmd := s.build(b)
		assert.Equal(t, tc.want, cmd.Commands())
	}
	for _, tc := range [][]string{{"UNSUBSCRIBE"}, {"PUNSUBSCRIBE", "p"}, {"SUNSUBSCRIBE", "c", "d"}} {
		cmd := buildUnsubscribe(b, tc[0], tc[1:])
		assert.Equal(t, tc, cmd.Commands())
		assert.True(t, cmd.IsUnsub(), "%v: marked as an unsubscribe for rueidis", tc)
	}
}

// TestPubsubCtx: the context given to rueidis has no deadline, passes the
// caller's values through, and its cancellation is the caller's.
func TestPubsubCtx(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), 1<<40)
	p := newPubsubCtx(parent, func(rueidis.PubSubSubscription) {}, nil)
	defer p.release()
	_, ok := p.Deadline()
	assert.False(t, ok, "no deadline for rueidis to put on the shared socket")
	assert.Equal(t, "v", p.Value(key{}))
	assert.Nil(t, p.userReturnHook())
	cancel()
	<-p.Done()
	assert.True(t, errors.Is(p.Err(), context.Canceled))
}

// TestPubsubCtxHookPanic: a panic in the subscription hook rueidis gets
// (on its reader goroutine) is recovered, reported, and cancels the
// context; panicErr gives it to Receive, and the hooks are not called
// again.
func TestPubsubCtxHookPanic(t *testing.T) {
	var ours, user int
	var reported []error
	p := newPubsubCtx(context.Background(), func(rueidis.PubSubSubscription) { ours++ },
		func(err error) { reported = append(reported, err) })
	defer p.release()
	userHook := func(rueidis.PubSubSubscription) {
		user++
		panic("user hook")
	}
	require.NoError(t, p.panicErr())
	p.call(userHook, rueidis.PubSubSubscription{Kind: "subscribe", Channel: "c"})
	p.call(userHook, rueidis.PubSubSubscription{Kind: "subscribe", Channel: "d"})
	assert.Equal(t, 1, ours)
	assert.Equal(t, 1, user, "not called after its panic")
	require.Len(t, reported, 1)
	assert.ErrorIs(t, reported[0], ErrPanic)
	assert.ErrorIs(t, p.panicErr(), ErrPanic)
	<-p.Done() // Receive's wait on the node ends
}
