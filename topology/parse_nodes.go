package topology

import (
	"fmt"

	"github.com/redis/rueidis"
	"net"
	"strconv"
	"strings"

	"github.com/slotrouter/slotrouter/slots"
)

const cmdNodes = "CLUSTER NODES"

// ParseNodes decodes CLUSTER NODES text given by the node at answered
// ("host:port"; "" for saved output, then a node with an empty IP is
// skipped). Each line is
//
//	id ip:port@cport[,hostname[,key=value...]] flags primary-id ping-sent pong-recv config-epoch link-state [slot ...]
//
// where a slot is "N", "N-M", "[N->-id]" (migrating) or "[N-<-id]"
// (importing). Every node carries its config epoch (EpochKnown), so views
// from CLUSTER NODES reconcile by epoch. Nodes flagged handshake or noaddr,
// or with an unknown address, are kept in Facts but skipped from Shards;
// nodes flagged fail get HealthFailed (fail? is only a suspicion: see
// NodeFacts.PFail). Replicas whose primary is not in the view are skipped.
//
// RESP3 delivers CLUSTER NODES as a verbatim string; a leading "txt:"
// format prefix, which rueidis keeps, is ignored.
func ParseNodes(text string, answered string) (View, error) {
	text = strings.TrimPrefix(text, "txt:")
	v := View{Source: SourceNodes, Answered: answered}
	seen := make(map[string]bool)
	lineNo := 0
	for rest := text; rest != ""; {
		var line string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, ""
		}
		lineNo++
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f, err := parseNodesLine(line, answered)
		if err != nil {
			return View{}, fmt.Errorf("%w (line %d)", err, lineNo)
		}
		if seen[f.ID] {
			return View{}, malformed(cmdNodes, fmt.Sprintf("line %d", lineNo), "node %s listed twice", f.ID)
		}
		seen[f.ID] = true
		if f.Myself {
			v.MyID = f.ID
		}
		v.Facts = append(v.Facts, f)
	}
	if len(v.Facts) == 0 {
		return View{}, malformed(cmdNodes, "", "no node lines")
	}
	// Shards: primaries in reply order, replicas attached by primary id.
	index := make(map[string]int)
	for i := range v.Facts {
		f := &v.Facts[i]
		if !f.Primary || !usableFacts(f) {
			continue
		}
		n := f.Node
		index[f.ID] = len(v.Shards)
		sh := Shard{Primary: &n, Ranges: mergeRanges(append([]slots.Range(nil), f.Ranges...))}
		if id := f.Aux["shard-id"]; id != "" {
			sh.ID = id
		}
		v.Shards = append(v.Shards, sh)
	}
	for i := range v.Facts {
		f := &v.Facts[i]
		if f.Primary {
			if !usableFacts(f) {
				v.Skipped++
			}
			continue
		}
		k, ok := index[f.PrimaryID]
		if !usableFacts(f) || !ok {
			v.Skipped++
			continue
		}
		n := f.Node
		v.Shards[k].Replicas = append(v.Shards[k].Replicas, &n)
	}
	return v, nil
}

// usableFacts reports whether a node can be placed in a shard.
func usableFacts(f *NodeFacts) bool {
	return !f.Handshake && !f.NoAddr && f.Announced != ""
}

func parseNodesLine(line, answered string) (NodeFacts, error) {
	fields := strings.Fields(line)
	short := line
	if len(short) > 60 {
		short = short[:60] + "..."
	}
	if len(fields) < 8 {
		return NodeFacts{}, malformed(cmdNodes, "", "%d fields, want at least 8: %q", len(fields), short)
	}
	f := NodeFacts{Line: line}
	f.ID = fields[0]
	if !validNodeID(f.ID) {
		return NodeFacts{}, malformed(cmdNodes, "", "bad node id %q", f.ID)
	}
	if err := parseNodesAddr(&f, fields[1]); err != nil {
		return NodeFacts{}, err
	}
	f.Flags = strings.Split(fields[2], ",")
	for _, fl := range f.Flags {
		switch fl {
		case "myself":
			f.Myself = true
		case "master":
			f.Primary = true
		case "slave":
			f.Replica = true
		case "fail?":
			f.PFail = true
		case "fail":
			f.Fail = true
		case "handshake":
			f.Handshake = true
		case "noaddr":
			f.NoAddr = true
		case "nofailover":
			f.NoFailover = true
		case "noflags", "":
		}
	}
	if f.Primary && f.Replica {
		return NodeFacts{}, malformed(cmdNodes, "", "node %s is both master and slave", f.ID)
	}
	if fields[3] != "-" {
		if !validNodeID(fields[3]) {
			return NodeFacts{}, malformed(cmdNodes, "", "bad primary id %q", fields[3])
		}
		f.PrimaryID = fields[3]
	}
	if f.Replica && f.PrimaryID == "" {
		return NodeFacts{}, malformed(cmdNodes, "", "replica %s has no primary id", f.ID)
	}
	var err error
	if f.PingSent, err = strconv.ParseInt(fields[4], 10, 64); err != nil {
		return NodeFacts{}, malformed(cmdNodes, "", "bad ping-sent %q", fields[4])
	}
	if f.PongRecv, err = strconv.ParseInt(fields[5], 10, 64); err != nil {
		return NodeFacts{}, malformed(cmdNodes, "", "bad pong-recv %q", fields[5])
	}
	if f.ConfigEpoch, err = strconv.ParseUint(fields[6], 10, 64); err != nil {
		return NodeFacts{}, malformed(cmdNodes, "", "bad config-epoch %q", fields[6])
	}
	f.EpochKnown = true
	f.LinkState = fields[7]
	if f.LinkState != "connected" && f.LinkState != "disconnected" {
		return NodeFacts{}, malformed(cmdNodes, "", "bad link-state %q", f.LinkState)
	}
	for _, tok := range fields[8:] {
		if strings.HasPrefix(tok, "[") {
			m, importing, err := parseMigration(tok)
			if err != nil {
				return NodeFacts{}, err
			}
			if importing {
				f.Importing = append(f.Importing, m)
			} else {
				f.Migrating = append(f.Migrating, m)
			}
			continue
		}
		r, err := slots.ParseRange(tok)
		if err != nil {
			return NodeFacts{}, malformed(cmdNodes, "", "node %s: bad slot range %q", f.ID, tok)
		}
		f.Ranges = append(f.Ranges, r)
	}
	if len(f.Ranges) > 0 && !f.Primary {
		return NodeFacts{}, malformed(cmdNodes, "", "node %s serves slots but is not a master", f.ID)
	}
	switch {
	case f.Primary:
		f.Role = RolePrimary
	case f.Replica:
		f.Role = RoleReplica
	}
	f.Health = HealthOnline
	if f.Fail {
		f.Health = HealthFailed
	}
	if f.Myself && f.Endpoint == "" {
		if h, ok := answeredHost(answered); ok {
			f.Endpoint = h
			f.IP = h
		}
	}
	if f.Endpoint != "" && !f.NoAddr {
		finishNode(&f.Node)
	}
	return f, nil
}

