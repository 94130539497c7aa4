package plan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Score weights. A placement's score is the sum of the weights of its
// violations; lower is better and 0 is perfect. The weights order the
// violations by how much availability they cost.
const (
	// WeightReplicaSameHost is charged per replica on its primary's host:
	// one machine failure loses the primary and that copy together.
	WeightReplicaSameHost = 10000
	// WeightHostMajority is charged per host holding a majority of the
	// primaries: losing it leaves too few primaries to vote a failover.
	WeightHostMajority = 1000
	// WeightZoneMajority is the same for zones (only when zones are set).
	WeightZoneMajority = 1000
	// Replicas of one shard sharing a host (without its primary) cost one
	// per replica in the group, as redis-cli's anti-affinity score does.
	WeightReplicasSameHost = 1
	// WeightMutualPair is charged per pair of shards whose copies all lie
	// on the same two hosts, one shard's primary on each: losing those two
	// hosts loses both shards. Rings avoid this.
	WeightMutualPair = 1
)

// Violation kinds.
const (
	ViolationReplicaSameHost  = "replica-same-host"
	ViolationHostMajority     = "host-primary-majority"
	ViolationZoneMajority     = "zone-primary-majority"
	ViolationReplicasSameHost = "replicas-same-host"
	ViolationMutualPair       = "mutual-pair"
)

// Violation is one anti-affinity problem of a placement.
type Violation struct {
	Kind   string   `json:"kind"`
	Weight int      `json:"weight"`
	Nodes  []string `json:"nodes"`
	// Explanation says what is wrong, in words.
	Explanation string `json:"explanation"`
}

// Score is a placement's anti-affinity score with one entry per violation.
type Score struct {
	Total      int         `json:"total"`
	Violations []Violation `json:"violations"`
}

// Placement assigns roles: which nodes are primaries and which primary each
// replica follows.
type Placement struct {
	Primaries []string `json:"primaries"`
	// Replicas maps each replica's ID to its primary's ID.
	Replicas map[string]string `json:"replicas"`
	Score    Score             `json:"score"`
}

// PlaceRequest asks Place to choose roles for Nodes.
type PlaceRequest struct {
	// Nodes are the nodes to place; ID and Host (or Addr) are used, Zone
	// when set. Roles and slots are ignored.
	Nodes []Node
	// Primaries is the number of primaries (1..len(Nodes)). The other
	// nodes become replicas, spread as evenly as possible.
	Primaries int
}

// topo is the integer form of a placement problem.
type topo struct {
	// ctx ends a search early; err is its error once seen.
	ctx   context.Context
	err   error
	ids   []string
	host  []int
	zone  []int // -1 when unset
	hosts []string
	zones []string
	nprim int
	zoned bool
	// Scratch of score, linear in the nodes: the replicas of shard s
	// that are not on their primary's host are byShard[start[s]:start[s+1]]
	// (in node order); hc counts replicas per host within one shard.
	byShard []int
	start   []int
	hc      []int
	touched []int
	phc     []int // scratch: primaries per host
	pzc     []int // scratch: primaries per zone
}

func newTopo(ctx context.Context, nodes []Node, nprim int) (*topo, error) {
	t := &topo{ctx: ctx, nprim: nprim}
	hi, zi := map[string]int{}, map[string]int{}
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.ID == "" {
			return nil, fmt.Errorf("%w: a node has no id", ErrInvalidLayout)
		}
		if seen[n.ID] {
			return nil, fmt.Errorf("%w: duplicate node id %q", ErrInvalidLayout, n.ID)
		}
		seen[n.ID] = true
		h := n.HostName()
		if h == "" {
			return nil, fmt.Errorf("%w: node %q has neither host nor addr; placement needs a host label", ErrInvalidLayout, n.ID)
		}
		if _, ok := hi[h]; !ok {
			hi[h] = len(t.hosts)
			t.hosts = append(t.hosts, h)
		}
		z := -1
		if n.Zone != "" {
			if _, ok := zi[n.Zone]; !ok {
				zi[n.Zone] = len(t.zones)
				t.zones = append(t.zones, n.Zone)
			}
			z = zi[n.Zone]
			t.zoned = true
		}
		t.ids = append(t.ids, n.ID)
		t.host = append(t.host, hi[h])
		t.zone = append(t.zone, z)
	}
	t.byShard = make([]int, len(t.ids))
	t.start = make([]int, max(1, nprim)+1)
	t.hc = make([]int, len(t.hosts))
	t.phc = make([]int, len(t.hosts))
	t.pzc = make([]int, len(t.zones))
	return t, nil
}

