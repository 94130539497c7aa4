package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/slots"
)

// atomicKind is the flavour of atomic slot migration a server offers.
type atomicKind uint8

const (
	atomicNone atomicKind = iota
	// atomicValkey is Valkey 9's CLUSTER MIGRATESLOTS, sent to the source.
	atomicValkey
	// atomicRedis is Redis 8.4's CLUSTER MIGRATION IMPORT, sent to the
	// target.
	atomicRedis
)

// Capability is what a server says about itself: its name and version
// (INFO server) and whether it offers atomic slot migration (COMMAND INFO
// of the subcommands).
type Capability struct {
	// Server is "redis" or "valkey" (or what server_name says).
	Server string
	// Version is the server version ("7.0.15").
	Version string
	// Atomic names the atomic slot migration command the server offers:
	// "CLUSTER MIGRATESLOTS" (Valkey 9), "CLUSTER MIGRATION" (Redis 8.4),
	// or "" (none: the key-by-key path is used).
	Atomic string
}

func (c Capability) kind() atomicKind {
	switch c.Atomic {
	case "CLUSTER MIGRATESLOTS":
		return atomicValkey
	case "CLUSTER MIGRATION":
		return atomicRedis
	}
	return atomicNone
}

// Detect asks one node (through a rueidis client connected to it) what it
// is and whether it offers atomic slot migration. A server that does not
// know COMMAND INFO for subcommands (before 7.0) offers none.
func Detect(ctx context.Context, c rueidis.Client) (Capability, error) {
	if ctx == nil || c == nil {
		return Capability{}, fmt.Errorf("%w: Detect needs a context and a client", ErrInvalidOptions)
	}
	var capab Capability
	info, err := c.Do(ctx, c.B().Arbitrary("INFO", "server").Build()).ToString()
	if err != nil {
		return capab, fmt.Errorf("migrate: INFO server: %w", err)
	}
	capab.Server, capab.Version = parseInfoServer(info)
	m, err := c.Do(ctx, c.B().Arbitrary("COMMAND", "INFO", "CLUSTER|MIGRATESLOTS", "CLUSTER|MIGRATION").Build()).ToMessage()
	if err != nil {
		var re *rueidis.RedisError
		if errors.As(err, &re) {
			return capab, nil // an old server: no atomic migration
		}
		return capab, fmt.Errorf("migrate: COMMAND INFO: %w", err)
	}
	capab.Atomic = parseCommandInfo(m)
	return capab, nil
}

// parseInfoServer reads the server name and version from INFO server.
// Valkey reports server_name:valkey and valkey_version (and a
// redis_version for compatibility, which is not its version).
func parseInfoServer(text string) (server, version string) {
	text = strings.TrimPrefix(text, "txt:")
	fields := map[string]string{}
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			fields[k] = v
		}
	}
	server = fields["server_name"]
	switch {
	case fields["valkey_version"] != "":
		if server == "" {
			server = "valkey"
		}
		version = fields["valkey_version"]
	default:
		if server == "" {
			server = "redis"
		}
		version = fields["redis_version"]
	}
	return server, version
}

// parseCommandInfo reads the reply of COMMAND INFO CLUSTER|MIGRATESLOTS
// CLUSTER|MIGRATION: one entry per name, null when unknown.
func parseCommandInfo(m rueidis.RedisMessage) string {
	arr, err := m.ToArray()
	if err != nil {
		return ""
	}
	for i, want := range []string{"CLUSTER MIGRATESLOTS", "CLUSTER MIGRATION"} {
		if i >= len(arr) || arr[i].IsNil() {
			continue
		}
		doc, err := arr[i].ToArray()
		if err != nil || len(doc) == 0 {
			continue
		}
		name, err := doc[0].ToString()
		if err != nil {
			continue
		}
		if strings.EqualFold(strings.ReplaceAll(name, "|", " "), want) {
			return want
		}
	}
	return ""
}

// capability returns the (cached) capability of a node.
func (e *executor) capability(ctx context.Context, n *nodeState) (Capability, error) {
	e.capMu.Lock()
	c, ok := e.caps[n.id]
	e.capMu.Unlock()
	if ok {
		return c, nil
	}
	err := e.attempt(ctx, Event{}, func(ctx context.Context) error {
		cl, err := e.pool.get(n.addr)
		if err != nil {
			return err
		}
		c, err = Detect(ctx, cl)
		return err
	}, e.opts.CommandTimeout)
	if err != nil {
		return c, fmt.Errorf("migrate: detecting atomic slot migration on %s: %w", short(n.id), err)
	}
	e.capMu.Lock()
	e.caps[n.id] = c
	e.capMu.Unlock()
	return c, nil
}

