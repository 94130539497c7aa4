package command

import (
	"math"
	"slices"
	"strconv"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

// KeyIndexes appends to dst the positions in args (name first) of the
// arguments that decide the command's slot — its keys, and the channels
// of sharded pub/sub — in argument order, and returns the extended
// slice. It allocates nothing when dst has room.
//
// The error wraps ErrUnknownCommand for a command the table does not
// know, or ErrBadCommand for a malformed one (wrong number of arguments,
// a bad numkeys, XREAD without STREAMS, ...). Every returned position is
// in [0, len(args)).
func (t *Table) KeyIndexes(args []string, dst []int) ([]int, error) {
	c, err := t.Command(args)
	if err != nil {
		return dst, err
	}
	return c.KeyIndexes(args, dst)
}

// Keys returns the keys of the command args (name first), in argument
// order; see KeyIndexes.
func (t *Table) Keys(args []string) ([]string, error) {
	var buf [16]int
	idx, err := t.KeyIndexes(args, buf[:0])
	if err != nil || len(idx) == 0 {
		return nil, err
	}
	keys := make([]string, len(idx))
	for i, p := range idx {
		keys[i] = args[p]
	}
	return keys, nil
}

// Slot returns the hash slot the command args (name first) must be sent
// to. hasKeys is false for a command without keys (PING, INFO, EVAL with
// numkeys 0 ...), which may go to any primary; slot is then 0. When the
// keys hash to more than one slot the error is a *CrossSlotError (and
// errors.Is(err, ErrCrossSlot)); other errors wrap ErrUnknownCommand or
// ErrBadCommand. Slot allocates nothing unless it fails or the command
// has more than 16 keys.
func (t *Table) Slot(args []string) (slot slots.Slot, hasKeys bool, err error) {
	c, err := t.Command(args)
	if err != nil {
		return 0, false, err
	}
	return c.Slot(args)
}

// IsReadOnly reports whether args (name first) is a command the server
// flags read-only: it never modifies data, a replica serves it, and it is
// safe to send again after an unknown outcome. It follows the server's
// flags exactly: GET, MGET, XREAD (with or without BLOCK), EVAL_RO,
// FCALL_RO, SORT_RO and GEORADIUS_RO are read-only; EVAL, FCALL,
// XREADGROUP, and SORT and GEORADIUS (flagged write, with or without
// STORE) are not. Unknown and malformed-name commands are not read-only.
func (t *Table) IsReadOnly(args []string) bool {
	c, err := t.Command(args)
	return err == nil && c.Flags&FlagReadOnly != 0
}

// IsBlocking reports whether args (name first) may block the connection:
// BLPOP, BLMOVE, BZPOPMIN, WAIT... always, XREAD and XREADGROUP only with
// the BLOCK option.
func (t *Table) IsBlocking(args []string) bool {
	c, err := t.Command(args)
	return err == nil && c.IsBlocking(args)
}

// IsBlocking is Table.IsBlocking for a resolved command.
func (c *Command) IsBlocking(args []string) bool {
	if c.Flags&FlagBlocking == 0 {
		return false
	}
	if c.find != findXRead {
		return true
	}
	for i := 1; i < len(args); i++ {
		switch {
		case equalFold(args[i], "block"):
			return true
		case equalFold(args[i], "count"):
			i++
		case equalFold(args[i], "group"):
			i += 2
		case equalFold(args[i], "noack"):
		default:
			return false // STREAMS, or a syntax error
		}
	}
	return false
}

// KeyIndexes is Table.KeyIndexes for a resolved command; args[0] is the
// command name, and for a subcommand args[1] is its name.
func (c *Command) KeyIndexes(args []string, dst []int) ([]int, error) {
	if err := c.checkArity(args); err != nil {
		return dst, err
	}
	switch c.find {
	case findSort:
		return sortKeys(args, dst), nil
	case findMigrate:
		return migrateKeys(c, args, dst)
	case findXRead:
		return xreadKeys(c, args, dst)
	}
	var err error
	for i := range c.Specs {
		if dst, err = c.Specs[i].appendKeys(c, args, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// Slot is Table.Slot for a resolved command.
func (c *Command) Slot(args []string) (slot slots.Slot, hasKeys bool, err error) {
	slot, hasKeys, cross, err := c.SlotInfo(args)
	if !cross {
		return slot, hasKeys, err
	}
	var buf [16]int
	idx, _ := c.KeyIndexes(args, buf[:0]) // SlotInfo found them
	return 0, true, newCrossSlotError(c.DisplayName(args), args, idx)
}

// SlotInfo is Slot without the cost of the cross-slot error: cross
// reports keys in more than one slot (slot is then 0, hasKeys true), and
// Slot would return the *CrossSlotError naming them. It is for a caller
// that splits such a command per slot instead of failing it.
func (c *Command) SlotInfo(args []string) (slot slots.Slot, hasKeys, cross bool, err error) {
	if i := c.FixedKey(args); i > 0 {
		// One key at a fixed position (GET, SET, HGET, INCR...): the
		// common case, without the key-spec machinery.
		return slots.Of(args[i]), true, false, nil
	}
	return c.slotOfKeys(args)
}

// slotOfKeys is SlotInfo through the key specifications.
func (c *Command) slotOfKeys(args []string) (slot slots.Slot, hasKeys, cross bool, err error) {
	var buf [16]int
	idx, err := c.KeyIndexes(args, buf[:0])
	if err != nil {
		return 0, false, false, err
	}
	if len(idx) == 0 {
		return 0, false, false, nil
	}
	first := args[idx[0]]
	tag := hashtag.Extract(first)
	slot = slots.Of(first)
	for _, p := range idx[1:] {
		k := args[p]
		if hashtag.Extract(k) == tag {
			continue
		}
		if slots.Of(k) != slot {
			return 0, true, true, nil
		}
	}
	return slot, true, false, nil
}

// singleKey returns the position of the command's only key when its one
// key specification is "index i, range 0" (GET k, SET k v, HINCRBY k f
// n...) and it has no subcommands, else 0.
func (c *Command) singleKey() int {
	if c.find != findSpecs || len(c.Specs) != 1 || c.subs != nil {
		return 0
	}
	s := &c.Specs[0]
	if s.Begin != BeginIndex || s.Find != FindRange || s.LastKey != 0 || s.Index < 1 || s.NotKey {
		return 0
	}
	return s.Index
}

// setSingle sets c.single to singleKey(), or -1 for 0 (no single key:
// not asked again per call), and the bounds singleMin and singleSpan.
func (c *Command) setSingle() {
	c.single = c.singleKey()
	if c.single == 0 {
		c.single, c.singleMin, c.singleSpan = -1, math.MaxUint, 0 // len(args) is never MaxUint
		return
	}
	// arityOK(n) && n > single
	lo, hi := c.single+1, math.MaxInt
	switch {
	case c.Arity > 0:
		lo, hi = max(lo, c.Arity), c.Arity
	case c.Arity < 0:
		lo = max(lo, -c.Arity)
	}
	if lo > hi {
		c.singleMin, c.singleSpan = math.MaxUint, 0
		return
	}
	c.singleMin, c.singleSpan = uint(lo), uint(hi-lo)
}

// DisplayName is the command args as the caller typed it, for messages:
// its name, and for a subcommand the subcommand's name too.
func (c *Command) DisplayName(args []string) string {
	if len(args) > 1 && c.isSub() {
		return args[0] + " " + args[1]
	}
	return args[0]
}

func (c *Command) isSub() bool {
	for i := 0; i < len(c.Name); i++ {
		if c.Name[i] == '|' {
			return true
		}
	}
	return false
}

func (c *Command) checkArity(args []string) error {
	n := len(args)
	if !c.arityOK(n) {
		return badCommand(c, "wrong number of arguments ("+strconv.Itoa(n)+", want "+arityText(c.Arity)+")")
	}
	return nil
}

// arityOK reports whether n arguments (the name included) satisfy the
// command's arity.
func (c *Command) arityOK(n int) bool {
	return !(c.Arity > 0 && n != c.Arity || c.Arity < 0 && n < -c.Arity)
}

func arityText(a int) string {
	if a < 0 {
		return "at least " + strconv.Itoa(-a)
	}
	return strconv.Itoa(a)
}

// appendKeys applies one key specification the way the server does
// (getKeysUsingKeySpecs in Redis 7), but refuses arguments the server
// would refuse instead of returning no keys. Specs of an unknown kind
// find nothing.
func (s *KeySpec) appendKeys(c *Command, args []string, dst []int) ([]int, error) {
	argc := len(args)
	var first int
	switch s.Begin {
	case BeginIndex:
		first = s.Index
		if first < 1 {
			return dst, nil
		}
	case BeginKeyword:
		first = -1
		if s.StartFrom > 0 {
			for i := s.StartFrom; i < argc-1; i++ {
				if equalFoldAny(args[i], s.Keyword) {
					first = i + 1
					break
				}
			}
		} else {
			for i := argc + s.StartFrom; i > 1 && i < argc; i-- {
				if equalFoldAny(args[i], s.Keyword) {
					first = i + 1
					break
				}
			}
		}
		if first < 0 {
			return dst, nil // keyword not found: no keys from this spec
		}
	default:
		return dst, nil
	}
	step := s.KeyStep
	if step < 1 {
		step = 1
	}
	var last int
	switch s.Find {
	case FindRange:
		switch {
		case s.LastKey >= 0:
			if s.LastKey > argc { // also guards the sum below
				return dst, badCommand(c, "missing key argument")
			}
			last = first + s.LastKey
			if last >= argc {
				return dst, badCommand(c, "missing key argument at position "+strconv.Itoa(last))
			}
		case s.Limit > 1:
			if first > argc {
				return dst, nil
			}
			rest := argc - first
			if rest%s.Limit != 0 {
				return dst, badCommand(c, "the "+strconv.Itoa(rest)+" arguments from position "+strconv.Itoa(first)+
					" must come in groups of "+strconv.Itoa(s.Limit))
			}
			if s.LastKey < -argc {
				return dst, nil
			}
			last = first + rest/s.Limit + s.LastKey
		default:
			if s.LastKey < -argc {
				return dst, nil
			}
			last = argc + s.LastKey
		}
	case FindKeyNum:
		if s.KeyNumIdx < 0 || s.KeyNumIdx >= argc-first || s.FirstKey < 0 || s.FirstKey > argc {
			return dst, badCommand(c, "missing numkeys argument")
		}
		numPos := first + s.KeyNumIdx
		n, ok := parseCount(args[numPos])
		if !ok {
			return dst, badCommand(c, "numkeys "+quoteArg(args[numPos])+" is not a non-negative integer")
		}
		first += s.FirstKey
		if n > int64(argc-first) {
			avail := argc - first
			if avail < 0 {
				avail = 0
			}
			return dst, badCommand(c, "numkeys is "+strconv.FormatInt(n, 10)+" but only "+strconv.Itoa(avail)+" arguments follow")
		}
		last = first + int(n) - 1
	default:
		return dst, nil
	}
	if last >= argc {
		return dst, badCommand(c, "missing key argument")
	}
	if last >= first {
		dst = slices.Grow(dst, (last-first)/step+1) // one allocation at most
	}
	for i := first; i <= last; i += step {
		dst = append(dst, i)
	}
	return dst, nil
}

// equalFoldAny is a case-insensitive ASCII comparison of two strings
// that may both have upper-case letters.
func equalFoldAny(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// parseCount parses a non-negative decimal integer the way the server
// parses numkeys (string2ll: optional '-', no '+', no spaces, no leading
// zeros), refusing negative values.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	if s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
		if n < 0 {
			return 0, false
		}
	}
	return n, true
}

// sortKeys mirrors the server's sortGetKeys: the sorted key, and the
// destination of the last STORE. LIMIT skips two arguments, BY and GET
// one.
func sortKeys(args []string, dst []int) []int {
	dst = append(dst, 1)
	store := -1
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "limit"):
			i += 2
		case equalFold(a, "get"), equalFold(a, "by"):
			i++
		case equalFold(a, "store") && i+1 < len(args):
			store = i + 1
		}
	}
	if store > 0 {
		dst = append(dst, store)
	}
	return dst
}

