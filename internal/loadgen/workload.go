package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of one operation of a workload.
type Kind uint8

// The operations a workload mixes.
const (
	// Get reads one key (GET); a missing key is not an error.
	Get Kind = iota
	// Set writes one key (SET key value), marked idempotent: writing the
	// same value twice has the effect of writing it once.
	Set
	// Incr increments a counter (INCR): not idempotent, so when the
	// connection breaks after it was sent its outcome is unknown.
	Incr
	// NumKinds is the number of kinds, for arrays indexed by Kind.
	NumKinds = 3
)

// String returns the command name of k.
func (k Kind) String() string {
	switch k {
	case Get:
		return "GET"
	case Set:
		return "SET"
	case Incr:
		return "INCR"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Workload is a mix of operations, in percent of all operations.
type Workload struct {
	// Name names the workload in output ("mixed-80-20").
	Name string
	// Get, Set and Incr are the shares of each kind in percent; they are
	// not negative and add up to 100.
	Get, Set, Incr int
}

// Validate refuses shares that are negative or do not add up to 100.
func (w Workload) Validate() error {
	if w.Get < 0 || w.Set < 0 || w.Incr < 0 || w.Get+w.Set+w.Incr != 100 {
		return fmt.Errorf("%w: Workload %q: shares GET %d, SET %d, INCR %d must be non-negative and add up to 100",
			ErrInvalidOptions, w.Name, w.Get, w.Set, w.Incr)
	}
	return nil
}

// Names lists the named workloads ParseWorkload knows, for usage texts;
// any "mixed-G-S" or "mixed-G-S-I" with shares adding up to 100 is
// accepted as well.
func Names() []string {
	return []string{"get", "set", "incr", "mixed-80-20", "mixed-60-40", "mixed-40-40-20"}
}

// ParseWorkload returns the workload called name: "get", "set" and "incr"
// (one kind only), or "mixed-G-S" / "mixed-G-S-I" (G% GET, S% SET, I%
// INCR; "mixed-80-20" is 80% GET, 20% SET).
func ParseWorkload(name string) (Workload, error) {
	w := Workload{Name: name}
	switch name {
	case "get":
		w.Get = 100
	case "set":
		w.Set = 100
	case "incr":
		w.Incr = 100
	default:
		rest, ok := strings.CutPrefix(name, "mixed-")
		parts := strings.Split(rest, "-")
		if !ok || len(parts) < 2 || len(parts) > 3 {
			return Workload{}, fmt.Errorf("%w: unknown workload %q (one of %s, or mixed-G-S[-I] in percent)",
				ErrInvalidOptions, name, strings.Join(Names(), ", "))
		}
		shares := make([]int, 3)
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 100 {
				return Workload{}, fmt.Errorf("%w: workload %q: %q is not a percentage", ErrInvalidOptions, name, p)
			}
			shares[i] = n
		}
		w.Get, w.Set, w.Incr = shares[0], shares[1], shares[2]
	}
	if err := w.Validate(); err != nil {
		return Workload{}, err
	}
	return w, nil
}
