package migrate

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/slotrouter/slotrouter/topology"
)

// pool holds one rueidis single-node client per address.
type pool struct {
	opts Options
	mu   sync.Mutex
	cs   map[string]rueidis.Client
}

func newPool(o Options) *pool { return &pool{opts: o, cs: map[string]rueidis.Client{}} }

// get returns the client of addr, dialing it when needed.
func (p *pool) get(addr string) (rueidis.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cs[addr]; ok {
		return c, nil
	}
	o := p.opts
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Username:          o.Username,
		Password:          o.Password,
		TLSConfig:         o.TLSConfig,
		Dialer:            net.Dialer{Timeout: o.DialTimeout},
		// A MIGRATE of a big key may keep the connection busy for up to
		// MaxMigrateTimeout: the connection must not be judged dead then.
		ConnWriteTimeout: o.MaxMigrateTimeout + o.CommandTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	p.cs[addr] = c
	return c, nil
}

// drop closes and forgets the client of addr after a connection error on
// c, the client that failed (the next get dials again). The pairs of a
// batch share the clients of the other primaries: when another move has
// already replaced c by a fresh client, that one is left alone (closing it
// would fail the move using it with ErrClosing). A nil c drops whatever
// client addr has.
func (p *pool) drop(addr string, c rueidis.Client) {
	p.mu.Lock()
	cur, ok := p.cs[addr]
	if ok && (c == nil || cur == c) {
		delete(p.cs, addr)
	} else {
		ok = false
	}
	p.mu.Unlock()
	if ok {
		cur.Close()
	}
}