// migrateKeys mirrors the server's migrateGetKeys: MIGRATE host port key
// db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS key...],
// where the key argument must be "" when KEYS is given.
func migrateKeys(c *Command, args []string, dst []int) ([]int, error) {
	first, num := 3, 1
	for i := 6; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "keys"):
			if args[3] != "" {
				return dst, badCommand(c, "the key argument must be empty (\"\") when KEYS is given")
			}
			// KEYS with nothing after it migrates nothing (NOKEY).
			first, num = i+1, len(args)-i-1
			i = len(args)
		case equalFold(a, "auth"):
			i++
		case equalFold(a, "auth2"):
			i += 2
		}
	}
	for i := first; i < first+num; i++ {
		dst = append(dst, i)
	}
	return dst, nil
}

// xreadKeys mirrors the server's xreadGetKeys for XREAD and XREADGROUP:
// options up to STREAMS, then as many keys as IDs.
func xreadKeys(c *Command, args []string, dst []int) ([]int, error) {
	streams := -1
scan:
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "block"), equalFold(a, "count"):
			i++
		case equalFold(a, "group"):
			i += 2
		case equalFold(a, "noack"):
		case equalFold(a, "streams"):
			streams = i
			break scan
		default:
			break scan
		}
	}
	if streams < 0 {
		return dst, badCommand(c, "no STREAMS option (or an unknown option before it)")
	}
	n := len(args) - streams - 1
	if n == 0 || n%2 != 0 {
		return dst, badCommand(c, "STREAMS needs one ID per key, got "+strconv.Itoa(n)+" arguments")
	}
	for i := streams + 1; i <= streams+n/2; i++ {
		dst = append(dst, i)
	}
	return dst, nil
}
