package topology

import "github.com/slotrouter/slotrouter/internal/topoaccess"

// init hands the copy-free accessors to the router's hot path (see
// internal/topoaccess); exported accessors return copies.
func init() {
	topoaccess.Set(topoaccess.Funcs[Snapshot, Shard]{
		Lookup: (*Snapshot).lookup,
		Shards: func(s *Snapshot) []Shard { return s.shards },
		Index:  (*Snapshot).index,
	})
}
