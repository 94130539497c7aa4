package topology

import (
	"fmt"

	"github.com/slotrouter/slotrouter/slots"
)

// ReconcileOptions configures Reconcile. The zero value is the default.
type ReconcileOptions struct {
	// MapAddr maps an announced "host:port" to a dialable one (the
	// address-mapping hook). Nil keeps the previous snapshot's hook, or
	// addresses as announced when there is no previous snapshot.
	MapAddr func(announced string) string
}

// Reconcile builds the next snapshot from prev (nil for the first load)
// and the views several nodes gave, the way the cluster itself settles
// conflicts:
//
//   - Per slot, the claim of the primary with the highest known config
//     epoch wins. A claim's epoch is the one its view carries (CLUSTER
//     NODES, or View.AttachEpochs), else the highest any view reported for
//     that primary. When no claim has an epoch, the majority of views wins;
//     ties keep prev's owner, then follow the later view.
//   - A claim never replaces a slot's owner with an epoch lower than the
//     epoch the slot's entry already holds: older data cannot roll back.
//   - A slot prev covered that no view claims becomes uncovered only when
//     another node confirms it (two views or more), or when the owner's own
//     view says so; a slot whose owner is failed is never dropped by
//     omission (nodes give partial views of a failed shard, redis 13414).
//   - A slot fixed by ApplyMoved is overridden only by a claim with a
//     strictly newer epoch than the slot's entry, or by the fixed owner's
//     own view not claiming it; a view agreeing with it confirms it and
//     clears the marker.
//
// Nodes: a node's address comes from CLUSTER SHARDS/SLOTS views when any
// (they follow the cluster's preferred endpoint type), else CLUSTER NODES.
// A node is failed when a view says so, unless it answered itself. Its role
// follows the report with the highest epoch, else the majority; a role
// change reported with an epoch older than the node's shard in prev is
// ignored (roles don't roll back either), unless the node answered itself. Failed
// primaries without slots stay as slotless shards, marked. Nodes of prev
// that no view mentions are kept only while they still own slots.
//
// The result has version prev.Version()+1 (1 when prev is nil). Reconcile
// never modifies prev or the views. It fails only with ErrNoViews, or
// ErrInvalidShards when the views name 65535 primaries or more.
func Reconcile(prev *Snapshot, views []View, opts ReconcileOptions) (*Snapshot, error) {
	if len(views) == 0 {
		return nil, ErrNoViews
	}
	mapAddr := opts.MapAddr
	if mapAddr == nil && prev != nil {
		mapAddr = prev.mapAddr
	}
	r := newReconciler(prev, views, mapAddr)
	r.ingest()
	r.decideSlots()
	return r.build()
}

// rnode is a node of the catalog Reconcile merges views into.
type rnode struct {
	n          Node
	preferred  bool // address from CLUSTER SHARDS/SLOTS
	inViews    bool
	answered   bool // this node gave one of the views
	failed     bool
	loading    bool
	epoch      uint64
	epochKnown bool
	// primaryEpoch is the highest epoch reported while the node was listed
	// as a primary (a replica's listed epoch is its primary's).
	primaryEpoch      uint64
	primaryEpochKnown bool
	reports           []roleReport
	prevShard         int // shard index in prev, -1
	owns              bool
}

type roleReport struct {
	role       Role
	primary    string // primary key, for replicas
	epoch      uint64
	epochKnown bool
	view       int
}

// claim is one view's claim on one slot run: the catalog index of the
// primary and the epoch the claim carries.
type claim struct {
	idx   int
	epoch uint64
	known bool
}

type reconciler struct {
	prev    *Snapshot
	views   []View
	mapAddr func(string) string
	nodes   []*rnode
	byKey   map[string]int
	// claims[v] lists view v's shard claims; slotClaim[v][slot] indexes it
	// (-1: no claim).
	claims    [][]claim
	slotClaim [][]int16
	// result per slot: catalog index or -1, epoch, known, fixed.
	owner []int32
	epoch epochWriter
	known slots.Set
	fixed slots.Set
}

func newReconciler(prev *Snapshot, views []View, mapAddr func(string) string) *reconciler {
	return &reconciler{prev: prev, views: views, mapAddr: mapAddr, byKey: make(map[string]int)}
}

