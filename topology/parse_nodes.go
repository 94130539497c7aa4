package topology

import "fmt"

// ParseNodes decodes CLUSTER NODES text given by the node at answered
// ("host:port"; may be "" for saved output, then nodes with an empty
// address are skipped). The view carries config epochs, and Facts the raw
// per-node facts (flags, primary id, link state, migrating and importing
// slots).
func ParseNodes(text string, answered string) (View, error) {
	return View{}, fmt.Errorf("%w: not implemented yet", ErrMalformedReply) // TODO(part A)
}
