package command

import (
	"errors"
	"strconv"
	"strings"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

// ErrCrossSlot means the keys of one command hash to more than one slot,
// which Redis Cluster refuses (CROSSSLOT). The error returned is a
// *CrossSlotError; errors.Is(err, ErrCrossSlot) holds.
var ErrCrossSlot = errors.New("slotrouter: keys hash to different slots")

// MaxListedKeys is how many keys CrossSlotError.Error lists before it
// says how many more there are.
const MaxListedKeys = 10

// KeySlot is one key of a command with its slot.
type KeySlot struct {
	Key  string
	Slot slots.Slot
	// Tag is the key's hash tag (the bytes between the braces that are
	// hashed), or "" when the whole key is hashed.
	Tag string
}

// CrossSlotError reports a command whose keys hash to different slots,
// found before anything is sent. Get it with errors.As.
type CrossSlotError struct {
	// Command is the command as given ("MGET", "OBJECT ENCODING").
	Command string
	// Keys are all the keys of the command, in argument order.
	Keys []KeySlot
	// SuggestedKeys are Keys rewritten to share a hash tag, in the same
	// order: the keys' common prefix made a tag ("user:1", "user:2" ->
	// "{user}:1", "{user}:2"), the first key's tag when every key has
	// one, else a generic "{tag}" prefix.
	SuggestedKeys []string
}

// Error lists the keys and slots (at most MaxListedKeys) and suggests a
// hash tag, e.g.
//
//	slotrouter: MGET keys hash to different slots: "user:1" → 9893, "user:2" → 5650; put a common hash tag in the keys, e.g. "{user}:1", "{user}:2"
func (e *CrossSlotError) Error() string {
	var b strings.Builder
	b.WriteString("slotrouter: ")
	b.WriteString(strings.ToUpper(e.Command))
	b.WriteString(" keys hash to different slots: ")
	for i, k := range e.Keys {
		if i == MaxListedKeys {
			b.WriteString(", … and ")
			b.WriteString(strconv.Itoa(len(e.Keys) - MaxListedKeys))
			b.WriteString(" more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteArg(k.Key))
		b.WriteString(" → ")
		b.WriteString(strconv.Itoa(int(k.Slot)))
		if k.Tag != "" {
			b.WriteString(" (tag ")
			b.WriteString(quoteArg(k.Tag))
			b.WriteString(")")
		}
	}
	if len(e.SuggestedKeys) > 0 {
		b.WriteString("; put a common hash tag in the keys, e.g. ")
		for i, k := range e.SuggestedKeys {
			if i == 2 {
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteArg(k))
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrCrossSlot) hold.
func (e *CrossSlotError) Is(target error) bool { return target == ErrCrossSlot }

// CheckSlot returns the slot that all keys hash to, for a command named
// command (used in the error message only), or a *CrossSlotError. With
// no keys it returns 0, false, nil. It allocates nothing unless it fails.
func CheckSlot(command string, keys ...string) (slot slots.Slot, hasKeys bool, err error) {
	if len(keys) == 0 {
		return 0, false, nil
	}
	tag := hashtag.Extract(keys[0])
	slot = slots.Of(keys[0])
	for _, k := range keys[1:] {
		if hashtag.Extract(k) != tag && slots.Of(k) != slot {
			return 0, true, newCrossSlotErrorKeys(command, keys)
		}
	}
	return slot, true, nil
}

// newCrossSlotError builds the error for the keys of args at idx.
func newCrossSlotError(command string, args []string, idx []int) *CrossSlotError {
	keys := make([]string, len(idx))
	for i, p := range idx {
		keys[i] = args[p]
	}
	return newCrossSlotErrorKeys(command, keys)
}

func newCrossSlotErrorKeys(command string, keys []string) *CrossSlotError {
	e := &CrossSlotError{Command: command, Keys: make([]KeySlot, len(keys))}
	for i, k := range keys {
		tag, _ := hashtag.Tag(k)
		e.Keys[i] = KeySlot{Key: k, Slot: slots.Of(k), Tag: tag}
	}
	e.SuggestedKeys = suggestKeys(keys)
	return e
}

// separators end the prefix that suggestKeys turns into a hash tag.
const separators = ":._-/|#,;="

// suggestKeys rewrites keys to share a hash tag. The suggestions share
// one buffer: three allocations however many keys
// (TestSuggestKeysAllocations).
func suggestKeys(keys []string) []string {
	allTagged := true
	for _, k := range keys {
		if _, ok := hashtag.Tag(k); !ok {
			allTagged = false
			break
		}
	}
	// Each suggestion is k with its hash-tagged part replaced: the first
	// key's tag when every key has one, else the keys' common prefix made
	// a tag (or a generic "{tag}" prefix).
	var tag, prefix string
	if allTagged {
		t, _ := hashtag.Tag(keys[0])
		tag = hashtag.Wrap(t)
	} else {
		prefix = commonPrefix(keys)
		tag = "{tag}"
		if prefix != "" {
			tag = hashtag.Wrap(prefix)
		}
	}
	size := 0
	for _, k := range keys {
		size += len(k) + len(tag)
	}
	var b strings.Builder
	b.Grow(size) // an upper bound
	ends := make([]int, len(keys))
	for i, k := range keys {
		if allTagged {
			open := strings.IndexByte(k, '{')
			t, _ := hashtag.Tag(k)
			b.WriteString(k[:open])
			b.WriteString(tag)
			b.WriteString(k[open+len(t)+2:])
		} else {
			b.WriteString(tag)
			b.WriteString(k[len(prefix):])
		}
		ends[i] = b.Len()
	}
	buf := b.String()
	out := make([]string, len(keys))
	start := 0
	for i, end := range ends {
		out[i], start = buf[start:end], end
	}
	return out
}

// commonPrefix returns the keys' common prefix, cut at its last separator,
// or "" when it holds a brace.
func commonPrefix(keys []string) string {
	prefix := keys[0]
	for _, k := range keys[1:] {
		n := 0
		for n < len(prefix) && n < len(k) && prefix[n] == k[n] {
			n++
		}
		prefix = prefix[:n]
	}
	if strings.ContainsAny(prefix, "{}") {
		return ""
	}
	if p := strings.LastIndexAny(prefix, separators); p > 0 {
		prefix = prefix[:p]
	}
	return prefix
}

// quoteArg quotes an argument for a message, shortening long ones.
func quoteArg(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
