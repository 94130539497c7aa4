package command

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/rueidis"
)

// ErrCommandReply means a COMMAND (or COMMAND INFO) reply could not be
// decoded. Learn returns it wrapped, naming the entry at fault.
var ErrCommandReply = errors.New("slotrouter: malformed COMMAND reply")

// maxSpecValue bounds the positions and counts accepted from a server, so
// that no arithmetic on them can overflow.
const maxSpecValue = 1 << 20

// Learn returns a new table: t's commands plus those described by reply,
// the server's answer to COMMAND or COMMAND INFO, in RESP2 or RESP3. t is
// not changed.
//
// The commands t already knows stay as they are: the static table's
// entries are checked against Redis 7.0.15 and carry hand-written finders
// for the commands whose key specifications are incomplete (SORT ...
// STORE, MIGRATE ... KEYS) or need validation (XREAD ... STREAMS), so
// they are more exact than the server's specs. Subcommands t lacks are
// added to its containers. Commands t does not know (module commands,
// commands newer than Redis 7.0) are learned from their key
// specifications (begin_search index or keyword; find_keys range or
// keynum; "unknown" kinds and the "incomplete" flag set
// FlagKeysIncomplete) or, from servers older than 7.0 that send none,
// from the legacy first/last/step triple; their command tips (element 8
// of each entry, Redis 7) give Command.Tips.
//
// A reply that cannot be decoded returns an error wrapping
// ErrCommandReply and no table; an entry that is an error or nil (COMMAND
// INFO of an unknown name) is skipped.
func (t *Table) Learn(reply rueidis.RedisMessage) (*Table, error) {
	entries, err := reply.ToArray()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCommandReply, err)
	}
	learned := make([]*Command, 0, len(entries))
	for i := range entries {
		if entries[i].IsNil() || entries[i].Error() != nil {
			continue
		}
		c, err := parseCommand(&entries[i], "", 0)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrCommandReply, i, err)
		}
		learned = append(learned, c)
	}
	cmds := make(map[string]*Command, 2*(t.Len()+len(learned)))
	if t != nil {
		for name, c := range t.cmds {
			cmds[name] = c
		}
	}
	for _, c := range learned {
		old, ok := cmds[c.Name]
		if !ok {
			addName(cmds, c.Name, c)
			continue
		}
		if merged := mergeSubs(old, c); merged != old {
			addName(cmds, c.Name, merged)
		}
	}
	return newTable(cmds), nil
}

// mergeSubs returns old, or a copy of old with the subcommands of c that
// old lacks.
func mergeSubs(old, c *Command) *Command {
	var add []*Command
	for key, s := range c.subs {
		if _, ok := old.subs[key]; !ok && isCanonical(key, s.Name) {
			add = append(add, s)
		}
	}
	if len(add) == 0 {
		return old
	}
	cp := *old
	cp.subs = make(map[string]*Command, len(old.subs)+2*len(add))
	for name, s := range old.subs {
		cp.subs[name] = s
	}
	for _, s := range add {
		addName(cp.subs, s.Name[strings.IndexByte(s.Name, '|')+1:], s)
	}
	cp.Flags |= FlagContainer
	cp.setSingle() // a container has no single key (its subcommand decides)
	return &cp
}