func (r *reconciler) node(n *Node) int {
	k := n.Key()
	if i, ok := r.byKey[k]; ok {
		return i
	}
	r.nodes = append(r.nodes, &rnode{n: *n, prevShard: -1})
	r.byKey[k] = len(r.nodes) - 1
	return len(r.nodes) - 1
}

// ingest merges every node of every view (and of prev) into the catalog
// and records the views' claims.
func (r *reconciler) ingest() {
	r.claims = make([][]claim, len(r.views))
	r.slotClaim = make([][]int16, len(r.views))
	for vi := range r.views {
		v := &r.views[vi]
		preferred := v.Source != SourceNodes
		for si := range v.Shards {
			sh := &v.Shards[si]
			if sh.Primary == nil {
				continue
			}
			pk := sh.Primary.Key()
			for _, n := range append([]*Node{sh.Primary}, sh.Replicas...) {
				if n == nil || n.Key() == "" {
					continue
				}
				i := r.node(n)
				rn := r.nodes[i]
				r.merge(rn, n, preferred)
				rep := roleReport{role: RolePrimary, epoch: n.ConfigEpoch, epochKnown: n.EpochKnown, view: vi}
				if n != sh.Primary {
					rep.role, rep.primary = RoleReplica, pk
				} else if n.EpochKnown && (!rn.primaryEpochKnown || n.ConfigEpoch > rn.primaryEpoch) {
					rn.primaryEpoch, rn.primaryEpochKnown = n.ConfigEpoch, true
				}
				rn.reports = append(rn.reports, rep)
			}
		}
	}
	// Claims, with epochs falling back to the catalog's.
	for vi := range r.views {
		v := &r.views[vi]
		sc := make([]int16, slots.Count)
		for x := range sc {
			sc[x] = -1
		}
		for si := range v.Shards {
			sh := &v.Shards[si]
			if sh.Primary == nil || len(sh.Ranges) == 0 || sh.Primary.Key() == "" {
				continue
			}
			i := r.byKey[sh.Primary.Key()]
			c := claim{idx: i, epoch: sh.Primary.ConfigEpoch, known: sh.Primary.EpochKnown}
			if !c.known && r.nodes[i].epochKnown {
				c.epoch, c.known = r.nodes[i].epoch, true
			}
			ci := int16(len(r.claims[vi]))
			r.claims[vi] = append(r.claims[vi], c)
			for _, rg := range sh.Ranges {
				if !rg.Valid() {
					continue
				}
				for x := int(rg.Start); x <= int(rg.End); x++ {
					sc[x] = ci
				}
			}
		}
		r.slotClaim[vi] = sc
	}
	// Prev's nodes, so prev owners have a catalog index. A node prev knew
	// only by address (added by ApplyMoved) is the view node at that address.
	if r.prev != nil {
		byAddr := make(map[string]int)
		for i, rn := range r.nodes {
			if rn.n.Announced != "" {
				byAddr[rn.n.Announced] = i
			}
		}
		for si := range r.prev.shards {
			sh := &r.prev.shards[si]
			for _, n := range append([]*Node{sh.Primary}, sh.Replicas...) {
				if n.ID == "" {
					if i, ok := byAddr[n.Announced]; ok {
						r.byKey[n.Key()] = i
					}
				}
				i := r.node(n)
				rn := r.nodes[i]
				rn.prevShard = si
				if !rn.inViews {
					rn.failed = n.Health == HealthFailed
					rn.epoch, rn.epochKnown = n.ConfigEpoch, n.EpochKnown
				}
			}
		}
	}
	// Who answered: by id, or by address.
	for vi := range r.views {
		v := &r.views[vi]
		if i, ok := r.byKey[v.MyID]; ok && v.MyID != "" {
			r.nodes[i].answered = true
			continue
		}
		if v.Answered == "" {
			continue
		}
		for _, rn := range r.nodes {
			if rn.n.Announced == v.Answered || r.mapped(rn.n.Announced) == v.Answered {
				rn.answered = true
			}
		}
	}
}

func (r *reconciler) mapped(a string) string {
	if r.mapAddr == nil || a == "" {
		return a
	}
	return r.mapAddr(a)
}

