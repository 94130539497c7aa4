package command

import (
	"errors"
	"strings"
	"sync"
)

// Errors of the command table; test them with errors.Is.
var (
	// ErrBadCommand means a command is malformed in a way that decides
	// its keys: wrong number of arguments, a numkeys that is not a
	// non-negative integer or counts more keys than there are arguments,
	// XREAD without STREAMS or with an odd STREAMS list, and so on. Such a
	// command is refused before anything is sent.
	ErrBadCommand = errors.New("slotrouter: malformed command")
	// ErrUnknownCommand means the table knows nothing of the command
	// (neither the static table nor what was learned from COMMAND). The
	// client may still send it to any primary and follow redirects.
	ErrUnknownCommand = errors.New("slotrouter: unknown command")
)

// Flags describe a command. The server's flags (as listed by COMMAND)
// have the same meaning as in Redis; Keyless, Container and
// KeysIncomplete are computed by the table.
type Flags uint32

// Command flags. FlagReadOnly is exactly the server's "readonly" flag: the
// command does not modify data and a replica serves it (SORT and GEORADIUS
// are flagged write by the server, even without STORE, and a read-only
// replica refuses them; SORT_RO and GEORADIUS_RO are read-only).
const (
	FlagWrite           Flags = 1 << iota // "write": may modify data
	FlagReadOnly                          // "readonly": never modifies data; replicas serve it
	FlagDenyOOM                           // "denyoom"
	FlagAdmin                             // "admin"
	FlagPubSub                            // "pubsub"
	FlagNoScript                          // "noscript"
	FlagBlocking                          // "blocking": may block (see Table.IsBlocking)
	FlagLoading                           // "loading"
	FlagStale                             // "stale"
	FlagSkipMonitor                       // "skip_monitor"
	FlagSkipSlowlog                       // "skip_slowlog"
	FlagAsking                            // "asking"
	FlagFast                              // "fast"
	FlagNoAuth                            // "no_auth"
	FlagMayReplicate                      // "may_replicate"
	FlagNoMandatoryKeys                   // "no_mandatory_keys"
	FlagNoAsyncLoading                    // "no_async_loading"
	FlagNoMulti                           // "no_multi"
	FlagMovableKeys                       // "movablekeys": key positions depend on the arguments
	FlagAllowBusy                         // "allow_busy"
	FlagModule                            // "module"

	// FlagKeyless means the command has no key arguments at all (PING,
	// INFO, CLUSTER ..., PUBLISH): the client sends it to a primary.
	FlagKeyless
	// FlagContainer means the command has subcommands (OBJECT, XINFO,
	// CONFIG ...); the subcommand, the second argument, decides.
	FlagContainer
	// FlagKeysIncomplete means the key specifications the command was
	// learned from do not find every key (a begin_search or find_keys of
	// type "unknown", the "incomplete" key-spec flag, or movablekeys
	// without key specs): the keys found are a subset.
	FlagKeysIncomplete
)

var flagNames = [...]string{
	"write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
	"loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast",
	"no_auth", "may_replicate", "no_mandatory_keys", "no_async_loading",
	"no_multi", "movablekeys", "allow_busy", "module",
	"keyless", "container", "keys_incomplete",
}

// numServerFlags is how many flags a server reports (FlagWrite up to
// FlagModule); the flags after them are computed by the table.
const numServerFlags = 21 // bit index of FlagKeyless

// FlagKeyless must directly follow the server's flags.
var _ = [1]struct{}{}[FlagKeyless>>numServerFlags-1]

// parseFlag returns the flag named by a server's COMMAND reply, or 0 for
// a name this package does not know (newer servers add flags).
func parseFlag(name string) Flags {
	for i, n := range flagNames[:numServerFlags] {
		if strings.EqualFold(n, name) {
			return 1 << i
		}
	}
	return 0
}

// String lists the flags by their server names, separated by '|'.
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// BeginKind is how a key specification finds its first key.
type BeginKind uint8

