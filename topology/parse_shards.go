package topology

import (
	"fmt"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/slots"
)

const cmdShards = "CLUSTER SHARDS"

// ParseShards decodes a CLUSTER SHARDS reply (RESP2 flat key/value arrays or
// RESP3 maps) given by the node at answered ("host:port").
//
// An empty endpoint means the answering host; a node whose endpoint is "?"
// is skipped (counted in View.Skipped) rather than failing the reply. A
// shard whose primary is skipped or missing is left out of the view, so its
// slots are simply not claimed by this node. When a shard lists several
// primaries (transiently, around a failover) the healthy one with the
// highest replication offset is its primary and the others are listed as
// its replicas.
func ParseShards(msg rueidis.RedisMessage, answered string) (View, error) {
	if err := replyError(cmdShards, &msg); err != nil {
		return View{}, err
	}
	arr, err := msg.ToArray()
	if err != nil {
		return View{}, malformed(cmdShards, "", "reply is not an array")
	}
	v := View{Source: SourceShards, Answered: answered, Shards: make([]Shard, 0, len(arr))}
	for i := range arr {
		sh, skipped, ok, err := parseShardEntry(&arr[i], i, answered)
		if err != nil {
			return View{}, err
		}
		v.Skipped += skipped
		if ok {
			v.Shards = append(v.Shards, sh)
		}
	}
	return v, nil
}

func parseShardEntry(m *rueidis.RedisMessage, i int, answered string) (sh Shard, skipped int, ok bool, err error) {
	path := replyPath{shard: i, node: -1}
	fields, err := m.AsMap()
	if err != nil {
		return sh, 0, false, malformedAt(cmdShards, path, "not a map or even key/value array")
	}
	slotsMsg, has := fields["slots"]
	if !has {
		return sh, 0, false, malformedAt(cmdShards, path, "no \"slots\" field")
	}
	nodesMsg, has := fields["nodes"]
	if !has {
		return sh, 0, false, malformedAt(cmdShards, path, "no \"nodes\" field")
	}
	if idMsg, has := fields["id"]; has {
		sh.ID, _ = msgString(&idMsg)
	}
	ranges, err := parseSlotPairs(&slotsMsg, path.with("slots"))
	if err != nil {
		return sh, 0, false, err
	}
	nodes, err := nodesMsg.ToArray()
	if err != nil {
		return sh, 0, false, malformedAt(cmdShards, path.with("nodes"), "not an array")
	}
	var primaries, replicas []*Node
	for j := range nodes {
		n, known, err := parseShardNode(&nodes[j], i, j, answered)
		if err != nil {
			return sh, 0, false, err
		}
		if !known {
			skipped++
			continue
		}
		if n.Role == RolePrimary {
			primaries = append(primaries, n)
		} else {
			replicas = append(replicas, n)
		}
	}
	if len(primaries) == 0 {
		return sh, skipped, false, nil
	}
	best := 0
	for j := 1; j < len(primaries); j++ {
		if betterPrimary(primaries[j], primaries[best]) {
			best = j
		}
	}
	sh.Primary = primaries[best]
	for j, p := range primaries {
		if j != best {
			replicas = append(replicas, p)
		}
	}
	for _, r := range replicas {
		if r.PrimaryID == "" {
			r.PrimaryID = sh.Primary.ID
		}
	}
	sh.Replicas = replicas
	sh.Ranges = mergeRanges(ranges)
	return sh, skipped, true, nil
}

// betterPrimary orders competing primaries of one shard: healthy first,
// then the highest replication offset.
func betterPrimary(a, b *Node) bool {
	ah, bh := a.Health != HealthFailed, b.Health != HealthFailed
	if ah != bh {
		return ah
	}
	return a.ReplicationOffset > b.ReplicationOffset
}

// parseSlotPairs reads [start, end, start, end...].
func parseSlotPairs(m *rueidis.RedisMessage, path replyPath) ([]slots.Range, error) {
	arr, err := m.ToArray()
	if err != nil {
		return nil, malformedAt(cmdShards, path, "not an array")
	}
	if len(arr)%2 != 0 {
		return nil, malformedAt(cmdShards, path, "odd number of slot bounds (%d)", len(arr))
	}
	rs := make([]slots.Range, 0, len(arr)/2)
	for k := 0; k < len(arr); k += 2 {
		a, ok1 := msgSlot(&arr[k])
		b, ok2 := msgSlot(&arr[k+1])
		if !ok1 || !ok2 {
			return nil, malformedAt(cmdShards, path.with(fmt.Sprintf("[%d]", k)), "slot bound is not an integer in 0-%d", slots.Max)
		}
		if a > b {
			return nil, malformedAt(cmdShards, path.with(fmt.Sprintf("[%d]", k)), "range %d-%d is reversed", a, b)
		}
		rs = append(rs, slots.Range{Start: a, End: b})
	}
	return rs, nil
}

