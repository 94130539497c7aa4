package topology

import (
	"net"
	"strconv"
)

// Role is a node's role in the cluster.
type Role uint8

const (
	// RoleUnknown means the reply did not say.
	RoleUnknown Role = iota
	// RolePrimary is a primary (master) node.
	RolePrimary
	// RoleReplica is a replica (slave) node.
	RoleReplica
)

// String returns "primary", "replica" or "unknown".
func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleReplica:
		return "replica"
	}
	return "unknown"
}

// Health is a node's health as the cluster reports it.
type Health uint8

const (
	// HealthUnknown means the reply did not say.
	HealthUnknown Health = iota
	// HealthOnline is a node that serves.
	HealthOnline
	// HealthLoading is a node still loading its data set.
	HealthLoading
	// HealthFailed is a node the cluster considers failed. Failed nodes are
	// kept in snapshots, marked, so their slots are not dropped.
	HealthFailed
)

// String returns "online", "loading", "failed" or "unknown".
func (h Health) String() string {
	switch h {
	case HealthOnline:
		return "online"
	case HealthLoading:
		return "loading"
	case HealthFailed:
		return "failed"
	}
	return "unknown"
}

// Node is one cluster node as seen in a reply or a snapshot.
//
// A Node holds only strings and numbers: a struct copy is a deep copy.
// Snapshots hand out copies (Node values, or pointers to fresh copies in
// Shard, Changes and MovedResult), so changing a Node you got changes no
// snapshot.
type Node struct {
	// ID is the 40-character node id ("" when the reply did not carry it).
	ID string
	// Endpoint is the announced endpoint (ip or hostname, following the
	// cluster's preferred endpoint type), with "" already replaced by the
	// host that answered.
	Endpoint string
	// IP is the node's announced IP when the reply carried it.
	IP string
	// Hostname is the node's announced hostname when the reply carried it.
	Hostname string
	// Port is the plaintext client port (0 when unknown or TLS-only).
	Port int
	// TLSPort is the TLS client port (0 when unknown or not configured).
	TLSPort int
	// Role is primary or replica.
	Role Role
	// Health is online, loading or failed.
	Health Health
	// PrimaryID is, for a replica, the id of its primary when known.
	PrimaryID string
	// ReplicationOffset is the replication offset when the reply carried it.
	ReplicationOffset int64
	// ConfigEpoch is the node's config epoch; meaningful only when
	// EpochKnown is true.
	ConfigEpoch uint64
	// EpochKnown reports whether ConfigEpoch came from the cluster.
	EpochKnown bool
	// Announced is "endpoint:port" as the cluster announces it (and as
	// MOVED redirects name it), built with net.JoinHostPort.
	Announced string
	// Addr is the dialable "host:port": Announced after the address-mapping
	// hook (equal to Announced when there is no hook).
	Addr string
}

// Key returns the node's identity: its ID, or its Announced address when the
// ID is unknown.
func (n *Node) Key() string {
	if n.ID != "" {
		return n.ID
	}
	return n.Announced
}

// String returns a short description: "id@addr (role, health)".
func (n *Node) String() string {
	if n == nil {
		return "<nil>"
	}
	id := n.ID
	if len(id) > 8 {
		id = id[:8]
	}
	return id + "@" + n.Addr + " (" + n.Role.String() + ", " + n.Health.String() + ")"
}

// joinAddr forms a dialable "host:port" (brackets for IPv6).
func joinAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