// roles: shard[i] in 0..nprim-1; prim[s] is the node index of shard s's
// primary.
type roles struct {
	shard []int
	prim  []int
}

// stopped reports whether t.ctx has ended (recording its error in t.err).
func (t *topo) stopped() bool {
	if t.err == nil {
		t.err = t.ctx.Err()
	}
	return t.err != nil
}

func (r roles) clone() roles { return roles{slices.Clone(r.shard), slices.Clone(r.prim)} }

// score computes the total; with explain it also lists violations.
func (t *topo) score(r roles, explain bool) Score {
	var sc Score
	add := func(kind string, w int, nodes []int, format string, a ...any) {
		sc.Total += w
		if !explain {
			return
		}
		v := Violation{Kind: kind, Weight: w, Explanation: fmt.Sprintf(format, a...)}
		for _, i := range nodes {
			v.Nodes = append(v.Nodes, t.ids[i])
		}
		slices.Sort(v.Nodes)
		sc.Violations = append(sc.Violations, v)
	}
	P := t.nprim
	clear(t.start)
	clear(t.phc)
	clear(t.pzc)
	for s := 0; s < P; s++ {
		p := r.prim[s]
		t.phc[t.host[p]]++
		if z := t.zone[p]; z >= 0 {
			t.pzc[z]++
		}
	}
	for i, s := range r.shard {
		if r.prim[s] == i {
			continue
		}
		p := r.prim[s]
		if t.host[i] == t.host[p] {
			add(ViolationReplicaSameHost, WeightReplicaSameHost, []int{i, p},
				"replica %s runs on host %s with its primary %s: losing the host loses both", t.ids[i], t.hosts[t.host[i]], t.ids[p])
			continue
		}
		t.start[s+1]++
	}
	for s := 0; s < P; s++ {
		t.start[s+1] += t.start[s]
	}
	fill := t.touched[:0] // next free place per shard, reusing touched
	fill = append(fill, t.start[:P]...)
	for i, s := range r.shard {
		if p := r.prim[s]; p != i && t.host[i] != t.host[p] {
			t.byShard[fill[s]] = i
			fill[s]++
		}
	}
	t.touched = fill[:0]
	if P >= 2 {
		for h, c := range t.phc {
			if 2*c > P {
				add(ViolationHostMajority, WeightHostMajority, t.primariesWhere(r, func(p int) bool { return t.host[p] == h }),
					"host %s holds %d of %d primaries, a majority: losing it blocks failover", t.hosts[h], c, P)
			}
		}
		if t.zoned {
			for z, c := range t.pzc {
				if 2*c > P {
					add(ViolationZoneMajority, WeightZoneMajority, t.primariesWhere(r, func(p int) bool { return t.zone[p] == z }),
						"zone %s holds %d of %d primaries, a majority: losing it blocks failover", t.zones[z], c, P)
				}
			}
		}
	}
	// Replicas sharing a host, per shard and host in ascending order;
	// mutual pairs: shards whose copies lie on exactly two hosts.
	type hp struct{ a, b int }
	groups := map[hp][]int{}
	for s := 0; s < P; s++ {
		reps := t.byShard[t.start[s]:t.start[s+1]]
		hosts := t.touched[:0]
		for _, i := range reps {
			h := t.host[i]
			if t.hc[h] == 0 {
				hosts = append(hosts, h)
			}
			t.hc[h]++
		}
		slices.Sort(hosts)
		for _, h := range hosts {
			if c := t.hc[h]; c >= 2 {
				var nodes []int
				if explain {
					for _, i := range reps {
						if t.host[i] == h {
							nodes = append(nodes, i)
						}
					}
				}
				add(ViolationReplicasSameHost, c*WeightReplicasSameHost, nodes,
					"%d replicas of primary %s share host %s: losing it loses %d copies", c, t.ids[r.prim[s]], t.hosts[h], c)
			}
		}
		if len(hosts) == 1 {
			ph, other := t.host[r.prim[s]], hosts[0]
			k := hp{min(ph, other), max(ph, other)}
			groups[k] = append(groups[k], s)
		}
		for _, h := range hosts {
			t.hc[h] = 0
		}
		t.touched = hosts[:0]
	}
	keys := make([]hp, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y hp) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })
	for _, k := range keys {
		g := groups[k]
		for x := 0; x < len(g); x++ {
			for y := x + 1; y < len(g); y++ {
				a, b := g[x], g[y]
				if t.host[r.prim[a]] == t.host[r.prim[b]] {
					continue
				}
				add(ViolationMutualPair, WeightMutualPair, []int{r.prim[a], r.prim[b]},
					"primaries %s and %s replicate to each other's host (%s, %s) and nowhere else: losing both hosts loses both shards; a ring avoids this",
					t.ids[r.prim[a]], t.ids[r.prim[b]], t.hosts[k.a], t.hosts[k.b])
			}
		}
	}
	if explain && sc.Violations == nil {
		sc.Violations = []Violation{}
	}
	return sc
}

