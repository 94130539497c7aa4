package command_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/router/command"
	"github.com/slotrouter/slotrouter/slots"
)

func mustCrossSlot(t *testing.T, args ...string) *command.CrossSlotError {
	t.Helper()
	_, hasKeys, err := command.DefaultTable().Slot(args)
	require.Error(t, err)
	assert.True(t, hasKeys)
	assert.ErrorIs(t, err, command.ErrCrossSlot)
	assert.NotErrorIs(t, err, command.ErrBadCommand)
	var cs *command.CrossSlotError
	require.True(t, errors.As(err, &cs))
	return cs
}

func TestCrossSlotErrorContent(t *testing.T) {
	cs := mustCrossSlot(t, "MGET", "user:1", "user:2")
	assert.Equal(t, "MGET", cs.Command)
	require.Len(t, cs.Keys, 2)
	for i, k := range []string{"user:1", "user:2"} {
		assert.Equal(t, k, cs.Keys[i].Key)
		assert.Equal(t, slots.Of(k), cs.Keys[i].Slot)
		assert.Empty(t, cs.Keys[i].Tag)
	}
	assert.Equal(t, []string{"{user}:1", "{user}:2"}, cs.SuggestedKeys)
	want := fmt.Sprintf(`slotrouter: MGET keys hash to different slots: "user:1" → %d, "user:2" → %d; `+
		`put a common hash tag in the keys, e.g. "{user}:1", "{user}:2"`, slots.Of("user:1"), slots.Of("user:2"))
	assert.Equal(t, want, cs.Error())

	// The suggestion works: the suggested keys share a slot.
	_, ok := hashtag.Shared(cs.SuggestedKeys...)
	assert.True(t, ok)
	_, _, err := command.DefaultTable().Slot(append([]string{"MGET"}, cs.SuggestedKeys...))
	assert.NoError(t, err)
}

func TestCrossSlotKeysInArgumentOrder(t *testing.T) {
	// Keys of different specs (destination, then sources) in argument
	// order, with tags reported.
	cs := mustCrossSlot(t, "zunionstore", "{a}dst", "2", "{a}x", "{b}y", "WEIGHTS", "1", "2")
	assert.Equal(t, "zunionstore", cs.Command)
	var keys, tags []string
	for _, k := range cs.Keys {
		keys = append(keys, k.Key)
		tags = append(tags, k.Tag)
		assert.Equal(t, slots.Of(k.Key), k.Slot)
	}
	assert.Equal(t, []string{"{a}dst", "{a}x", "{b}y"}, keys)
	assert.Equal(t, []string{"a", "a", "b"}, tags)
	// Every key is tagged: the suggestion reuses the first key's tag.
	assert.Equal(t, []string{"{a}dst", "{a}x", "{a}y"}, cs.SuggestedKeys)
	msg := cs.Error()
	assert.Contains(t, msg, "ZUNIONSTORE keys hash to different slots")
	assert.Contains(t, msg, fmt.Sprintf(`"{b}y" → %d (tag "b")`, slots.Of("b")))
}

func TestCrossSlotSubcommandAndScripts(t *testing.T) {
	cs := mustCrossSlot(t, "EVAL", "return 1", "2", "order:1:items", "order:2:items")
	assert.Equal(t, []string{"{order}:1:items", "{order}:2:items"}, cs.SuggestedKeys)
	cs = mustCrossSlot(t, "XREAD", "STREAMS", "s1", "s2", "0", "0")
	assert.Equal(t, []string{"{s}1", "{s}2"}, cs.SuggestedKeys)
	cs = mustCrossSlot(t, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "events:eu", "events:us", ">", ">")
	assert.Equal(t, []string{"{events}:eu", "{events}:us"}, cs.SuggestedKeys)
}

func TestCrossSlotGenericSuggestion(t *testing.T) {
	cs := mustCrossSlot(t, "DEL", "alpha", "beta")
	assert.Equal(t, []string{"{tag}alpha", "{tag}beta"}, cs.SuggestedKeys)
	assert.Contains(t, cs.Error(), `e.g. "{tag}alpha", "{tag}beta"`)
	// Mixed tagged and untagged keys with a brace in the common prefix.
	cs = mustCrossSlot(t, "DEL", "{x}a", "{y}b", "c")
	assert.Equal(t, []string{"{tag}{x}a", "{tag}{y}b", "{tag}c"}, cs.SuggestedKeys)
	_, ok := hashtag.Shared(cs.SuggestedKeys...)
	assert.True(t, ok)
}

func TestCrossSlotManyKeysTruncated(t *testing.T) {
	args := []string{"MGET"}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprintf("key:%d", i))
	}
	cs := mustCrossSlot(t, args...)
	require.Len(t, cs.Keys, 300)
	require.Len(t, cs.SuggestedKeys, 300)
	msg := cs.Error()
	assert.Equal(t, command.MaxListedKeys, strings.Count(msg, " → "))
	assert.Contains(t, msg, `"key:9" → `)
	assert.NotContains(t, msg, `"key:10"`)
	assert.Contains(t, msg, "… and 290 more")
	assert.Contains(t, msg, `e.g. "{key}:0", "{key}:1"`)
	_, ok := hashtag.Shared(cs.SuggestedKeys...)
	assert.True(t, ok)
}

func TestCrossSlotLongKeyShortened(t *testing.T) {
	long := strings.Repeat("k", 500)
	cs := mustCrossSlot(t, "MGET", long+"1", long+"2xyz")
	assert.Less(t, len(cs.Error()), 500)
	assert.Equal(t, long+"1", cs.Keys[0].Key)
}

func TestCheckSlot(t *testing.T) {
	slot, hasKeys, err := command.CheckSlot("MULTI")
	assert.NoError(t, err)
	assert.False(t, hasKeys)
	assert.Zero(t, slot)

	slot, hasKeys, err = command.CheckSlot("MULTI", "{u}a", "{u}b")
	require.NoError(t, err)
	assert.True(t, hasKeys)
	assert.Equal(t, slots.Of("u"), slot)

	_, _, err = command.CheckSlot("MULTI", "a", "b")
	var cs *command.CrossSlotError
	require.ErrorAs(t, err, &cs)
	assert.Equal(t, "MULTI", cs.Command)
	assert.ErrorIs(t, err, command.ErrCrossSlot)

	// Different tags that collide in CRC16 are the same slot: no error.
	a, b := collidingHashTags(t)
	_, _, err = command.CheckSlot("MGET", hashtag.Key(a, "x"), hashtag.Key(b, "y"))
	assert.NoError(t, err)
}

// collidingHashTags finds two different tags with the same slot.
func collidingHashTags(t *testing.T) (string, string) {
	seen := map[slots.Slot]string{}
	for i := 0; ; i++ {
		tag := fmt.Sprint(i)
		s := slots.Of(tag)
		if other, ok := seen[s]; ok {
			return other, tag
		}
		seen[s] = tag
	}
}

// TestSuggestKeysAllocations: the suggested keys share one buffer, so a
// cross-slot error costs three allocations however many keys it names.
func TestSuggestKeysAllocations(t *testing.T) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d:name", i)
	}
	require.Len(t, command.SuggestKeys(keys), len(keys))
	n := testing.AllocsPerRun(50, func() { command.SuggestKeys(keys) })
	assert.LessOrEqual(t, n, 3.0)
}
