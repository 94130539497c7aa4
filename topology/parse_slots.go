package topology

import (
	"fmt"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/slots"
)

const cmdSlots = "CLUSTER SLOTS"

// ParseSlots decodes a CLUSTER SLOTS reply given by the node at answered
// ("host:port"), including the 7.x networking metadata (a 4th element per
// node: a RESP3 map or RESP2 flat array with "hostname" and/or "ip").
//
// Each entry is [start, end, primary, replica...], a node being
// [endpoint, port, id, metadata]. Entries with the same primary are merged
// into one shard. An empty endpoint means the answering host; "?" or a nil
// endpoint skips that node (a skipped primary leaves the entry's slots
// unclaimed). CLUSTER SLOTS carries no health or epoch: nodes get
// HealthUnknown and EpochKnown false (see View.AttachEpochs).
func ParseSlots(msg rueidis.RedisMessage, answered string) (View, error) {
	if err := replyError(cmdSlots, &msg); err != nil {
		return View{}, err
	}
	arr, err := msg.ToArray()
	if err != nil {
		return View{}, malformed(cmdSlots, "", "reply is not an array")
	}
	v := View{Source: SourceSlots, Answered: answered}
	byPrimary := make(map[string]int)
	for i := range arr {
		path := fmt.Sprintf("entry[%d]", i)
		entry, err := arr[i].ToArray()
		if err != nil {
			return View{}, malformed(cmdSlots, path, "not an array")
		}
		if len(entry) < 3 {
			return View{}, malformed(cmdSlots, path, "%d elements, want start, end and a primary", len(entry))
		}
		a, ok1 := msgSlot(&entry[0])
		b, ok2 := msgSlot(&entry[1])
		if !ok1 || !ok2 {
			return View{}, malformed(cmdSlots, path, "slot bound is not an integer in 0-%d", slots.Max)
		}
		if a > b {
			return View{}, malformed(cmdSlots, path, "range %d-%d is reversed", a, b)
		}
		var nodes []*Node
		for j := 2; j < len(entry); j++ {
			n, known, err := parseSlotsNode(&entry[j], fmt.Sprintf("%s[%d]", path, j), answered)
			if err != nil {
				return View{}, err
			}
			if !known {
				v.Skipped++
				if j == 2 {
					// Unknown primary: the entry's slots stay unclaimed, and
					// its replicas cannot be attached to anything.
					v.Skipped += len(entry) - 3
					break
				}
				continue
			}
			if j == 2 {
				n.Role = RolePrimary
			} else {
				n.Role = RoleReplica
			}
			nodes = append(nodes, n)
		}
		if len(nodes) == 0 {
			continue
		}
		p := nodes[0]
		r := slots.Range{Start: a, End: b}
		if k, seen := byPrimary[p.Key()]; seen {
			sh := &v.Shards[k]
			sh.Ranges = append(sh.Ranges, r)
			have := make(map[string]bool, len(sh.Replicas))
			for _, x := range sh.Replicas {
				have[x.Key()] = true
			}
			for _, x := range nodes[1:] {
				if !have[x.Key()] {
					x.PrimaryID = p.ID
					sh.Replicas = append(sh.Replicas, x)
				}
			}
			continue
		}
		for _, x := range nodes[1:] {
			x.PrimaryID = p.ID
		}
		byPrimary[p.Key()] = len(v.Shards)
		v.Shards = append(v.Shards, Shard{Primary: p, Replicas: nodes[1:], Ranges: []slots.Range{r}})
	}
	for i := range v.Shards {
		v.Shards[i].Ranges = mergeRanges(v.Shards[i].Ranges)
	}
	return v, nil
}

// parseSlotsNode decodes [endpoint, port, id?, metadata?].
func parseSlotsNode(m *rueidis.RedisMessage, path, answered string) (*Node, bool, error) {
	arr, err := m.ToArray()
	if err != nil {
		return nil, false, malformed(cmdSlots, path, "node is not an array")
	}
	if len(arr) < 2 {
		return nil, false, malformed(cmdSlots, path, "node has %d elements, want endpoint and port", len(arr))
	}
	n := &Node{}
	var endpoint string
	if arr[0].IsNil() {
		endpoint = "?"
	} else {
		s, ok := msgString(&arr[0])
		if !ok {
			return nil, false, malformed(cmdSlots, path+"[0]", "endpoint is not a string")
		}
		endpoint = s
	}
	port, ok := msgInt(&arr[1])
	if !ok || port <= 0 || port > 65535 {
		return nil, false, malformed(cmdSlots, path+"[1]", "port is not an integer in 1-65535")
	}
	n.Port = int(port)
	if len(arr) > 2 {
		id, ok := msgString(&arr[2])
		if !ok {
			return nil, false, malformed(cmdSlots, path+"[2]", "node id is not a string")
		}
		n.ID = id
	}
	if len(arr) > 3 && !arr[3].IsNil() {
		meta, err := arr[3].AsMap()
		if err != nil {
			return nil, false, malformed(cmdSlots, path+"[3]", "metadata is not a map or even key/value array")
		}
		for key, val := range meta {
			s, ok := msgString(&val)
			if !ok {
				return nil, false, malformed(cmdSlots, path+"[3]."+key, "not a string")
			}
			switch key {
			case "hostname":
				n.Hostname = s
			case "ip":
				n.IP = s
			}
		}
	}
	host, known := resolveEndpoint(endpoint, answered)
	if !known {
		return n, false, nil
	}
	n.Endpoint = host
	if n.IP == "" && n.Hostname != host {
		// Without metadata the endpoint is the IP unless it is the hostname.
		n.IP = host
	}
	if !finishNode(n) {
		return n, false, nil
	}
	return n, true, nil
}