func (t *topo) primariesWhere(r roles, f func(p int) bool) []int {
	var out []int
	for _, p := range r.prim {
		if f(p) {
			out = append(out, p)
		}
	}
	return out
}

// Place chooses primaries and replicas for req.Nodes minimising the score
// (see the Weight constants): no replica on its primary's host, no host or
// zone with a majority of primaries, replicas of one shard on distinct
// hosts, rings rather than mutual pairs, each where avoidable. It starts
// from several deterministic constructions and improves each by local
// search (swapping any two nodes' roles) until no swap lowers the score;
// tests check the result against exhaustive search on small clusters. The
// cost grows as the cube of the node count per pass, fine for hundreds of
// nodes.
func Place(req PlaceRequest) (*Placement, error) {
	return PlaceContext(context.Background(), req)
}

// PlaceContext is Place that stops when ctx ends, returning ctx's error
// (the search looks at ctx before each candidate swap).
func PlaceContext(ctx context.Context, req PlaceRequest) (*Placement, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	n := len(req.Nodes)
	if req.Primaries < 1 || req.Primaries > n {
		return nil, fmt.Errorf("%w: %d primaries requested for %d nodes", ErrImpossible, req.Primaries, n)
	}
	nodes := slices.Clone(req.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	t, err := newTopo(ctx, nodes, req.Primaries)
	if err != nil {
		return nil, err
	}
	var best roles
	bestScore := -1
	for _, start := range t.starts() {
		r := t.localSearch(start)
		if t.err != nil {
			return nil, t.err
		}
		if s := t.score(r, false).Total; bestScore < 0 || s < bestScore {
			best, bestScore = r, s
		}
	}
	if t.err != nil {
		return nil, t.err
	}
	return t.placement(best), nil
}

func (t *topo) placement(r roles) *Placement {
	pl := &Placement{Replicas: map[string]string{}}
	for _, p := range r.prim {
		pl.Primaries = append(pl.Primaries, t.ids[p])
	}
	slices.Sort(pl.Primaries)
	for i, s := range r.shard {
		if r.prim[s] != i {
			pl.Replicas[t.ids[i]] = t.ids[r.prim[s]]
		}
	}
	pl.Score = t.score(r, true)
	return pl
}

// starts returns initial role assignments: primaries taken round-robin
// over hosts (smallest hosts first, then largest first), replicas dealt to
// the emptiest shard preferring other hosts.
func (t *topo) starts() []roles {
	n, P := len(t.ids), t.nprim
	size := make([]int, len(t.hosts))
	for _, h := range t.host {
		size[h]++
	}
	var out []roles
	for variant := 0; variant < 4; variant++ {
		smallFirst, byZone := variant%2 == 0, variant >= 2
		if byZone && !t.zoned {
			break
		}
		hosts := make([]int, len(t.hosts))
		for i := range hosts {
			hosts[i] = i
		}
		slices.SortStableFunc(hosts, func(a, b int) int {
			if smallFirst {
				return cmp.Compare(size[a], size[b])
			}
			return cmp.Compare(size[b], size[a])
		})
		byHost := make([][]int, len(t.hosts))
		for i, h := range t.host {
			byHost[h] = append(byHost[h], i)
		}
		// Candidate order for primaries: round-robin over hosts; with
		// byZone, round-robin over zones first, hosts within a zone.
		var order []int
		for round := 0; len(order) < n; round++ {
			for _, h := range hosts {
				if round < len(byHost[h]) {
					order = append(order, byHost[h][round])
				}
			}
		}
		if byZone {
			perZone := map[int][]int{}
			var zs []int
			for _, i := range order {
				if _, ok := perZone[t.zone[i]]; !ok {
					zs = append(zs, t.zone[i])
				}
				perZone[t.zone[i]] = append(perZone[t.zone[i]], i)
			}
			order = order[:0]
			for round := 0; len(order) < n; round++ {
				for _, z := range zs {
					if round < len(perZone[z]) {
						order = append(order, perZone[z][round])
					}
				}
			}
		}
		r := roles{shard: make([]int, n), prim: make([]int, 0, P)}
		isPrim := make([]bool, n)
		for _, i := range order[:P] {
			r.shard[i] = len(r.prim)
			r.prim = append(r.prim, i)
			isPrim[i] = true
		}
		reps := make([]int, 0, n-P)
		for i := range n {
			if !isPrim[i] {
				reps = append(reps, i)
			}
		}
		slices.SortStableFunc(reps, func(a, b int) int { return cmp.Compare(size[t.host[b]], size[t.host[a]]) })
		quota := make([]int, P) // replicas per shard
		for k := range n - P {
			quota[k%P]++
		}
		nrep := make([]int, P)
		onHost := make(map[[2]int]bool)
		for _, i := range reps {
			if t.stopped() {
				return nil
			}
			best := -1
			bestKey := [3]int{}
			for s := 0; s < P; s++ {
				if nrep[s] >= quota[s] {
					continue
				}
				key := [3]int{0, 0, nrep[s]}
				if t.host[r.prim[s]] == t.host[i] {
					key[0] = 1
				}
				if onHost[[2]int{s, t.host[i]}] {
					key[1] = 1
				}
				if best < 0 || slices.Compare(key[:], bestKey[:]) < 0 {
					best, bestKey = s, key
				}
			}
			r.shard[i] = best
			nrep[best]++
			onHost[[2]int{best, t.host[i]}] = true
		}
		out = append(out, r)
	}
	return out
}

// localSearch applies the best improving swap of two nodes' roles until
// none improves. Swapping a primary with a replica of its own shard makes
// the replica the primary.
func (t *topo) localSearch(r roles) roles {
	r = r.clone()
	n := len(t.ids)
	cur := t.score(r, false).Total
	for pass := 0; pass < 4*n*n+16 && cur > 0; pass++ {
		bi, bj, bs := -1, -1, cur
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				if t.stopped() {
					return r
				}
				if t.swap(r, i, j) {
					if s := t.score(r, false).Total; s < bs {
						bi, bj, bs = i, j, s
					}
					t.swap(r, i, j)
				}
			}
		}
		if bi < 0 {
			// Stuck: on small clusters try pairs of swaps, which escape
			// optima such as moving a primary out of a majority zone
			// while another moves in.
			if n > compoundLimit || !t.compound(r, &cur) {
				break
			}
			continue
		}
		t.swap(r, bi, bj)
		cur = bs
	}
	return r
}