// Begin-search kinds of a key specification (Redis 7 "begin_search").
const (
	BeginUnknown BeginKind = iota // "unknown": the spec cannot be used
	BeginIndex                    // "index": the first key is at Index
	BeginKeyword                  // "keyword": the first key follows Keyword
)

// FindKind is how a key specification finds the keys after the first.
type FindKind uint8

// Find-keys kinds of a key specification (Redis 7 "find_keys").
const (
	FindUnknown FindKind = iota // "unknown": the spec cannot be used
	FindRange                   // "range": LastKey, KeyStep, Limit
	FindKeyNum                  // "keynum": KeyNumIdx, FirstKey, KeyStep
)

// KeySpec is one Redis 7 key specification. All indexes count from the
// command name, argument 0 (for a subcommand, from the container's name:
// OBJECT ENCODING key has its key at index 2).
type KeySpec struct {
	Begin BeginKind
	// Index is the position of the first key (BeginIndex).
	Index int
	// Keyword is searched for (case-insensitively) from StartFrom
	// (BeginKeyword): forwards when StartFrom > 0, backwards from
	// len(args)+StartFrom when it is negative. The first key follows it.
	Keyword   string
	StartFrom int

	Find FindKind
	// LastKey is the last key relative to the first (FindRange): 0 means
	// one key, a negative value counts from the end of the arguments
	// (-1: the last argument). With Limit > 0 and LastKey == -1 the keys
	// are the first 1/Limit of the remaining arguments.
	LastKey int
	// KeyStep is the distance between keys (FindRange and FindKeyNum).
	KeyStep int
	Limit   int
	// KeyNumIdx is the position of the number of keys, relative to the
	// first position; FirstKey is that of the first key (FindKeyNum).
	KeyNumIdx int
	FirstKey  int

	// NotKey marks arguments that are not keys but decide the slot all
	// the same: the channels of SPUBLISH, SSUBSCRIBE and SUNSUBSCRIBE.
	NotKey bool
	// Incomplete is the server's "incomplete" flag: there may be keys
	// the spec does not find.
	Incomplete bool
}

// finder selects a hand-written key finder for commands whose key
// specifications are incomplete or whose options must be parsed; it
// mirrors the server's own getkeys procedure.
type finder uint8

const (
	findSpecs   finder = iota // the key specifications
	findSort                  // SORT key ... [STORE dest]
	findMigrate               // MIGRATE host port key|"" db timeout ... [KEYS k...]
	findXRead                 // XREAD/XREADGROUP ... STREAMS k... id...
)

// Command describes one command (or subcommand) of the table. Commands
// are immutable; they are shared between tables.
type Command struct {
	// Name is the lower-case name; a subcommand's is "container|sub",
	// as the server spells it ("object|encoding").
	Name string
	// Arity is the server's arity: positive for an exact number of
	// arguments (the name included), negative for a minimum.
	Arity int
	// Flags are the server's flags plus the computed ones.
	Flags Flags
	// Specs are the key specifications used to find keys, unless the
	// command has a hand-written finder (SORT, MIGRATE, XREAD,
	// XREADGROUP in the static table).
	Specs []KeySpec
	// Tips are the command's Redis 7 command tips (request and response
	// policies for cluster clients): static for the commands of Redis
	// 7.0, learned from COMMAND for the rest.
	Tips Tips

	find finder
	subs map[string]*Command // by lower- and upper-case subcommand name
	// single is singleKey() computed by finish, -1 when it is 0 (no
	// single key); 0 for a Command that finish has not seen.
	single int
	// The numbers of arguments n (the name included) for which
	// args[single] is the key, those the arity allows and more than
	// single, are singleMin <= n <= singleMin+singleSpan; singleMin is
	// MaxUint (no n) when there is no single key, both are 0 for a
	// Command that finish has not seen. FixedKey tests
	// uint(n)-singleMin <= singleSpan, one comparison.
	singleMin  uint
	singleSpan uint
	// class is classOf(c) | classKnown, computed by finish; 0 for a
	// Command that finish has not seen.
	class Class
}

