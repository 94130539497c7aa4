package topology

import (
	"fmt"
	"testing"

	"github.com/slotrouter/slotrouter/slots"
)

// checkInvariants verifies a snapshot's internal consistency.
func checkInvariants(t *testing.T, s *Snapshot) {
	t.Helper()
	seen := map[*Node]bool{}
	for i := range s.shards {
		sh := &s.shards[i]
		if sh.Primary == nil || sh.Primary.Role != RolePrimary {
			t.Fatalf("shard %d: bad primary %v", i, sh.Primary)
		}
		for _, n := range append([]*Node{sh.Primary}, sh.Replicas...) {
			if seen[n] {
				t.Fatalf("node %v in two shards", n)
			}
			seen[n] = true
			if got, ok := s.shardOf(n); !ok || got != sh {
				t.Fatalf("ShardOf(%v) wrong", n)
			}
			if n.Addr == "" || n.Announced == "" {
				t.Fatalf("node without address: %+v", n)
			}
			if _, ok := s.NodeByAddr(n.Announced); !ok {
				t.Fatalf("NodeByAddr(%q) misses", n.Announced)
			}
		}
		for _, r := range sh.Replicas {
			if r.Role != RoleReplica || r.PrimaryID != sh.Primary.ID {
				t.Fatalf("replica %v of %v", r, sh.Primary)
			}
		}
		for _, r := range sh.Ranges {
			for x := int(r.Start); x <= int(r.End); x++ {
				if got, ok := s.lookup(slots.Slot(x)); !ok || got != sh {
					t.Fatalf("slot %d: Lookup disagrees with ranges", x)
				}
			}
		}
	}
	if len(seen) != len(s.Nodes()) {
		t.Fatalf("Nodes() has %d, shards %d", len(s.Nodes()), len(seen))
	}
	u := s.Uncovered()
	for x := 0; x < slots.Count; x++ {
		_, ok := s.Lookup(slots.Slot(x))
		if ok == u.Has(slots.Slot(x)) {
			t.Fatalf("slot %d: Uncovered disagrees with Lookup", x)
		}
		if e := s.Entry(slots.Slot(x)); e.Covered != ok || (!ok && e.Fixed) {
			t.Fatalf("slot %d: entry %+v", x, e)
		}
	}
}

// viewFrom renders a snapshot as a view, with or without epochs.
func viewFrom(s *Snapshot, answered string, epochs bool, drop int) View {
	v := View{Source: SourceShards, Answered: answered}
	for i, sh := range s.Shards() {
		if i == drop {
			continue
		}
		cp := Shard{Ranges: append([]slots.Range(nil), sh.Ranges...)}
		p := *sh.Primary
		p.EpochKnown = epochs && p.EpochKnown
		cp.Primary = &p
		for _, r := range sh.Replicas {
			rc := *r
			rc.EpochKnown = epochs && rc.EpochKnown
			cp.Replicas = append(cp.Replicas, &rc)
		}
		v.Shards = append(v.Shards, cp)
	}
	return v
}

// FuzzModelOps drives ApplyMoved and Reconcile with operations decoded from
// bytes and checks every snapshot's invariants: nothing panics, versions
// grow, Lookup agrees with ranges, MOVED fixes survive stale views.
func FuzzModelOps(f *testing.F) {
	f.Add([]byte{0, 10, 1, 1, 20, 5, 2, 3, 0, 4, 7, 9, 3, 2, 1})
	f.Add([]byte{1, 200, 3, 1, 201, 4, 1, 202, 5, 2, 0, 3, 3, 1, 0, 0, 9, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			c := data[0]
			data = data[1:]
			return c
		}
		base, err := NewSnapshot(threeShards(t, len(data)%2 == 0), SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := base
		history := []*Snapshot{base}
		for steps := 0; len(data) > 0 && steps < 24; steps++ {
			switch next() % 4 {
			case 0, 1: // MOVED to a known or unknown address
				slot := slots.Slot(int(next())<<6 | int(next()))
				port := 7000 + int(next()%8)
				if next()%2 == 0 {
					port += 100
				}
				ns, res := s.ApplyMoved(slot, fmt.Sprintf("10.0.0.1:%d", port))
				if res.Kind == MovedInvalid {
					t.Fatalf("valid redirect rejected: %v", res.Err)
				}
				if ns != s {
					if ns.Version() != s.Version()+1 {
						t.Fatal("version did not grow")
					}
					if p, _ := ns.primary(slot); p == nil || (p.Announced != fmt.Sprintf("10.0.0.1:%d", port)) {
						t.Fatalf("slot %d not on the MOVED target", slot)
					}
				}
				s = ns
			case 2: // reconcile with a stale view (an older snapshot), no epochs
				old := history[int(next())%len(history)]
				ns, err := Reconcile(s, []View{viewFrom(old, "10.0.0.9:1", false, -1)}, ReconcileOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for x := 0; x < slots.Count; x++ {
					if e := s.Entry(slots.Slot(x)); e.Fixed {
						a, _ := s.primary(slots.Slot(x))
						b, _ := ns.primary(slots.Slot(x))
						if b == nil || a.Key() != b.Key() {
							t.Fatalf("slot %d: stale view rolled back a MOVED fix", x)
						}
					}
				}
				s = ns
			case 3: // reconcile with current views, maybe partial
				drop := int(next()%5) - 1
				v1 := viewFrom(s, "10.0.0.9:1", true, drop)
				v2 := viewFrom(s, "10.0.0.9:2", true, -1)
				ns, err := Reconcile(s, []View{v1, v2}, ReconcileOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for x := 0; x < slots.Count; x++ {
					a, okA := s.Primary(slots.Slot(x))
					b, okB := ns.Primary(slots.Slot(x))
					if okA != okB || (okA && a.Key() != b.Key()) {
						t.Fatalf("slot %d: an agreeing refresh changed the owner", x)
					}
				}
				s = ns
			}
			checkInvariants(t, s)
			history = append(history, s)
		}
	})
}