// compoundLimit is the largest cluster on which localSearch tries pairs of
// swaps (the cost is the fourth power of the node count).
const compoundLimit = 24

// compound applies the first pair of swaps that lowers the score.
func (t *topo) compound(r roles, cur *int) bool {
	n := len(t.ids)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if !t.swap(r, i, j) {
				continue
			}
			for k := 0; k < n; k++ {
				for m := k + 1; m < n; m++ {
					if !t.swap(r, k, m) {
						continue
					}
					if s := t.score(r, false).Total; s < *cur {
						*cur = s
						return true
					}
					t.swap(r, m, k)
				}
			}
			t.swap(r, j, i)
		}
	}
	return false
}

// swap exchanges the roles of nodes i and j; it reports false (and does
// nothing) when the swap changes nothing.
func (t *topo) swap(r roles, i, j int) bool {
	si, sj := r.shard[i], r.shard[j]
	pi, pj := r.prim[si] == i, r.prim[sj] == j
	if si == sj && pi == pj {
		return false
	}
	if si == sj {
		if pi {
			r.prim[si] = j
		} else {
			r.prim[si] = i
		}
		return true
	}
	r.shard[i], r.shard[j] = sj, si
	if pi {
		r.prim[si] = j
	}
	if pj {
		r.prim[sj] = i
	}
	return true
}

