package plan_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/slots/plan"
)

// hostsNodes makes nodes on hosts of the given sizes: h0 gets sizes[0]
// nodes, and so on; IDs a, b, c, … in that order.
func hostsNodes(sizes ...int) []plan.Node {
	var out []plan.Node
	for h, k := range sizes {
		for range k {
			out = append(out, plan.Node{ID: string(rune('a' + len(out))), Host: fmt.Sprintf("h%d", h)})
		}
	}
	return out
}

// layoutOf turns a role assignment into a layout for ScoreLayout.
func layoutOf(nodes []plan.Node, primaryOf map[string]string) *plan.Layout {
	l := &plan.Layout{}
	for _, n := range nodes {
		n.Role, n.Primary = plan.RolePrimary, ""
		if p, ok := primaryOf[n.ID]; ok {
			n.Role, n.Primary = plan.RoleReplica, p
		}
		l.Nodes = append(l.Nodes, n)
	}
	return l
}

func placementLayout(nodes []plan.Node, pl *plan.Placement) *plan.Layout {
	return layoutOf(nodes, pl.Replicas)
}

func TestPlaceHosts422(t *testing.T) {
	nodes := hostsNodes(4, 2, 2) // a b c d on h0, e f on h1, g h on h2
	pl, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: 2})
	require.NoError(t, err)
	assert.Equal(t, 4, pl.Score.Total, "%+v", pl.Score)
	sc, err := plan.ScoreLayout(placementLayout(nodes, pl))
	require.NoError(t, err)
	assert.Equal(t, pl.Score, sc)
	for _, v := range pl.Score.Violations {
		assert.Equal(t, plan.ViolationReplicasSameHost, v.Kind)
		assert.NotEmpty(t, v.Explanation)
	}
	// redis-cli takes the first master from the first (largest) host:
	// master a on h0 with three replicas of the other master there, master
	// e on h1: score 5.
	cli := map[string]string{"b": "e", "c": "e", "d": "e", "f": "a", "g": "a", "h": "a"}
	sc, err = plan.ScoreLayout(layoutOf(nodes, cli))
	require.NoError(t, err)
	assert.Equal(t, 5, sc.Total)
	assert.Len(t, pl.Primaries, 2)
	assert.Len(t, pl.Replicas, 6)
}

// bruteBest finds the least score over every placement with p primaries
// and replicas spread evenly, by enumeration.
func bruteBest(t *testing.T, nodes []plan.Node, p int) int {
	n := len(nodes)
	best := -1
	quota := make([]int, p)
	for k := range n - p {
		quota[k%p]++
	}
	want := map[int]int{}
	for _, q := range quota {
		want[q]++
	}
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != p {
			continue
		}
		var prims, reps []string
		for i := range n {
			if mask&(1<<i) != 0 {
				prims = append(prims, nodes[i].ID)
			} else {
				reps = append(reps, nodes[i].ID)
			}
		}
		total := 1
		for range reps {
			total *= p
		}
		for code := 0; code < total; code++ {
			assign := map[string]string{}
			per := make([]int, p)
			c := code
			for _, r := range reps {
				assign[r] = prims[c%p]
				per[c%p]++
				c /= p
			}
			got := map[int]int{}
			for _, q := range per {
				got[q]++
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				continue
			}
			sc, err := plan.ScoreLayout(layoutOf(nodes, assign))
			require.NoError(t, err)
			if best < 0 || sc.Total < best {
				best = sc.Total
			}
		}
	}
	return best
}

// placeCases is how many random clusters TestPlaceOptimalSmall checks
// exhaustively; PLAN_PLACE_CASES overrides it (400 were checked while
// developing).
const placeCases = 16

func TestPlaceOptimalSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := 0
	placeCases := placeCases
	if n, err := strconv.Atoi(os.Getenv("PLAN_PLACE_CASES")); err == nil && n > 0 {
		placeCases = n
	}
	for cases < placeCases {
		n := 2 + r.IntN(7) // 2..8
		p := 1 + r.IntN(max(1, n/2))
		hosts := 1 + r.IntN(4)
		zones := r.IntN(3)
		var nodes []plan.Node
		for i := range n {
			nd := plan.Node{ID: fmt.Sprintf("n%d", i), Host: fmt.Sprintf("h%d", r.IntN(hosts))}
			if zones > 0 {
				nd.Zone = fmt.Sprintf("z%d", r.IntN(zones+1))
			}
			nodes = append(nodes, nd)
		}
		pl, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: p})
		require.NoError(t, err)
		want := bruteBest(t, nodes, p)
		require.Equal(t, want, pl.Score.Total, "case %d: %d nodes, %d primaries: %+v", cases, n, p, nodes)
		sc, err := plan.ScoreLayout(placementLayout(nodes, pl))
		require.NoError(t, err)
		require.Equal(t, pl.Score.Total, sc.Total)
		cases++
	}
}

func TestPlaceRingNotPairs(t *testing.T) {
	// 3 hosts, 3 primaries, one replica each: a ring scores 0, mutual
	// pairs would not.
	nodes := hostsNodes(2, 2, 2)
	pl, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: 3})
	require.NoError(t, err)
	assert.Equal(t, 0, pl.Score.Total, "%+v", pl.Score)
	// A mutual pair layout: a(h0)->c(h1), c's replica b(h0)... explicitly:
	// primaries a(h0), c(h1), e(h2); replicas d(h1) of a, b(h0) of c, f(h2)?
	pair := map[string]string{"d": "a", "b": "c", "f": "e"}
	sc, err := plan.ScoreLayout(layoutOf(nodes, pair))
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, v := range sc.Violations {
		kinds[v.Kind]++
	}
	assert.Equal(t, 1, kinds[plan.ViolationMutualPair], "%+v", sc)
	assert.Equal(t, 1, kinds[plan.ViolationReplicaSameHost], "%+v", sc)
}

