package topology

// NodeRef is a read-only reference to a Node: what routing decisions
// return (router.Route), so that a decision costs an 8-byte handle rather
// than a copy of the whole Node. Nothing can change the node through a
// NodeRef: its methods return the node's fields (strings and numbers,
// copies by nature), and Node returns a copy of the whole node.
//
// A NodeRef taken from a snapshot keeps referring to that snapshot's node,
// which never changes: a later snapshot (a refresh, a MOVED) is a new
// value, so a NodeRef describes the node as the snapshot it came from
// saw it.
//
// The zero NodeRef refers to no node: IsZero reports true, and every
// accessor returns its field's zero value ("" for Addr, RoleUnknown for
// Role, the zero Node for Node).
type NodeRef struct {
	n *Node
}

// Ref returns a read-only reference to n (the zero NodeRef for a nil n).
// A NodeRef to a Node you own follows your later changes to it.
func (n *Node) Ref() NodeRef { return NodeRef{n: n} }

// IsZero reports whether r refers to no node.
func (r NodeRef) IsZero() bool { return r.n == nil }

// Node returns a copy of the node (the zero Node when r is zero): yours
// to change.
func (r NodeRef) Node() Node {
	if r.n == nil {
		return Node{}
	}
	return *r.n
}

// ID returns Node.ID.
func (r NodeRef) ID() string {
	if r.n == nil {
		return ""
	}
	return r.n.ID
}

// Addr returns Node.Addr, the dialable "host:port".
func (r NodeRef) Addr() string {
	if r.n == nil {
		return ""
	}
	return r.n.Addr
}

// Announced returns Node.Announced, the address as the cluster announces
// it (and as MOVED redirects name it).
func (r NodeRef) Announced() string {
	if r.n == nil {
		return ""
	}
	return r.n.Announced
}

// Endpoint returns Node.Endpoint.
func (r NodeRef) Endpoint() string {
	if r.n == nil {
		return ""
	}
	return r.n.Endpoint
}

// IP returns Node.IP.
func (r NodeRef) IP() string {
	if r.n == nil {
		return ""
	}
	return r.n.IP
}

// Hostname returns Node.Hostname.
func (r NodeRef) Hostname() string {
	if r.n == nil {
		return ""
	}
	return r.n.Hostname
}

// Port returns Node.Port.
func (r NodeRef) Port() int {
	if r.n == nil {
		return 0
	}
	return r.n.Port
}

// TLSPort returns Node.TLSPort.
func (r NodeRef) TLSPort() int {
	if r.n == nil {
		return 0
	}
	return r.n.TLSPort
}

// Role returns Node.Role.
func (r NodeRef) Role() Role {
	if r.n == nil {
		return RoleUnknown
	}
	return r.n.Role
}

// Health returns Node.Health.
func (r NodeRef) Health() Health {
	if r.n == nil {
		return HealthUnknown
	}
	return r.n.Health
}

// PrimaryID returns Node.PrimaryID.
func (r NodeRef) PrimaryID() string {
	if r.n == nil {
		return ""
	}
	return r.n.PrimaryID
}

// ReplicationOffset returns Node.ReplicationOffset.
func (r NodeRef) ReplicationOffset() int64 {
	if r.n == nil {
		return 0
	}
	return r.n.ReplicationOffset
}

// ConfigEpoch returns Node.ConfigEpoch and Node.EpochKnown.
func (r NodeRef) ConfigEpoch() (epoch uint64, known bool) {
	if r.n == nil {
		return 0, false
	}
	return r.n.ConfigEpoch, r.n.EpochKnown
}

// Key returns Node.Key: the ID, or the announced address when the ID is
// unknown ("" when r is zero).
func (r NodeRef) Key() string {
	if r.n == nil {
		return ""
	}
	return r.n.Key()
}

// String returns Node.String ("<nil>" when r is zero).
func (r NodeRef) String() string { return r.n.String() }