// addName files c in m under key, a lower-case (sub)command name, and
// under its upper-case spelling.
func addName(m map[string]*Command, key string, c *Command) {
	m[key] = c
	if up := strings.ToUpper(key); up != key {
		m[up] = c
	}
}

// isCanonical reports whether key is the lower-case name under which a
// command named name is filed (not its upper-case alias).
func isCanonical(key, name string) bool {
	return strings.HasSuffix(name, key) && (len(name) == len(key) || name[len(name)-len(key)-1] == '|')
}

// countCanonical counts the commands of m, aliases excluded.
func countCanonical(m map[string]*Command) int {
	n := 0
	for key, c := range m {
		if isCanonical(key, c.Name) {
			n++
		}
	}
	return n
}

// Subcommand returns the subcommand named name (any case) of a
// container command.
func (c *Command) Subcommand(name string) (*Command, bool) {
	if c == nil || c.subs == nil {
		return nil, false
	}
	return lookupFold(c.subs, name)
}

// Subcommands returns the names of the subcommands, in no particular
// order ("object|encoding", ...).
func (c *Command) Subcommands() []string {
	names := make([]string, 0, len(c.subs)/2)
	for key, s := range c.subs {
		if isCanonical(key, s.Name) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Table is an immutable command table: what the router knows about each
// command's keys and flags. The zero Table knows no command; DefaultTable
// returns the static table for the commands of Redis 7.0, and Learn adds
// what a server reports. A Table is safe for concurrent use.
type Table struct {
	// cmds holds every command under its lower-case name and, so that
	// the usual spellings need no case folding, its upper-case name.
	cmds map[string]*Command
	n    int // number of commands
	// idx answers Lookup for cmds without Go's map (see foldIndex),
	// unless !fast.
	idx  foldIndex
	fast bool
}

// newTable returns the table of cmds, a map filled by addName.
func newTable(cmds map[string]*Command) *Table {
	t := &Table{cmds: cmds, n: countCanonical(cmds)}
	t.idx, t.fast = newFoldIndex(cmds)
	return t
}

// DefaultTable returns the shared static table of the Redis 7.0 commands
// (strings, hashes, lists, sets, sorted sets, streams, geo, bitmaps,
// HyperLogLog, scripting and functions, sharded pub/sub, keyspace and the
// keyless server commands). It is built once and never changes.
func DefaultTable() *Table { return defaultTable() }

var defaultTable = sync.OnceValue(func() *Table {
	return newTable(buildStatic())
})

// Lookup returns the command named name, in any case. For a subcommand
// use Command.Subcommand, or Table.Command with the arguments.
func (t *Table) Lookup(name string) (*Command, bool) {
	n := len(name)
	if t == nil || uint(n-1) >= 8 || len(t.idx.entries) == 0 {
		// No table, no fold index (!t.fast), the empty name or one
		// longer than 8 bytes.
		return t.lookupLong(name)
	}
	// Most names, 1 to 8 bytes: the fold index (foldIndex.lookup),
	// comparing the name as one word with the lower- and the upper-case
	// spelling, and lower-cased with the first only for a mixed-case
	// name (a free entry, whose words and hash are 0, has no name: the
	// name's length tells them apart).
	var w uint64
	if n >= 4 {
		w = loadWord4(name)
	} else {
		w = loadWord3(name)
	}
	h := mixHash(w|foldBits, n)
	x := &t.idx
	// The first probe, where most names are found in their lower- or
	// upper-case spelling, without the loop.
	if e := &x.entries[h&x.mask]; len(e.name) == n && (e.word == w || e.upper == w) {
		return e.cmd, true
	}
	return x.probe(h, w, n)
}

// probe is the fold index's lookup of a name of n bytes, 1 to 8, that
// hashes to h and reads as the word w (Table.Lookup's word path).
func (x *foldIndex) probe(h uint32, w uint64, n int) (*Command, bool) {
	for i, probes := h&x.mask, 0; probes < len(x.entries); i, probes = (i+1)&x.mask, probes+1 {
		e := &x.entries[i]
		if e.hash == h && len(e.name) == n && (e.word == w || e.upper == w || e.word == lowerWord(w)) {
			return e.cmd, true
		}
		if e.name == "" {
			return nil, false
		}
	}
	return nil, false
}

// lookupLong is Lookup for the names its word path does not take.
func (t *Table) lookupLong(name string) (*Command, bool) {
	if t == nil || !t.fast || name == "" {
		return t.lookupMap(name)
	}
	if c, ok := t.idx.lookup(name); ok || len(name) <= 64 {
		return c, ok
	}
	// lookupFold folds the case of a name longer than 64 bytes with
	// strings.ToLower, which maps a few non-ASCII runes (the Kelvin
	// sign) to ASCII letters.
	return lookupFold(t.cmds, name)
}

// lookupMap is Lookup for a table without its fold index (and for the
// empty name): the Go map.
func (t *Table) lookupMap(name string) (*Command, bool) {
	if t == nil {
		return nil, false
	}
	return lookupFold(t.cmds, name)
}

// Len returns the number of (top-level) commands the table knows.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Names returns the names of the top-level commands, in no particular
// order.
func (t *Table) Names() []string {
	names := make([]string, 0, t.Len())
	if t != nil {
		for key, c := range t.cmds {
			if isCanonical(key, c.Name) {
				names = append(names, key)
			}
		}
	}
	return names
}

// Command resolves the command that args (name first) invoke: the
// subcommand named by args[1] for a container command that has it, else
// the command itself. It allocates nothing. The error wraps
// ErrUnknownCommand or, for an empty args, ErrBadCommand.
func (t *Table) Command(args []string) (*Command, error) {
	if len(args) == 0 {
		return nil, errNoCommand
	}
	c, ok := t.Lookup(args[0])
	if !ok {
		return nil, &unknownError{name: args[0]}
	}
	if c.subs != nil && len(args) > 1 {
		if sub, ok := lookupFold(c.subs, args[1]); ok {
			return sub, nil
		}
	}
	return c, nil
}

var errNoCommand = &badCommandError{msg: "empty command"}

// unknownError is ErrUnknownCommand with the name; it is built only on
// the error path.
type unknownError struct{ name string }

func (e *unknownError) Error() string {
	return "slotrouter: unknown command " + quoteArg(e.name)
}

func (e *unknownError) Is(target error) bool { return target == ErrUnknownCommand }

// badCommandError is ErrBadCommand with an explanation.
type badCommandError struct {
	cmd string
	msg string
}

func (e *badCommandError) Error() string {
	if e.cmd == "" {
		return "slotrouter: malformed command: " + e.msg
	}
	return "slotrouter: malformed " + strings.ToUpper(e.cmd) + ": " + e.msg
}

func (e *badCommandError) Is(target error) bool { return target == ErrBadCommand }

func badCommand(c *Command, msg string) error {
	return &badCommandError{cmd: c.Name, msg: msg}
}

// lookupFold looks name up in m, whose keys are lower case (and upper
// case), without allocating for names of up to 64 bytes: one map lookup
// for a lower- or upper-case name, two for a mixed-case one.
func lookupFold(m map[string]*Command, name string) (*Command, bool) {
	if c, ok := m[name]; ok {
		return c, true
	}
	upper := -1
	for i := 0; i < len(name); i++ {
		if b := name[i]; 'A' <= b && b <= 'Z' {
			upper = i
			break
		}
	}
	if upper < 0 {
		return nil, false
	}
	if len(name) > 64 {
		c, ok := m[strings.ToLower(name)]
		return c, ok
	}
	var buf [64]byte
	copy(buf[:upper], name[:upper])
	for i := upper; i < len(name); i++ {
		b := name[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	c, ok := m[string(buf[:len(name)])]
	return c, ok
}

// equalFold reports whether s equals the lower-case ASCII word lower,
// ignoring ASCII case.
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}
