package retry

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// NumSlots is the number of hash slots in a Redis Cluster; a redirect's
// slot is always below it.
const NumSlots = 16384

// ErrMalformedRedirect is wrapped by every error ParseRedirect returns for
// input that is not a well-formed MOVED or ASK reply.
var ErrMalformedRedirect = errors.New("retry: malformed redirect")

// ErrUnknownEndpoint is returned by ParseRedirect for a well-formed
// redirect whose host is "?": the server knows the slot's owner but not an
// endpoint to reach it (cluster-preferred-endpoint-type is hostname and the
// node has none). The returned Redirect still carries Kind and Slot, so the
// caller can refresh the topology and look the slot up there.
var ErrUnknownEndpoint = errors.New("retry: redirect to unknown endpoint")

// Redirect is a parsed MOVED or ASK reply.
type Redirect struct {
	// Kind is KindMoved or KindAsk.
	Kind Kind
	// Slot is the hash slot, below NumSlots.
	Slot uint16
	// Addr is the target, ready for net.Dial: "host:port", with IPv6
	// hosts bracketed ("[::1]:6381"). An empty host (Addr ":6381") means
	// "the same endpoint as the node that replied"; see SameEndpoint and
	// Resolve.
	Addr string
}

// SameEndpoint reports whether the redirect's host was empty, which per the
// cluster spec means the target is reachable at the same host as the node
// that sent the redirect (only the port is given).
func (r Redirect) SameEndpoint() bool { return len(r.Addr) > 0 && r.Addr[0] == ':' }

// Resolve returns the address to dial for r, given the address of the node
// that sent the redirect. When the redirect named a host, that is r.Addr
// unchanged; when the host was empty, it is answeredAddr's host with r's
// port. If answeredAddr has no port it is taken as a bare host.
func (r Redirect) Resolve(answeredAddr string) string {
	if !r.SameEndpoint() {
		return r.Addr
	}
	host, _, err := net.SplitHostPort(answeredAddr)
	if err != nil {
		host = answeredAddr
		if n := len(host); n >= 2 && host[0] == '[' && host[n-1] == ']' {
			host = host[1 : n-1]
		}
	}
	return net.JoinHostPort(host, r.Addr[1:])
}

// String formats r as a server reply line ("MOVED 3999 127.0.0.1:6381");
// ParseRedirect(r.String()) returns r again.
func (r Redirect) String() string {
	return r.Kind.String() + " " + strconv.Itoa(int(r.Slot)) + " " + r.Addr
}

// maxHostLen bounds the host part of a redirect (DNS names are at most 253
// bytes; IPv6 literals with a zone are far shorter).
const maxHostLen = 255

