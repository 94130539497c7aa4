package topology

import (
	"fmt"

	"github.com/redis/rueidis"
)

// ParseSlots decodes a CLUSTER SLOTS reply, including the 7.x networking
// metadata (a 4th element per node: map or flat array of hostname/ip),
// given by the node at answered ("host:port").
func ParseSlots(msg rueidis.RedisMessage, answered string) (View, error) {
	return View{}, fmt.Errorf("%w: not implemented yet", ErrMalformedReply) // TODO(part A)
}