func TestPlaceMajority(t *testing.T) {
	// Two zones: z0 has 4 nodes, z1 has 2; 3 primaries must not all sit in
	// z0... 2 of 3 in z0 is a majority, unavoidable with 2 zones? No: put
	// 1 in z0, 2 in z1 — still a majority in z1. With two zones and an odd
	// count one zone always has a majority; the score says so.
	nodes := []plan.Node{
		{ID: "a", Host: "h0", Zone: "z0"}, {ID: "b", Host: "h1", Zone: "z0"},
		{ID: "c", Host: "h2", Zone: "z1"}, {ID: "d", Host: "h3", Zone: "z1"},
		{ID: "e", Host: "h4", Zone: "z2"}, {ID: "f", Host: "h5", Zone: "z2"},
	}
	pl, err := plan.Place(plan.PlaceRequest{Nodes: nodes, Primaries: 3})
	require.NoError(t, err)
	assert.Equal(t, 0, pl.Score.Total, "%+v", pl.Score)
	zones := map[string]int{}
	for _, p := range pl.Primaries {
		for _, n := range nodes {
			if n.ID == p {
				zones[n.Zone]++
			}
		}
	}
	assert.Equal(t, map[string]int{"z0": 1, "z1": 1, "z2": 1}, zones)
}

func TestPlaceErrors(t *testing.T) {
	_, err := plan.Place(plan.PlaceRequest{Nodes: hostsNodes(2), Primaries: 3})
	assert.ErrorIs(t, err, plan.ErrImpossible)
	_, err = plan.Place(plan.PlaceRequest{Nodes: []plan.Node{{ID: "a"}}, Primaries: 1})
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
	_, err = plan.Place(plan.PlaceRequest{Nodes: []plan.Node{{ID: "a", Host: "x"}, {ID: "a", Host: "y"}}, Primaries: 1})
	assert.ErrorIs(t, err, plan.ErrInvalidLayout)
}

func TestRepair(t *testing.T) {
	// Replica b of a on a's host; c's replica d elsewhere.
	l := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Host: "h0"}, {ID: "b", Host: "h0", Role: plan.RoleReplica, Primary: "a"},
		{ID: "c", Host: "h1"}, {ID: "d", Host: "h2", Role: plan.RoleReplica, Primary: "c"},
	}}
	rp, err := plan.Repair(l)
	require.NoError(t, err)
	assert.Equal(t, plan.WeightReplicaSameHost, rp.Before.Total)
	assert.Equal(t, 0, rp.After.Total, "%+v", rp)
	assert.Len(t, rp.Changes, 2) // b and d swap primaries
	// A clean cluster needs nothing.
	l2 := &plan.Layout{Nodes: []plan.Node{
		{ID: "a", Host: "h0"}, {ID: "b", Host: "h1", Role: plan.RoleReplica, Primary: "a"},
		{ID: "c", Host: "h1"}, {ID: "d", Host: "h2", Role: plan.RoleReplica, Primary: "c"},
		{ID: "e", Host: "h2"}, {ID: "f", Host: "h0", Role: plan.RoleReplica, Primary: "e"},
	}}
	rp, err = plan.Repair(l2)
	require.NoError(t, err)
	assert.Empty(t, rp.Changes)
	assert.Equal(t, 0, rp.After.Total)
}

// Repair against exhaustive search over replica reassignments (primaries
// fixed, same count bounds): the score it reaches is the least possible.
func TestRepairOptimalSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for c := 0; c < 80; c++ {
		n := 3 + r.IntN(5)
		p := 1 + r.IntN(n/2)
		hosts := 1 + r.IntN(4)
		l := &plan.Layout{}
		for i := range n {
			nd := plan.Node{ID: fmt.Sprintf("n%d", i), Host: fmt.Sprintf("h%d", r.IntN(hosts))}
			if i >= p {
				nd.Role, nd.Primary = plan.RoleReplica, fmt.Sprintf("n%d", (i-p)%p)
			}
			l.Nodes = append(l.Nodes, nd)
		}
		rp, err := plan.Repair(l)
		require.NoError(t, err)
		// exhaustive
		reps := n - p
		best, bestChanges := -1, 0
		total := 1
		for range reps {
			total *= p
		}
		for code := 0; code < total; code++ {
			assign := map[string]string{}
			per := make([]int, p)
			changes := 0
			x := code
			for i := p; i < n; i++ {
				to := fmt.Sprintf("n%d", x%p)
				per[x%p]++
				if to != l.Nodes[i].Primary {
					changes++
				}
				assign[l.Nodes[i].ID] = to
				x /= p
			}
			ok := true
			for _, q := range per {
				if q < reps/p || q > (reps+p-1)/p {
					ok = false
				}
			}
			if !ok {
				continue
			}
			sc, err := plan.ScoreLayout(layoutOf(nodesOf(l), assign))
			require.NoError(t, err)
			if best < 0 || sc.Total < best || (sc.Total == best && changes < bestChanges) {
				best, bestChanges = sc.Total, changes
			}
		}
		require.Equal(t, best, rp.After.Total, "case %d: %+v -> %+v", c, l.Nodes, rp)
		require.Len(t, rp.Changes, bestChanges, "case %d: fewest changes", c)
	}
}

func nodesOf(l *plan.Layout) []plan.Node {
	var out []plan.Node
	for _, n := range l.Nodes {
		out = append(out, plan.Node{ID: n.ID, Host: n.Host, Zone: n.Zone})
	}
	return out
}