// merge folds one view's facts about a node into the catalog entry.
func (r *reconciler) merge(rn *rnode, n *Node, preferred bool) {
	first := !rn.inViews
	rn.inViews = true
	if first || (preferred && !rn.preferred) {
		// The new source wins; keep the facts it lacks (none on first).
		keep := rn.n
		rn.n, rn.preferred = *n, preferred
		fillMissing(&rn.n, &keep)
	} else {
		fillMissing(&rn.n, n)
	}
	if n.ReplicationOffset > rn.n.ReplicationOffset {
		rn.n.ReplicationOffset = n.ReplicationOffset
	}
	switch n.Health {
	case HealthFailed:
		rn.failed = true
	case HealthLoading:
		rn.loading = true
	}
	if n.EpochKnown && (!rn.epochKnown || n.ConfigEpoch > rn.epoch) {
		rn.epoch, rn.epochKnown = n.ConfigEpoch, true
	}
}

// fillMissing copies into dst the address facts it lacks and src has.
func fillMissing(dst, src *Node) {
	if dst.IP == "" {
		dst.IP = src.IP
	}
	if dst.Hostname == "" {
		dst.Hostname = src.Hostname
	}
	if dst.TLSPort == 0 {
		dst.TLSPort = src.TLSPort
	}
}

// cand is a candidate owner of one slot.
type cand struct {
	idx   int
	votes int
	epoch uint64
	known bool
	last  int
}

// decideSlots applies the per-slot rules.
func (r *reconciler) decideSlots() {
	r.owner = make([]int32, slots.Count)
	cands := make([]cand, 0, len(r.views))
	for x := 0; x < slots.Count; x++ {
		slot := slots.Slot(x)
		prevIdx, prevEntry := -1, SlotEntry{}
		if r.prev != nil {
			if sh, ok := r.prev.lookup(slot); ok {
				prevIdx = r.byKey[sh.Primary.Key()]
				prevEntry = r.prev.Entry(slot)
			}
		}
		cands = cands[:0]
		for vi := range r.views {
			ci := r.slotClaim[vi][x]
			if ci < 0 {
				continue
			}
			c := r.claims[vi][ci]
			found := false
			for k := range cands {
				if cands[k].idx == c.idx {
					cands[k].votes++
					cands[k].last = vi
					if c.known && (!cands[k].known || c.epoch > cands[k].epoch) {
						cands[k].epoch, cands[k].known = c.epoch, true
					}
					found = true
					break
				}
			}
			if !found {
				cands = append(cands, cand{idx: c.idx, votes: 1, epoch: c.epoch, known: c.known, last: vi})
			}
		}
		owner, epoch, known, fixed := -1, uint64(0), false, false
		if len(cands) == 0 {
			if prevIdx >= 0 && !r.mayDrop(prevIdx, prevEntry.Fixed) {
				owner, epoch, known, fixed = prevIdx, prevEntry.Epoch, prevEntry.EpochKnown, prevEntry.Fixed
			}
		} else {
			w := best(cands, prevIdx)
			owner, epoch, known = w.idx, w.epoch, w.known
			switch {
			case prevIdx < 0:
			case w.idx == prevIdx:
				// Confirmed: the MOVED fix (if any) is now the cluster's word.
				if !known && prevEntry.EpochKnown {
					epoch, known = prevEntry.Epoch, true
				}
			case prevEntry.Fixed:
				if !r.overridesFixed(w, prevIdx, prevEntry, x) {
					owner, epoch, known, fixed = prevIdx, prevEntry.Epoch, prevEntry.EpochKnown, true
				}
			case prevEntry.EpochKnown && w.known && w.epoch < prevEntry.Epoch:
				// Older than what the map already holds: no rollback.
				owner, epoch, known = prevIdx, prevEntry.Epoch, true
			}
		}
		r.owner[x] = int32(owner)
		if owner >= 0 {
			r.nodes[owner].owns = true
			r.epoch.set(slot, epoch)
			if known {
				r.known.Add(slot)
			}
			if fixed {
				r.fixed.Add(slot)
			}
		}
	}
}

