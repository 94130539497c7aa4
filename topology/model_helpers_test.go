package topology

import (
	"fmt"
	"testing"

	"github.com/slotrouter/slotrouter/slots"
	"github.com/stretchr/testify/require"
)

// tnode makes a node "id" at 10.0.0.1:port; an optional epoch makes it known.
func tnode(id string, port int, epoch ...uint64) *Node {
	n := &Node{ID: id, Endpoint: "10.0.0.1", IP: "10.0.0.1", Port: port, Health: HealthOnline,
		Announced: fmt.Sprintf("10.0.0.1:%d", port), Addr: fmt.Sprintf("10.0.0.1:%d", port)}
	if len(epoch) > 0 {
		n.ConfigEpoch, n.EpochKnown = epoch[0], true
	}
	return n
}

func tshard(t testing.TB, p *Node, ranges string, reps ...*Node) Shard {
	t.Helper()
	rs, err := slots.ParseRanges(ranges)
	require.NoError(t, err)
	cp := *p
	cp.Role = RolePrimary
	sh := Shard{Primary: &cp, Ranges: rs}
	for _, r := range reps {
		c := *r
		c.Role = RoleReplica
		c.PrimaryID = p.ID
		sh.Replicas = append(sh.Replicas, &c)
	}
	return sh
}

func tview(answered string, shards ...Shard) View {
	return View{Source: SourceShards, Answered: answered, Shards: shards}
}

// owners renders "start-end:primaryID" runs of a snapshot.
func owners(s *Snapshot) []string {
	var out []string
	for _, sh := range s.Shards() {
		for _, r := range sh.Ranges {
			out = append(out, r.String()+":"+sh.Primary.ID)
		}
	}
	return out
}

func ownerOf(s *Snapshot, slot slots.Slot) string {
	p, ok := s.Primary(slot)
	if !ok {
		return ""
	}
	return p.ID
}

// threeShards is A 0-5460 (replica a1), B 5461-10922 (b1), C 10923-16383 (c1).
func threeShards(t testing.TB, epochs bool) []Shard {
	e := func(x uint64) []uint64 {
		if epochs {
			return []uint64{x}
		}
		return nil
	}
	return []Shard{
		tshard(t, tnode("A", 7000, e(1)...), "0-5460", tnode("a1", 7100, e(1)...)),
		tshard(t, tnode("B", 7001, e(2)...), "5461-10922", tnode("b1", 7101, e(2)...)),
		tshard(t, tnode("C", 7002, e(3)...), "10923-16383", tnode("c1", 7102, e(3)...)),
	}
}

func slotOf(x uint16) slots.Slot { return slots.Slot(x) }

func ids(ns []*Node) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}
