package topology

import (
	"fmt"

	"github.com/redis/rueidis"
)

// ParseShards decodes a CLUSTER SHARDS reply (RESP2 flat key/value arrays or
// RESP3 maps) given by the node at answered ("host:port"). An empty
// endpoint means the answering host; a "?" endpoint skips that node.
func ParseShards(msg rueidis.RedisMessage, answered string) (View, error) {
	return View{}, fmt.Errorf("%w: not implemented yet", ErrMalformedReply) // TODO(part A)
}
