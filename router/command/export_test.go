package command

// LookupByMap is Table.Lookup through the Go map alone (lookupFold), the
// reference the fold index must agree with.
func LookupByMap(t *Table, name string) (*Command, bool) { return lookupFold(t.cmds, name) }

// CommandByMap is Table.Command through the Go maps alone: nil for an
// unknown command.
func CommandByMap(t *Table, args []string) *Command {
	c, ok := lookupFold(t.cmds, args[0])
	if !ok {
		return nil
	}
	if c.subs != nil && len(args) > 1 {
		if sub, ok := lookupFold(c.subs, args[1]); ok {
			return sub
		}
	}
	return c
}

// UsesFoldIndex reports whether t answers Lookup with its fold index.
func UsesFoldIndex(t *Table) bool { return t.fast }

// TableOfNames returns a table of keyless commands named names, filed
// as the static table files its commands (lower case and upper case).
func TableOfNames(names ...string) *Table {
	m := make(map[string]*Command, 2*len(names))
	for _, n := range names {
		c := &Command{Name: n, Arity: -1}
		finish(c)
		addName(m, n, c)
	}
	return newTable(m)
}

// ProbeStats returns the longest and the total probe sequence of t's
// fold index over its names (1 means found at the home slot).
func ProbeStats(t *Table) (longest, total int) {
	for _, e := range t.idx.entries {
		if e.name == "" {
			continue
		}
		i, n := e.hash&t.idx.mask, 1
		for t.idx.entries[i].name != e.name {
			i, n = (i+1)&t.idx.mask, n+1
		}
		longest = max(longest, n)
		total += n
	}
	return longest, total
}

// LowerWord and LoadWord are the fold index's word helpers.
var (
	LowerWord = lowerWord
	LoadWord  = loadWord
)

// SuggestKeys is suggestKeys, for its allocation test.
var SuggestKeys = suggestKeys

// FixedKeyRef is FixedKey as it was decided per call before finish
// computed it: singleKey, the arity and the number of arguments. A
// container has no fixed key (its subcommand decides).
func FixedKeyRef(c *Command, args []string) int {
	if c.subs != nil {
		return 0
	}
	if i := c.singleKey(); i > 0 && i < len(args) && c.arityOK(len(args)) {
		return i
	}
	return 0
}

// TableOfCommands returns a table of cmds, finished and filed as the
// static table files its commands.
func TableOfCommands(cmds ...*Command) *Table {
	m := make(map[string]*Command, 2*len(cmds))
	for _, c := range cmds {
		finish(c)
		addName(m, c.Name, c)
	}
	return newTable(m)
}

// ClassOf is classOf: a command's class computed from its name, flags
// and tips (Class returns the one cached when the table was built).
var ClassOf = classOf