// atomicKind returns the atomic migration both nodes of w offer, or
// atomicNone (ModeAtomic: an error).
func (e *executor) atomicKind(ctx context.Context, w *moveWork) (atomicKind, error) {
	cs, err := e.capability(ctx, w.src)
	if err != nil {
		return atomicNone, err
	}
	ct, err := e.capability(ctx, w.dst)
	if err != nil {
		return atomicNone, err
	}
	k := cs.kind()
	if k != ct.kind() {
		k = atomicNone
	}
	if k == atomicNone && e.opts.Mode == ModeAtomic {
		return k, fmt.Errorf("%w: %s is %s %s, %s is %s %s", ErrAtomicUnsupported,
			short(w.src.id), cs.Server, cs.Version, short(w.dst.id), ct.Server, ct.Version)
	}
	return k, nil
}

// atomicCommand builds the command that starts an atomic migration of rs
// from src to dst, and says which node it is sent to.
func atomicCommand(k atomicKind, dstID string, rs []slots.Range) (args []string, toTarget bool) {
	switch k {
	case atomicValkey:
		args = []string{"CLUSTER", "MIGRATESLOTS", "SLOTSRANGE"}
		for _, r := range rs {
			args = append(args, itoa(r.Start), itoa(r.End))
		}
		return append(args, "NODE", dstID), false
	case atomicRedis:
		args = []string{"CLUSTER", "MIGRATION", "IMPORT"}
		for _, r := range rs {
			args = append(args, itoa(r.Start), itoa(r.End))
		}
		return args, true
	}
	return nil, false
}

// runAtomic moves ss with the server's atomic slot migration and waits
// until the target owns them and the source does not.
func (e *executor) runAtomic(ctx context.Context, w *moveWork, base Event, k atomicKind, ss []slots.Slot) error {
	if len(ss) == 0 {
		return nil
	}
	args, toTarget := atomicCommand(k, w.dst.id, rangesOf(ss))
	addr := w.src.addr
	if toTarget {
		addr = w.dst.addr
	}
	ev := base
	ev.Kind, ev.Step, ev.Slot, ev.Slots, ev.Atomic = EventStep, StepAtomic, ss[0], len(ss), true
	err := e.attempt(ctx, ev, func(ctx context.Context) error {
		_, err := e.pool.do(ctx, addr, args...)
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "already") {
			return nil // resumed: a migration of these slots is under way
		}
		return err
	}, e.opts.CommandTimeout)
	if err != nil {
		return e.stepErr(w, ss[0], StepAtomic, "", err, "owned by the source")
	}
	ev.Step = StepAtomicWait
	e.emit(ev)
	deadline := time.Now().Add(e.opts.AtomicTimeout)
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return stopErr(ctx)
		}
		doneAll, err := e.atomicDone(ctx, w, ss)
		if err == nil && doneAll {
			break
		}
		if time.Now().After(deadline) {
			return e.stepErr(w, ss[0], StepAtomicWait, "", fmt.Errorf("not done after %v (see CLUSTER GETSLOTMIGRATIONS or CLUSTER MIGRATION STATUS on the nodes)", e.opts.AtomicTimeout), "atomic migration under way or failed")
		}
		if werr := waitCtx(ctx, min(50*time.Millisecond<<min(i, 4), time.Second)); werr != nil {
			return stopErr(ctx)
		}
	}
	e.slotsMoved.Add(int64(len(ss)))
	e.atomicSlots.Add(int64(len(ss)))
	e.done(base, ss, true)
	return nil
}

// atomicDone reports whether the target serves every slot of ss and the
// source none, by their own CLUSTER NODES.
func (e *executor) atomicDone(ctx context.Context, w *moveWork, ss []slots.Slot) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
	defer cancel()
	own := func(n *nodeState) (slots.Set, error) {
		v, err := e.pool.clusterNodes(cctx, n.addr)
		if err != nil {
			return slots.Set{}, err
		}
		var set slots.Set
		if self := myself(&v); self != nil {
			for _, r := range self.Ranges {
				set.AddRange(r)
			}
		}
		return set, nil
	}
	t, err := own(w.dst)
	if err != nil {
		return false, err
	}
	s, err := own(w.src)
	if err != nil {
		return false, err
	}
	for _, x := range ss {
		if !t.Has(x) || s.Has(x) {
			return false, nil
		}
	}
	return true, nil
}

// waitCtx sleeps d or until ctx is done.
func waitCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