// parseShardNode decodes node j of shard i. known is false for a "?"
// endpoint.
func parseShardNode(m *rueidis.RedisMessage, i, j int, answered string) (*Node, bool, error) {
	path := replyPath{shard: i, node: j}
	fields, err := m.AsMap()
	if err != nil {
		return nil, false, malformedAt(cmdShards, path, "not a map or even key/value array")
	}
	n := &Node{Health: HealthUnknown}
	str := func(key string, dst *string, required bool) error {
		f, has := fields[key]
		if !has {
			if required {
				return malformedAt(cmdShards, path, "no %q field", key)
			}
			return nil
		}
		s, ok := msgString(&f)
		if !ok {
			return malformedAt(cmdShards, path.with(key), "not a string")
		}
		*dst = s
		return nil
	}
	num := func(key string) (int64, bool, error) {
		f, has := fields[key]
		if !has {
			return 0, false, nil
		}
		x, ok := msgInt(&f)
		if !ok {
			return 0, false, malformedAt(cmdShards, path.with(key), "not an integer")
		}
		return x, true, nil
	}
	var role, health, endpoint string
	hasEndpoint := false
	if _, hasEndpoint = fields["endpoint"]; hasEndpoint {
		if f := fields["endpoint"]; f.IsNil() {
			endpoint = "?"
		} else if err := str("endpoint", &endpoint, false); err != nil {
			return nil, false, err
		}
	}
	if err := firstErr(
		str("id", &n.ID, true),
		str("ip", &n.IP, false),
		str("hostname", &n.Hostname, false),
		str("role", &role, true),
		str("health", &health, false),
	); err != nil {
		return nil, false, err
	}
	if n.ID == "" {
		return nil, false, malformedAt(cmdShards, path.with("id"), "empty node id")
	}
	port, hasPort, err := num("port")
	if err != nil {
		return nil, false, err
	}
	tls, hasTLS, err := num("tls-port")
	if err != nil {
		return nil, false, err
	}
	if !hasPort && !hasTLS {
		return nil, false, malformedAt(cmdShards, path, "neither \"port\" nor \"tls-port\"")
	}
	if !validPort(port) || !validPort(tls) {
		return nil, false, malformedAt(cmdShards, path, "port out of range (%d, tls %d)", port, tls)
	}
	n.Port, n.TLSPort = int(port), int(tls)
	if off, has, err := num("replication-offset"); err != nil {
		return nil, false, err
	} else if has {
		n.ReplicationOffset = off
	}
	switch role {
	case "master", "primary":
		n.Role = RolePrimary
	case "replica", "slave":
		n.Role = RoleReplica
	default:
		return nil, false, malformedAt(cmdShards, path.with("role"), "unknown role %q", role)
	}
	switch health {
	case "online":
		n.Health = HealthOnline
	case "failed", "fail":
		n.Health = HealthFailed
	case "loading":
		n.Health = HealthLoading
	case "":
		n.Health = HealthUnknown
	default:
		return nil, false, malformedAt(cmdShards, path.with("health"), "unknown health %q", health)
	}
	if !hasEndpoint {
		endpoint = n.IP
	}
	host, known := resolveEndpoint(endpoint, answered)
	if !known {
		return n, false, nil
	}
	n.Endpoint = host
	if !finishNode(n) {
		return n, false, nil
	}
	return n, true, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// replyPath locates an element of a CLUSTER SHARDS reply for error
// messages; it is formatted only when an error is built.
type replyPath struct {
	shard, node int
	field       string
}

func (p replyPath) with(field string) replyPath {
	if p.field != "" && field[0] != '[' {
		field = "." + field
	}
	p.field += field
	return p
}

func (p replyPath) String() string {
	s := fmt.Sprintf("shard[%d]", p.shard)
	if p.node >= 0 {
		s += fmt.Sprintf(".nodes[%d]", p.node)
	}
	if p.field != "" {
		if p.field[0] != '[' {
			s += "."
		}
		s += p.field
	}
	return s
}

// malformedAt is malformed with a lazily formatted path.
func malformedAt(cmd string, p replyPath, format string, args ...any) error {
	return malformed(cmd, p.String(), format, args...)
}