// rolesOf reads roles from a layout's primaries and replicas.
func rolesOf(ctx context.Context, l *Layout) (*topo, roles, error) {
	st, err := l.index()
	if err != nil {
		return nil, roles{}, err
	}
	if len(st.primary) == 0 {
		return nil, roles{}, fmt.Errorf("%w: no primary", ErrInvalidLayout)
	}
	nodes := slices.Clone(l.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	t, err := newTopo(ctx, nodes, len(st.primary))
	if err != nil {
		return nil, roles{}, err
	}
	r := roles{shard: make([]int, len(nodes))}
	shardOf := map[string]int{}
	for i, n := range nodes {
		if !n.IsReplica() {
			shardOf[n.ID] = len(r.prim)
			r.shard[i] = len(r.prim)
			r.prim = append(r.prim, i)
		}
	}
	for i, n := range nodes {
		if n.IsReplica() {
			r.shard[i] = shardOf[n.Primary]
		}
	}
	return t, r, nil
}

// ScoreLayout scores the placement of an existing layout's primaries and
// replicas (Role and Primary), with one explanation per violation.
func ScoreLayout(l *Layout) (Score, error) {
	t, r, err := rolesOf(context.Background(), l)
	if err != nil {
		return Score{}, err
	}
	return t.score(r, true), nil
}

// Replicate is one CLUSTER REPLICATE change: run "CLUSTER REPLICATE
// <Primary>" on Replica, which now follows From.
type Replicate struct {
	Replica string `json:"replica"`
	From    string `json:"from"`
	Primary string `json:"primary"`
}

// RepairPlan is the outcome of Repair.
type RepairPlan struct {
	Changes []Replicate `json:"changes"`
	Before  Score       `json:"before"`
	After   Score       `json:"after"`
}

// Repair proposes CLUSTER REPLICATE changes for an existing cluster that
// lower its placement score without touching primaries (promoting would
// need a failover). Each primary's replica count stays between
// min(floor(avg), its current count) and max(ceil(avg), its current count).
// It repeatedly applies the change (one replica moved, or two replicas
// swapped) with the best score gain per REPLICATE command, then drops any
// change whose reversal does not worsen the score; so it proposes few
// changes, and none when nothing improves. It is not proven to be the
// fewest possible in every case.
func Repair(l *Layout) (*RepairPlan, error) {
	return RepairContext(context.Background(), l)
}

// RepairContext is Repair that stops when ctx ends, returning ctx's error
// (the search looks at ctx before each candidate change).
func RepairContext(ctx context.Context, l *Layout) (*RepairPlan, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	t, r, err := rolesOf(ctx, l)
	if err != nil {
		return nil, err
	}
	orig := r.clone()
	P := len(r.prim)
	n := len(t.ids)
	isPrim := make([]bool, n)
	for _, p := range r.prim {
		isPrim[p] = true
	}
	cnt := make([]int, P)
	for i, s := range r.shard {
		if !isPrim[i] {
			cnt[s]++
		}
	}
	reps := n - P
	lo, hi := make([]int, P), make([]int, P)
	for s := range P {
		lo[s] = min(reps/P, cnt[s])
		hi[s] = max((reps+P-1)/P, cnt[s])
	}
	cur := t.score(r, false).Total
	for iter := 0; iter < 4*n+16 && cur > 0; iter++ {
		type mv struct {
			i, j, s int // move i to shard s, or swap i and j (j >= 0)
			gain    float64
		}
		best := mv{i: -1}
		for i := 0; i < n; i++ {
			if t.stopped() {
				return nil, t.err
			}
			if isPrim[i] {
				continue
			}
			si := r.shard[i]
			for s := 0; s < P; s++ {
				if s == si || cnt[si]-1 < lo[si] || cnt[s]+1 > hi[s] {
					continue
				}
				if t.stopped() {
					return nil, t.err
				}
				r.shard[i] = s
				if g := float64(cur - t.score(r, false).Total); g > 0 && g > best.gain {
					best = mv{i: i, j: -1, s: s, gain: g}
				}
				r.shard[i] = si
			}
			for j := i + 1; j < n; j++ {
				if isPrim[j] || r.shard[j] == si {
					continue
				}
				if t.stopped() {
					return nil, t.err
				}
				sj := r.shard[j]
				r.shard[i], r.shard[j] = sj, si
				if g := float64(cur-t.score(r, false).Total) / 2; g > 0 && g > best.gain {
					best = mv{i: i, j: j, gain: g}
				}
				r.shard[i], r.shard[j] = si, sj
			}
		}
		if best.i < 0 {
			break
		}
		if best.j < 0 {
			cnt[r.shard[best.i]]--
			cnt[best.s]++
			r.shard[best.i] = best.s
		} else {
			r.shard[best.i], r.shard[best.j] = r.shard[best.j], r.shard[best.i]
		}
		cur = t.score(r, false).Total
	}
	// Drop changes whose reversal costs nothing.
	for i := 0; i < n; i++ {
		if isPrim[i] || r.shard[i] == orig.shard[i] {
			continue
		}
		s, o := r.shard[i], orig.shard[i]
		if cnt[s]-1 < lo[s] || cnt[o]+1 > hi[o] {
			continue
		}
		r.shard[i] = o
		if t.score(r, false).Total <= cur {
			cnt[s]--
			cnt[o]++
			continue
		}
		r.shard[i] = s
	}
	rp := &RepairPlan{Before: t.score(orig, true), After: t.score(r, true), Changes: []Replicate{}}
	for i := 0; i < n; i++ {
		if !isPrim[i] && r.shard[i] != orig.shard[i] {
			rp.Changes = append(rp.Changes, Replicate{Replica: t.ids[i], From: t.ids[orig.prim[orig.shard[i]]], Primary: t.ids[r.prim[r.shard[i]]]})
		}
	}
	return rp, nil
}
