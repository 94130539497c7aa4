package topology

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// AddrMapper maps the address a node announces ("host:port" as it appears in
// CLUSTER SHARDS, CLUSTER SLOTS and CLUSTER NODES replies and in MOVED and
// ASK redirects) to the address the library dials. It is the one
// address-mapping hook of the library: the Refresher applies it to every
// node of every topology reply (through Reconcile and ApplyMoved) and the
// router applies it to every redirect target (through Refresher.MapAddr).
//
// Typical uses are a NAT or a port-forward (the cluster announces private
// addresses), a proxy per node, or rewriting hostnames. The function must
// be safe for concurrent use, fast, and deterministic. An empty result
// means "dial the announced address".
type AddrMapper func(announced string) string

// mapAddr applies m to a, keeping a when m is nil or returns "".
func (m AddrMapper) mapAddr(a string) string {
	if m == nil || a == "" {
		return a
	}
	if d := m(a); d != "" {
		return d
	}
	return a
}

// hook returns the mapper as the plain function type part A's options take,
// nil when there is none (so that snapshots keep addresses as announced).
func (m AddrMapper) hook() func(string) string {
	if m == nil {
		return nil
	}
	return m.mapAddr
}

// LookupHostFunc resolves a host name to addresses, like
// (*net.Resolver).LookupHost. The Refresher uses it for seeds given as DNS
// names, again on every fall-back to the seeds, so that a seed name that
// follows the cluster (a Kubernetes headless service, a DNS round robin)
// finds the nodes of today.
type LookupHostFunc func(ctx context.Context, host string) ([]string, error)

// resolveSeeds turns the seed list into dialable addresses: seeds whose host
// is an IP literal are kept; DNS names are resolved with lookup, one address
// per resolved IP. Duplicates are removed, order is kept. A seed that cannot
// be resolved is reported in the joined error but does not stop the others.
func resolveSeeds(ctx context.Context, seeds []string, lookup LookupHostFunc) ([]string, error) {
	var out []string
	var errs []string
	seen := make(map[string]bool, len(seeds))
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, s := range seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("seed %q: %v", s, err))
			continue
		}
		if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil || lookup == nil {
			add(s)
			continue
		}
		ips, err := lookup(ctx, host)
		if err != nil {
			errs = append(errs, fmt.Sprintf("seed %q: %v", s, err))
			continue
		}
		for _, ip := range ips {
			add(net.JoinHostPort(ip, port))
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSeeds, strings.Join(errs, "; "))
	}
	return out, nil
}