// ParseRedirect parses a server error line of the form
// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (without the
// leading '-' and without CRLF). Fields are separated by exactly one
// space; the slot and port are ASCII decimal numbers (slot < 16384,
// 1 <= port <= 65535). The host is everything before the LAST colon, and
// may be:
//
//   - an IPv4 address or a hostname (letters, digits, '.', '-', '_');
//   - an IPv6 address, bare ("::1:6381") or bracketed ("[::1]:6381"); the
//     returned Addr is always bracketed;
//   - empty (":6381"): the same host as the replying node (see Resolve);
//   - "?": unknown endpoint; the error is ErrUnknownEndpoint.
//
// Any other input returns an error wrapping ErrMalformedRedirect that says
// what is wrong. ParseRedirect never panics, and for a valid reply whose
// host is not a bare IPv6 address it does not allocate (Addr is a substring
// of msg).
func ParseRedirect(msg string) (Redirect, error) {
	var r Redirect
	sp := indexSpace(msg)
	word := msg
	if sp >= 0 {
		word = msg[:sp]
	}
	switch word {
	case "MOVED":
		r.Kind = KindMoved
	case "ASK":
		r.Kind = KindAsk
	default:
		return Redirect{}, malformed("not a MOVED or ASK reply", msg)
	}
	if sp < 0 {
		return Redirect{}, malformed("missing slot and address", msg)
	}
	rest := msg[sp+1:]
	sp = indexSpace(rest)
	if sp < 0 {
		return Redirect{}, malformed("missing address", msg)
	}
	slotText, addr := rest[:sp], rest[sp+1:]

	slot, ok := parseDecimal(slotText, NumSlots-1)
	switch {
	case slotText == "":
		return Redirect{}, malformed("empty slot", msg)
	case !ok && !allDigits(slotText):
		return Redirect{}, malformed(fmt.Sprintf("slot %q is not a decimal number", clip(slotText)), msg)
	case !ok:
		return Redirect{}, malformed(fmt.Sprintf("slot %s out of range 0-%d", clip(slotText), NumSlots-1), msg)
	}
	r.Slot = uint16(slot)

	if indexSpace(addr) >= 0 {
		return Redirect{}, malformed("extra fields after the address", msg)
	}

	if addr == "" {
		return Redirect{}, malformed("empty address", msg)
	}
	colon := lastColon(addr)
	if colon < 0 {
		return Redirect{}, malformed(fmt.Sprintf("address %q has no port", clip(addr)), msg)
	}
	host, portText := addr[:colon], addr[colon+1:]
	port, ok := parseDecimal(portText, 65535)
	switch {
	case portText == "":
		return Redirect{}, malformed(fmt.Sprintf("address %q has an empty port", clip(addr)), msg)
	case !ok && !allDigits(portText):
		return Redirect{}, malformed(fmt.Sprintf("port %q is not a decimal number", clip(portText)), msg)
	case !ok || port == 0:
		return Redirect{}, malformed(fmt.Sprintf("port %s out of range 1-65535", clip(portText)), msg)
	}

	switch {
	case host == "":
		r.Addr = addr // ":port": same endpoint as the replying node
	case host == "?":
		r.Addr = ""
		return r, fmt.Errorf("%w: %q", ErrUnknownEndpoint, clip(msg))
	case len(host) > maxHostLen:
		return Redirect{}, malformed(fmt.Sprintf("host longer than %d bytes", maxHostLen), msg)
	case host[0] == '[':
		if len(host) < 2 || host[len(host)-1] != ']' || !isIPv6(host[1:len(host)-1]) {
			return Redirect{}, malformed(fmt.Sprintf("host %q is not a bracketed IPv6 address", clip(host)), msg)
		}
		r.Addr = addr
	case lastColon(host) >= 0:
		if !isIPv6(host) {
			return Redirect{}, malformed(fmt.Sprintf("host %q is not a valid IPv6 address", clip(host)), msg)
		}
		r.Addr = "[" + host + "]:" + portText
	default:
		if reason := checkHostname(host); reason != "" {
			return Redirect{}, malformed(reason, msg)
		}
		r.Addr = addr
	}
	return r, nil
}

func malformed(reason, msg string) error {
	return fmt.Errorf("%w: %s (in %q)", ErrMalformedRedirect, reason, clip(msg))
}

// clip shortens s for inclusion in an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func indexSpace(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDecimal parses a non-empty string of ASCII digits whose value is at
// most max. Leading zeros are accepted; the value never overflows because
// parsing stops as soon as it exceeds max.
func parseDecimal(s string, max int) (int, bool) {
	if s == "" {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}

// isIPv6 reports whether s is a textual IPv6 address (optionally with a
// zone made of letters, digits, '.', '-', '_').
func isIPv6(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isHostByte(c) || c == ':' || c == '%') {
			return false
		}
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '_'
}

// checkHostname validates an IPv4 address or a host name and returns why
// it is invalid, or "" when it is fine.
func checkHostname(host string) string {
	numeric := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !isHostByte(c) {
			return fmt.Sprintf("host %q contains invalid byte %q", clip(host), c)
		}
		if c != '.' && (c < '0' || c > '9') {
			numeric = false
		}
	}
	if numeric {
		// Only digits and dots: it must be an IPv4 address, not a name
		// a resolver would try to look up.
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
			return fmt.Sprintf("host %q is not a valid IPv4 address", clip(host))
		}
	}
	return ""
}