// best picks the winning candidate: highest known epoch, then most votes,
// then prev's owner, then the later view.
func best(cands []cand, prevIdx int) cand {
	w := cands[0]
	for _, c := range cands[1:] {
		if better(c, w, prevIdx) {
			w = c
		}
	}
	return w
}

func better(a, b cand, prevIdx int) bool {
	if a.known != b.known {
		return a.known
	}
	if a.known && a.epoch != b.epoch {
		return a.epoch > b.epoch
	}
	if a.votes != b.votes {
		return a.votes > b.votes
	}
	if (a.idx == prevIdx) != (b.idx == prevIdx) {
		return a.idx == prevIdx
	}
	return a.last > b.last
}

// mayDrop reports whether a slot of prev's owner that no view claims may be
// dropped: never for a failed owner; when the owner itself answered; else
// only when another node confirms (two views or more) and the slot is not
// MOVED-fixed.
func (r *reconciler) mayDrop(prevIdx int, fixed bool) bool {
	o := r.nodes[prevIdx]
	if o.failed || (r.prev != nil && r.prevFailed(prevIdx)) {
		return false
	}
	if o.answered {
		return true
	}
	return !fixed && len(r.views) >= 2
}

func (r *reconciler) prevFailed(i int) bool {
	n, ok := r.prev.byID[r.nodes[i].n.ID]
	return ok && n.Health == HealthFailed
}

// overridesFixed decides whether claim w may replace a MOVED-fixed owner.
func (r *reconciler) overridesFixed(w cand, fixedIdx int, e SlotEntry, x int) bool {
	if w.known {
		if e.EpochKnown && w.epoch > e.Epoch {
			return true
		}
		if !e.EpochKnown {
			// The fix's epoch is unknown: compare with the fixed owner's own
			// epoch as a primary, when some view tells it.
			fo := r.nodes[fixedIdx]
			if fo.primaryEpochKnown && w.epoch > fo.primaryEpoch {
				return true
			}
		}
	}
	// The fixed owner's own word: it answered and does not claim the slot.
	if !r.nodes[fixedIdx].answered {
		return false
	}
	for vi := range r.views {
		v := &r.views[vi]
		if !r.fromNode(v, fixedIdx) {
			continue
		}
		ci := r.slotClaim[vi][x]
		if ci < 0 || r.claims[vi][ci].idx != fixedIdx {
			return true
		}
	}
	return false
}

// fromNode reports whether view v was given by catalog node i.
func (r *reconciler) fromNode(v *View, i int) bool {
	n := &r.nodes[i].n
	if v.MyID != "" && n.ID != "" {
		return v.MyID == n.ID
	}
	return v.Answered != "" && (v.Answered == n.Announced || v.Answered == r.mapped(n.Announced))
}

// role picks the report that decides a node's role and primary: the one
// with the highest epoch, else the majority, then the later view.
func (rn *rnode) role() roleReport {
	if len(rn.reports) == 0 {
		return roleReport{}
	}
	anyKnown := false
	for _, rep := range rn.reports {
		anyKnown = anyKnown || rep.epochKnown
	}
	var w roleReport
	bestVotes := -1
	for _, rep := range rn.reports {
		if anyKnown {
			if !rep.epochKnown {
				continue
			}
			if bestVotes < 0 || rep.epoch > w.epoch || (rep.epoch == w.epoch && rep.view >= w.view) {
				w, bestVotes = rep, 1
			}
			continue
		}
		votes := 0
		for _, o := range rn.reports {
			if o.role == rep.role && o.primary == rep.primary {
				votes++
			}
		}
		if votes > bestVotes || (votes == bestVotes && rep.view >= w.view) {
			w, bestVotes = rep, votes
		}
	}
	return w
}

// roleOf decides node i's role and primary, never going back to a report
// older than prev: a role change (primary <-> replica) reported with an
// epoch lower than the epoch of the node's shard in prev is stale and
// ignored, unless the node itself answered.
func (r *reconciler) roleOf(i int) (Role, string) {
	rn := r.nodes[i]
	w := rn.role()
	if r.prev == nil || rn.prevShard < 0 || rn.answered || !w.epochKnown || !rn.inViews {
		return w.role, w.primary
	}
	psh := &r.prev.shards[rn.prevShard]
	prevRole, prevPrimary := RoleReplica, psh.Primary.Key()
	if r.byKey[psh.Primary.Key()] == i {
		prevRole, prevPrimary = RolePrimary, ""
	}
	if prevRole != w.role && psh.Primary.EpochKnown && w.epoch < psh.Primary.ConfigEpoch {
		return prevRole, prevPrimary
	}
	return w.role, w.primary
}

