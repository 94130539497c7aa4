package migrate

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/slotrouter/slotrouter/retry"
	"github.com/slotrouter/slotrouter/slots"
)

// Defaults of Options.
const (
	DefaultParallel          = 4
	DefaultKeysPerBatch      = 100
	DefaultSlotsPerRound     = 64
	DefaultMigrateTimeout    = 10 * time.Second
	DefaultMaxMigrateTimeout = 2 * time.Minute
	DefaultAttempts          = 20
	DefaultDialTimeout       = 5 * time.Second
	DefaultCommandTimeout    = 30 * time.Second
	DefaultAtomicTimeout     = 30 * time.Minute
	DefaultConflictWait      = 2 * time.Minute
)

// Mode chooses how slots move.
type Mode uint8

// Modes.
const (
	// ModeAuto uses atomic slot migration when both nodes of a pair offer
	// the same kind (Valkey 9 CLUSTER MIGRATESLOTS, Redis 8.4 CLUSTER
	// MIGRATION IMPORT) and the key-by-key path otherwise.
	ModeAuto Mode = iota
	// ModeKeys always uses SETSLOT IMPORTING/MIGRATING, MIGRATE and
	// SETSLOT NODE.
	ModeKeys
	// ModeAtomic requires atomic slot migration and fails when a pair's
	// nodes do not offer it.
	ModeAtomic
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeKeys:
		return "keys"
	case ModeAtomic:
		return "atomic"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Options configures Apply. The zero value of every field means its
// default; only Seeds is required.
type Options struct {
	// Seeds are "host:port" addresses of cluster nodes (anything else is
	// refused); the first that answers tells the executor every node's
	// address.
	Seeds []string

	// Username and Password authenticate every connection (empty: none).
	// They never appear in errors or events.
	Username string
	Password string
	// TLSConfig, when not nil, makes every connection use TLS.
	TLSConfig *tls.Config

	// DialTimeout bounds dialing a node (default DefaultDialTimeout).
	DialTimeout time.Duration
	// CommandTimeout bounds every command but MIGRATE (default
	// DefaultCommandTimeout).
	CommandTimeout time.Duration

	// Parallel is how many (source, target) pairs of one plan batch move
	// at the same time (default DefaultParallel). The pairs of a batch have
	// disjoint nodes, so they never share a source or a target.
	Parallel int
	// KeysPerBatch is the COUNT of CLUSTER GETKEYSINSLOT and so the number
	// of keys of one MIGRATE ... KEYS (default DefaultKeysPerBatch).
	KeysPerBatch int
	// SlotsPerRound is how many slots of a pair are opened together: their
	// SETSLOT IMPORTING, MIGRATING, COUNTKEYSINSLOT and NODE commands are
	// pipelined (default DefaultSlotsPerRound). 1 moves one slot at a time.
	SlotsPerRound int
	// MigrateTimeout is MIGRATE's timeout argument (default
	// DefaultMigrateTimeout). After a MIGRATE times out, the same keys are
	// sent again with four times the timeout (and REPLACE, as the target may
	// hold the copy that the timed-out MIGRATE wrote), up to
	// MaxMigrateTimeout; then Apply stops with an error that names the slot
	// (the keys stay on the source).
	MigrateTimeout time.Duration
	// MaxMigrateTimeout bounds the growth of MigrateTimeout (default
	// DefaultMaxMigrateTimeout, and never less than MigrateTimeout).
	MaxMigrateTimeout time.Duration
	// Replace adds REPLACE to every MIGRATE: a key the target already
	// holds is overwritten instead of stopping with ErrBusyKey.
	Replace bool

	// Attempts bounds how many times one step is tried when it fails with a
	// transient error: LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, a
	// timeout or a connection error (default DefaultAttempts).
	Attempts int
	// Backoff spaces those attempts (a zero Base or Cap means 50ms base,
	// 2s cap; negative ones are refused).
	Backoff retry.Backoff

	// Mode chooses atomic or key-by-key migration (default ModeAuto).
	Mode Mode
	// AtomicTimeout bounds the wait for one atomic migration to finish
	// (default DefaultAtomicTimeout).
	AtomicTimeout time.Duration

	// ConflictWait bounds how long, before SETSLOT NODE, Apply waits for
	// another primary to stop importing a slot of the plan from the
	// plan's source (another run that lost the slot to this one, giving
	// its keys back); then it stops with ErrConflict (default
	// DefaultConflictWait).
	ConflictWait time.Duration

	// MapAddr maps the address a node announces to the address to dial
	// (nil: dial as announced).
	MapAddr func(announced string) string

	// Observer receives progress events (nil: none). It is called from
	// the goroutines that move slots, one call at a time (calls are
	// serialised); it should return quickly, as the moves wait for it.
	Observer func(Event)

	// beforeStep, when set (tests only), is called before every step is
	// sent, with the event that describes it.
	beforeStep func(Event)
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Seeds) == 0 {
		return o, fmt.Errorf("%w: Seeds is empty", ErrInvalidOptions)
	}
	for _, s := range o.Seeds {
		if s == "" {
			return o, fmt.Errorf("%w: Seeds has an empty address", ErrInvalidOptions)
		}
		if _, p, err := net.SplitHostPort(s); err != nil || p == "" {
			return o, fmt.Errorf("%w: Seeds: %q is not host:port", ErrInvalidOptions, s)
		}
	}
	neg := func(name string, d time.Duration) error {
		if d < 0 {
			return fmt.Errorf("%w: %s is negative (%v)", ErrInvalidOptions, name, d)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		d    time.Duration
	}{
		{"DialTimeout", o.DialTimeout}, {"CommandTimeout", o.CommandTimeout},
		{"MigrateTimeout", o.MigrateTimeout}, {"MaxMigrateTimeout", o.MaxMigrateTimeout},
		{"AtomicTimeout", o.AtomicTimeout}, {"ConflictWait", o.ConflictWait},
	} {
		if err := neg(c.name, c.d); err != nil {
			return o, err
		}
	}
	if o.MigrateTimeout > 0 && o.MigrateTimeout < time.Millisecond {
		return o, fmt.Errorf("%w: MigrateTimeout %v is below MIGRATE's 1ms resolution", ErrInvalidOptions, o.MigrateTimeout)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"Parallel", o.Parallel}, {"KeysPerBatch", o.KeysPerBatch}, {"SlotsPerRound", o.SlotsPerRound}, {"Attempts", o.Attempts}} {
		if c.v < 0 {
			return o, fmt.Errorf("%w: %s is negative (%d)", ErrInvalidOptions, c.name, c.v)
		}
	}
	if o.SlotsPerRound > slots.Count {
		return o, fmt.Errorf("%w: SlotsPerRound %d exceeds %d", ErrInvalidOptions, o.SlotsPerRound, slots.Count)
	}
	if err := o.Backoff.Check("Backoff"); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.Mode > ModeAtomic {
		return o, fmt.Errorf("%w: unknown Mode %d", ErrInvalidOptions, o.Mode)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Parallel, DefaultParallel)
	def(&o.KeysPerBatch, DefaultKeysPerBatch)
	def(&o.SlotsPerRound, DefaultSlotsPerRound)
	def(&o.Attempts, DefaultAttempts)
	defD(&o.DialTimeout, DefaultDialTimeout)
	defD(&o.CommandTimeout, DefaultCommandTimeout)
	defD(&o.MigrateTimeout, DefaultMigrateTimeout)
	defD(&o.MaxMigrateTimeout, DefaultMaxMigrateTimeout)
	defD(&o.AtomicTimeout, DefaultAtomicTimeout)
	defD(&o.ConflictWait, DefaultConflictWait)
	o.MaxMigrateTimeout = max(o.MaxMigrateTimeout, o.MigrateTimeout)
	if o.Backoff.Base <= 0 {
		o.Backoff.Base = 50 * time.Millisecond
	}
	if o.Backoff.Cap <= 0 {
		o.Backoff.Cap = 2 * time.Second
	}
	return o, nil
}