// parseNodesAddr decodes "ip:port@cport[,hostname[,key=value...]]".
func parseNodesAddr(f *NodeFacts, s string) error {
	addr, aux, _ := strings.Cut(s, ",")
	if aux != "" || strings.Contains(s, ",") {
		for i, part := range strings.Split(aux, ",") {
			if k, val, ok := strings.Cut(part, "="); ok {
				if f.Aux == nil {
					f.Aux = make(map[string]string)
				}
				f.Aux[k] = val
				continue
			}
			if i == 0 {
				f.Hostname = part
			}
		}
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		bus, err := strconv.Atoi(addr[i+1:])
		if err != nil || !validPort(int64(bus)) {
			return malformed(cmdNodes, "", "node %s: bad bus port in %q", f.ID, s)
		}
		f.BusPort = bus
		addr = addr[:i]
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return malformed(cmdNodes, "", "node %s: address %q has no port", f.ID, s)
	}
	host, portStr := addr[:i], addr[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	port, err := strconv.Atoi(portStr)
	if err != nil || !validPort(int64(port)) {
		return malformed(cmdNodes, "", "node %s: bad port in %q", f.ID, s)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " []") {
		return malformed(cmdNodes, "", "node %s: bad host in %q", f.ID, s)
	}
	f.IP = host
	f.Endpoint = host
	f.Port = port
	if tls, ok := f.Aux["tls-port"]; ok {
		if p, err := strconv.Atoi(tls); err == nil && validPort(int64(p)) {
			f.TLSPort = p
		}
	}
	return nil
}

// parseMigration decodes "[N->-id]" (migrating) or "[N-<-id]" (importing).
func parseMigration(tok string) (SlotMigration, bool, error) {
	bad := func() (SlotMigration, bool, error) {
		return SlotMigration{}, false, malformed(cmdNodes, "", "bad open-slot marker %q", tok)
	}
	if len(tok) < 2 || tok[len(tok)-1] != ']' {
		return bad()
	}
	body := tok[1 : len(tok)-1]
	var num, id string
	var importing bool
	if a, b, ok := strings.Cut(body, "->-"); ok {
		num, id = a, b
	} else if a, b, ok := strings.Cut(body, "-<-"); ok {
		num, id, importing = a, b, true
	} else {
		return bad()
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > int(slots.Max) || !validNodeID(id) {
		return bad()
	}
	return SlotMigration{Slot: slots.Slot(n), NodeID: id}, importing, nil
}

// validNodeID accepts a non-empty run of letters and digits (Redis uses 40
// hex characters; tests and tools often use shorter ones).
func validNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// ParseNodesReply decodes a CLUSTER NODES reply message (RESP2 bulk string
// or RESP3 verbatim string) with ParseNodes. A Redis error reply gives an
// error wrapping ErrErrorReply; a non-string reply one wrapping
// ErrMalformedReply.
func ParseNodesReply(msg rueidis.RedisMessage, answered string) (View, error) {
	if err := replyError(cmdNodes, &msg); err != nil {
		return View{}, err
	}
	if msg.IsArray() || msg.IsMap() || msg.IsInt64() || msg.IsBool() || msg.IsFloat64() {
		return View{}, malformed(cmdNodes, "", "reply is not a string")
	}
	text, err := msg.ToString()
	if err != nil {
		return View{}, malformed(cmdNodes, "", "reply is not a string")
	}
	return ParseNodes(text, answered)
}