// build assembles the snapshot.
func (r *reconciler) build() (*Snapshot, error) {
	b := newBuilder(r.mapAddr)
	shardOf := make(map[int]int) // catalog index -> builder shard
	fresh := make([]*Node, len(r.nodes))
	mk := func(i int) *Node {
		if fresh[i] != nil {
			return fresh[i]
		}
		rn := r.nodes[i]
		n := rn.n
		n.Announced, n.Addr = "", ""
		if rn.n.Announced != "" {
			n.Announced = rn.n.Announced
		} else {
			n.Addr = rn.n.Addr
		}
		n.ConfigEpoch, n.EpochKnown = rn.epoch, rn.epochKnown
		if rn.inViews {
			switch {
			case rn.failed && !rn.answered:
				n.Health = HealthFailed
			case rn.loading:
				n.Health = HealthLoading
			default:
				n.Health = HealthOnline
			}
		}
		fresh[i] = &n
		return &n
	}
	addPrimary := func(i int) int {
		if s, ok := shardOf[i]; ok {
			return s
		}
		s := b.addShard("", mk(i), nil)
		shardOf[i] = s
		return s
	}
	roles := make([]Role, len(r.nodes))
	prims := make([]string, len(r.nodes))
	for i := range r.nodes {
		roles[i], prims[i] = r.roleOf(i)
	}
	// Primaries: slot owners, then slotless primaries some view reports.
	for i, rn := range r.nodes {
		if rn.owns || (rn.inViews && roles[i] == RolePrimary) {
			addPrimary(i)
		}
	}
	// Shard ids from prev or views: keep prev's when the primary is the same.
	if r.prev != nil {
		for i, s := range shardOf {
			if ps := r.nodes[i].prevShard; ps >= 0 && r.prev.shards[ps].Primary.Key() == r.nodes[i].n.Key() {
				b.shards[s].ID = r.prev.shards[ps].ID
			}
		}
	}
	for vi := range r.views {
		for si := range r.views[vi].Shards {
			sh := &r.views[vi].Shards[si]
			if sh.ID == "" || sh.Primary == nil {
				continue
			}
			if s, ok := shardOf[r.byKey[sh.Primary.Key()]]; ok {
				b.shards[s].ID = sh.ID
			}
		}
	}
	// Replicas.
	for i, rn := range r.nodes {
		if _, isPrimary := shardOf[i]; isPrimary {
			continue
		}
		var target = -1
		if rn.inViews {
			if roles[i] != RoleReplica {
				continue
			}
			p, ok := r.byKey[prims[i]]
			for hops := 0; ok && hops < 4; hops++ {
				if _, isP := shardOf[p]; isP {
					target = p
					break
				}
				p, ok = r.byKey[prims[p]]
			}
		} else if rn.prevShard >= 0 {
			// Prev-only replica: kept with a prev-only primary that still
			// owns slots.
			pp := r.byKey[r.prev.shards[rn.prevShard].Primary.Key()]
			if !r.nodes[pp].inViews {
				if _, isP := shardOf[pp]; isP {
					target = pp
				}
			}
		}
		if target < 0 {
			continue
		}
		s := shardOf[target]
		b.shards[s].Replicas = append(b.shards[s].Replicas, mk(i))
	}
	if len(b.shards) >= maxShards {
		return nil, fmt.Errorf("%w: %d primaries, at most %d", ErrInvalidShards, len(b.shards), maxShards-1)
	}
	for x := 0; x < slots.Count; x++ {
		if o := r.owner[x]; o >= 0 {
			b.owner[x] = uint16(shardOf[int(o)])
		}
	}
	b.epoch = r.epoch
	b.known = r.known
	b.fixed = r.fixed
	v := uint64(1)
	if r.prev != nil {
		v = r.prev.version + 1
	}
	return b.finish(v), nil
}