// parseCommand decodes one command entry:
//
//	[name, arity, flags, first, last, step,              (all versions)
//	 acl-categories, tips, key-specs, subcommands]      (Redis 7)
func parseCommand(m *rueidis.RedisMessage, parent string, depth int) (*Command, error) {
	f, err := m.ToArray()
	if err != nil {
		return nil, fmt.Errorf("command entry: %v", err)
	}
	if len(f) < 6 {
		return nil, fmt.Errorf("command entry has %d fields, want at least 6", len(f))
	}
	name, err := text(&f[0])
	if err != nil || name == "" {
		return nil, fmt.Errorf("command name: not a non-empty string")
	}
	name = strings.ToLower(name)
	c := &Command{Name: name}
	if parent != "" && !strings.HasPrefix(name, parent+"|") {
		// Redis 7 names subcommands "container|sub"; accept a bare name.
		c.Name = parent + "|" + name
	}
	if c.Arity, err = intField(&f[1], "arity"); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	flags, err := f[2].ToArray()
	if err != nil {
		return nil, fmt.Errorf("%s: flags: %v", name, err)
	}
	for i := range flags {
		s, err := text(&flags[i])
		if err != nil {
			return nil, fmt.Errorf("%s: flag %d: %v", name, i, err)
		}
		c.Flags |= parseFlag(s)
	}
	var legacy [3]int
	for i, what := range [...]string{"first key", "last key", "step"} {
		if legacy[i], err = intField(&f[3+i], what); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	if len(f) >= 8 {
		if c.Tips, err = parseTips(&f[7]); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	hasSpecs := false
	if len(f) >= 9 && !f[8].IsNil() {
		specs, err := f[8].ToArray()
		if err != nil {
			return nil, fmt.Errorf("%s: key specs: %v", name, err)
		}
		hasSpecs = true
		for i := range specs {
			s, err := parseKeySpec(&specs[i])
			if err != nil {
				return nil, fmt.Errorf("%s: key spec %d: %v", name, i, err)
			}
			c.Specs = append(c.Specs, s)
		}
	}
	if !hasSpecs {
		// A server before Redis 7: first, last (negative: from the end)
		// and step describe the keys, unless they move (movablekeys).
		first, last, step := legacy[0], legacy[1], legacy[2]
		if first > 0 {
			if step < 1 {
				step = 1
			}
			lastKey := last
			if last >= 0 {
				lastKey = last - first
				if lastKey < 0 {
					lastKey = 0
				}
			}
			c.Specs = []KeySpec{{Begin: BeginIndex, Index: first, Find: FindRange, LastKey: lastKey, KeyStep: step}}
		}
		if c.Flags&FlagMovableKeys != 0 {
			c.Specs = append(c.Specs, KeySpec{Incomplete: true})
		}
	}
	if len(f) >= 10 && !f[9].IsNil() {
		subs, err := f[9].ToArray()
		if err != nil {
			return nil, fmt.Errorf("%s: subcommands: %v", name, err)
		}
		if len(subs) > 0 {
			if depth > 0 {
				return nil, fmt.Errorf("%s: subcommands of a subcommand", name)
			}
			c.Flags |= FlagContainer
			c.subs = make(map[string]*Command, len(subs))
			for i := range subs {
				s, err := parseCommand(&subs[i], name, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s: subcommand %d: %v", name, i, err)
				}
				addName(c.subs, s.Name[len(name)+1:], s)
			}
		}
	}
	finish(c)
	return c, nil
}

// parseKeySpec decodes one Redis 7 key specification, a map in RESP3 and
// a flat key/value array in RESP2:
//
//	{flags: [...], begin_search: {type, spec}, find_keys: {type, spec}}
func parseKeySpec(m *rueidis.RedisMessage) (KeySpec, error) {
	var s KeySpec
	kv, err := m.AsMap()
	if err != nil {
		return s, err
	}
	if fm, ok := kv["flags"]; ok {
		flags, err := fm.ToArray()
		if err != nil {
			return s, fmt.Errorf("flags: %v", err)
		}
		for i := range flags {
			f, err := text(&flags[i])
			if err != nil {
				return s, fmt.Errorf("flag %d: %v", i, err)
			}
			switch strings.ToLower(f) {
			case "not_key":
				s.NotKey = true
			case "incomplete":
				s.Incomplete = true
			}
		}
	}
	typ, spec, err := typedSpec(kv, "begin_search")
	if err != nil {
		return s, err
	}
	switch typ {
	case "index":
		s.Begin = BeginIndex
		if s.Index, err = specInt(spec, "index", 0, maxSpecValue); err != nil {
			return s, fmt.Errorf("begin_search: %v", err)
		}
	case "keyword":
		s.Begin = BeginKeyword
		km, ok := spec["keyword"]
		if !ok {
			return s, errors.New("begin_search: keyword missing")
		}
		if s.Keyword, err = text(&km); err != nil {
			return s, fmt.Errorf("begin_search: keyword: %v", err)
		}
		if s.StartFrom, err = specInt(spec, "startfrom", -maxSpecValue, maxSpecValue); err != nil {
			return s, fmt.Errorf("begin_search: %v", err)
		}
	default:
		s.Begin = BeginUnknown
	}
	typ, spec, err = typedSpec(kv, "find_keys")
	if err != nil {
		return s, err
	}
	switch typ {
	case "range":
		s.Find = FindRange
		if s.LastKey, err = specInt(spec, "lastkey", -maxSpecValue, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
		if s.KeyStep, err = specInt(spec, "keystep", 1, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
		if s.Limit, err = specInt(spec, "limit", 0, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
	case "keynum":
		s.Find = FindKeyNum
		if s.KeyNumIdx, err = specInt(spec, "keynumidx", 0, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
		if s.FirstKey, err = specInt(spec, "firstkey", 0, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
		if s.KeyStep, err = specInt(spec, "keystep", 1, maxSpecValue); err != nil {
			return s, fmt.Errorf("find_keys: %v", err)
		}
	default:
		s.Find = FindUnknown
	}
	return s, nil
}

// typedSpec returns the type and the spec map of kv[field].
func typedSpec(kv map[string]rueidis.RedisMessage, field string) (string, map[string]rueidis.RedisMessage, error) {
	m, ok := kv[field]
	if !ok {
		return "", nil, fmt.Errorf("%s missing", field)
	}
	inner, err := m.AsMap()
	if err != nil {
		return "", nil, fmt.Errorf("%s: %v", field, err)
	}
	tm, ok := inner["type"]
	if !ok {
		return "", nil, fmt.Errorf("%s: type missing", field)
	}
	typ, err := text(&tm)
	if err != nil {
		return "", nil, fmt.Errorf("%s: type: %v", field, err)
	}
	var spec map[string]rueidis.RedisMessage
	if sm, ok := inner["spec"]; ok {
		if spec, err = sm.AsMap(); err != nil {
			return "", nil, fmt.Errorf("%s: spec: %v", field, err)
		}
	}
	return strings.ToLower(typ), spec, nil
}

// specInt returns spec[name], which must be an integer in [lo, hi].
func specInt(spec map[string]rueidis.RedisMessage, name string, lo, hi int) (int, error) {
	m, ok := spec[name]
	if !ok {
		return 0, fmt.Errorf("%s missing", name)
	}
	v, err := intField(&m, name)
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s %d out of range [%d, %d]", name, v, lo, hi)
	}
	return v, nil
}

// intField returns an integer field within ±maxSpecValue.
func intField(m *rueidis.RedisMessage, what string) (int, error) {
	v, err := m.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	if v < -maxSpecValue || v > maxSpecValue {
		return 0, fmt.Errorf("%s %d out of range", what, v)
	}
	return int(v), nil
}

// text returns a string field; rueidis's ToString also "succeeds" on
// some other types (an empty array, a boolean), which a server never
// sends where a string belongs.
func text(m *rueidis.RedisMessage) (string, error) {
	if !m.IsString() {
		if err := m.Error(); err != nil {
			return "", err
		}
		return "", errors.New("not a string")
	}
	return m.ToString()
}