func (p *pool) close() {
	p.mu.Lock()
	cs := p.cs
	p.cs = map[string]rueidis.Client{}
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// do sends one command to addr.
func (p *pool) do(ctx context.Context, addr string, args ...string) (rueidis.RedisMessage, error) {
	c, err := p.get(addr)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	return c.Do(ctx, c.B().Arbitrary(args...).Build()).ToMessage()
}

// nodeState is what one node says about itself, and what it believes
// about the others' slots.
type nodeState struct {
	id   string
	addr string // dialable
	// migrateHost/migratePort are the address MIGRATE uses to reach the
	// node (as announced: the source dials it, not us).
	migrateHost string
	migratePort int
	reached     bool
	primary     bool
	primaryOf   string // a replica's primary, as the seed sees it
	failed      bool
	epoch       uint64
	// maxKnown is the greatest config epoch in the node's view (its own
	// included): Redis bumps an importing node's epoch past the greatest
	// it knows when it takes a slot (SETSLOT NODE).
	maxKnown  uint64
	own       slots.Set // slots the node serves by its own account
	migrating map[slots.Slot]string
	importing map[slots.Slot]string
	// believes[id] is the set of slots this node thinks id owns.
	believes map[string]*slots.Set
}

// disowns reports whether n, reached and a primary, does not list slot s
// as its own.
func (n *nodeState) disowns(s slots.Slot) bool {
	return n != nil && n.reached && n.primary && !n.own.Has(s)
}

// clusterState is the cluster as Apply read it.
type clusterState struct {
	nodes map[string]*nodeState
	// owner[s] is the id of the node that serves slot s: among the nodes
	// that claim it themselves, the one with the highest config epoch (as
	// the cluster's own conflict resolution decides); "" when nobody
	// reached claims it and the seed's view names nobody either.
	owner [slots.Count]string
}

// primaries returns the reached primaries, sorted by id.
func (cs *clusterState) primaries() []*nodeState {
	var out []*nodeState
	for _, n := range cs.nodes {
		if n.reached && n.primary && !n.failed {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *nodeState) int { return strings.Compare(a.id, b.id) })
	return out
}

// open lists the open slots among only (nil: every slot).
func (cs *clusterState) open(only func(slots.Slot) bool) []OpenSlot {
	var out []OpenSlot
	for _, n := range cs.nodes {
		for s, peer := range n.migrating {
			if only == nil || only(s) {
				out = append(out, OpenSlot{Slot: s, Node: n.id, State: "migrating", Peer: peer})
			}
		}
		for s, peer := range n.importing {
			if only == nil || only(s) {
				out = append(out, OpenSlot{Slot: s, Node: n.id, State: "importing", Peer: peer})
			}
		}
	}
	slices.SortFunc(out, func(a, b OpenSlot) int {
		if a.Slot != b.Slot {
			return int(a.Slot) - int(b.Slot)
		}
		return strings.Compare(a.Node+a.State, b.Node+b.State)
	})
	return out
}

// myself returns v's "myself" line: the answering node's own (nil when
// there is none).
func myself(v *topology.View) *topology.NodeFacts {
	for i := range v.Facts {
		if v.Facts[i].Myself {
			return &v.Facts[i]
		}
	}
	return nil
}

// clusterNodes asks addr for CLUSTER NODES and parses it.
func (p *pool) clusterNodes(ctx context.Context, addr string) (topology.View, error) {
	m, err := p.do(ctx, addr, "CLUSTER", "NODES")
	if err != nil {
		return topology.View{}, err
	}
	text, err := m.ToString()
	if err != nil {
		return topology.View{}, err
	}
	return topology.ParseNodes(text, addr)
}

// readState reads every node's CLUSTER NODES: first a seed's, to learn
// the nodes, then each node's own (concurrently).
func (e *executor) readState(ctx context.Context) (*clusterState, error) {
	return e.readStateFrom(ctx, e.opts.Seeds, nil)
}

// readStateFrom is readState with the given seeds, leaving out the nodes
// for which skip (when not nil) is true.
//
// With no seeds, it asks no seed: it reads the nodes of the first state
// read (e.nodes) directly, all at once (one round trip).
func (e *executor) readStateFrom(ctx context.Context, seeds []string, skip func(id string) bool) (*clusterState, error) {
	var seedView topology.View
	var seedErr error
	ok := len(seeds) == 0 && e.nodes != nil
	for _, s := range seeds {
		cctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
		v, err := e.pool.clusterNodes(cctx, s)
		cancel()
		if err == nil {
			seedView, ok = v, true
			break
		}
		seedErr = fmt.Errorf("%s: %w", s, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: no seed answered CLUSTER NODES: %w", ErrUnreachable, seedErr)
	}
	cs := &clusterState{nodes: map[string]*nodeState{}}
	if len(seeds) == 0 {
		for id, k := range e.nodes {
			cs.nodes[id] = &nodeState{id: id, addr: k.addr, migrateHost: k.migrateHost, migratePort: k.migratePort,
				primary: k.primary, primaryOf: k.primaryOf, failed: k.failed, migrating: map[slots.Slot]string{}, importing: map[slots.Slot]string{}}
		}
	}
	add := func(f *topology.NodeFacts) *nodeState {
		n := cs.nodes[f.ID]
		if n == nil {
			n = &nodeState{id: f.ID, migrating: map[slots.Slot]string{}, importing: map[slots.Slot]string{}}
			cs.nodes[f.ID] = n
		}
		if n.addr == "" && f.Announced != "" && !f.NoAddr && !f.Handshake {
			n.addr = f.Announced
			if e.opts.MapAddr != nil {
				if a := e.opts.MapAddr(f.Announced); a != "" {
					n.addr = a
				}
			}
			n.migrateHost = f.Endpoint
			n.migratePort = f.Port
			if n.migratePort == 0 {
				n.migratePort = f.TLSPort
			}
		}
		return n
	}
	for i := range seedView.Facts {
		f := &seedView.Facts[i]
		if f.ID == "" {
			continue
		}
		n := add(f)
		n.primary = f.Primary
		n.primaryOf = f.PrimaryID
		n.failed = f.Fail
	}
	// Seed's view of owners, for slots whose owner does not answer.
	var seedOwner [slots.Count]string
	for i := range seedView.Facts {
		f := &seedView.Facts[i]
		for _, r := range f.Ranges {
			for s := int(r.Start); s <= int(r.End); s++ {
				seedOwner[s] = f.ID
			}
		}
	}
	type reply struct {
		id   string
		view topology.View
		err  error
	}
	ids := make([]string, 0, len(cs.nodes))
	for id, n := range cs.nodes {
		if n.addr != "" && !n.failed && (skip == nil || !skip(id)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	replies := make([]reply, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					replies[i] = reply{id: id, err: fmt.Errorf("migrate: panic reading %s: %v", id, r)}
				}
			}()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				replies[i] = reply{id: id, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
			defer cancel()
			v, err := e.pool.clusterNodes(cctx, cs.nodes[id].addr)
			replies[i] = reply{id: id, view: v, err: err}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	claim := [slots.Count]uint64{}
	for _, r := range replies {
		n := cs.nodes[r.id]
		if r.err != nil {
			// Dial again next time. A move using this client meanwhile
			// (the check before SETSLOT NODE reads the state while other
			// moves run) gets ErrClosing, which it retries.
			e.pool.drop(n.addr, nil)
			continue
		}
		self := myself(&r.view)
		if self == nil || self.ID != n.id {
			// Another node answers at that address now; leave it out.
			continue
		}
		n.reached = true
		n.primary = self.Primary
		n.epoch = self.ConfigEpoch
		for _, r := range self.Ranges {
			n.own.AddRange(r)
		}
		for _, m := range self.Migrating {
			n.migrating[m.Slot] = m.NodeID
		}
		for _, m := range self.Importing {
			n.importing[m.Slot] = m.NodeID
		}
		n.believes = map[string]*slots.Set{}
		for i := range r.view.Facts {
			f := &r.view.Facts[i]
			n.maxKnown = max(n.maxKnown, f.ConfigEpoch)
			if len(f.Ranges) == 0 {
				continue
			}
			set := n.believes[f.ID]
			if set == nil {
				set = new(slots.Set)
				n.believes[f.ID] = set
			}
			for _, rg := range f.Ranges {
				set.AddRange(rg)
			}
			add(f) // learn nodes the seed did not list
		}
		if !n.primary {
			continue
		}
		for s := range n.own.All() {
			if cs.owner[s] == "" || n.epoch > claim[s] {
				cs.owner[s] = n.id
				claim[s] = n.epoch
			}
		}
	}
	for s := range cs.owner {
		if cs.owner[s] == "" {
			cs.owner[s] = seedOwner[s]
		}
	}
	return cs, nil
}

func itoa(s slots.Slot) string { return strconv.Itoa(int(s)) }
