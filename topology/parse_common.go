package topology

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/redis/rueidis"
	"github.com/slotrouter/slotrouter/slots"
)

// malformed wraps ErrMalformedReply with a command and a path to the
// offending element.
func malformed(cmd, path, format string, args ...any) error {
	if path != "" {
		path = " " + path
	}
	return fmt.Errorf("%w: %s%s: %s", ErrMalformedReply, cmd, path, fmt.Sprintf(format, args...))
}

// replyError returns an error when msg is a Redis error or nil reply.
func replyError(cmd string, msg *rueidis.RedisMessage) error {
	if msg.IsNil() {
		return malformed(cmd, "", "nil reply")
	}
	if err := msg.Error(); err != nil {
		var re *rueidis.RedisError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %s: %s", ErrErrorReply, cmd, re.Error())
		}
		return fmt.Errorf("%w: %s: %w", ErrErrorReply, cmd, err)
	}
	return nil
}

// answeredHost returns the host part of the address that answered.
func answeredHost(answered string) (string, bool) {
	if answered == "" {
		return "", false
	}
	h, _, err := net.SplitHostPort(answered)
	if err != nil {
		return answered, true
	}
	if h == "" {
		return "", false
	}
	return h, true
}

// resolveEndpoint applies the endpoint rules: "?" is unknown, "" is the host
// that answered, anything else is used as given.
func resolveEndpoint(endpoint, answered string) (string, bool) {
	switch endpoint {
	case "?":
		return "", false
	case "":
		return answeredHost(answered)
	}
	return endpoint, true
}

// msgInt reads an integer element, accepting RESP integers and decimal
// strings (some proxies stringify).
func msgInt(m *rueidis.RedisMessage) (int64, bool) {
	if m.IsInt64() {
		v, err := m.AsInt64()
		return v, err == nil
	}
	if m.IsString() {
		s, _ := m.ToString()
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	return 0, false
}

// msgString reads a string element (bulk or simple string).
func msgString(m *rueidis.RedisMessage) (string, bool) {
	if !m.IsString() {
		return "", false
	}
	s, err := m.ToString()
	return s, err == nil
}

// msgSlot reads a slot number element.
func msgSlot(m *rueidis.RedisMessage) (slots.Slot, bool) {
	v, ok := msgInt(m)
	if !ok || v < 0 || v > int64(slots.Max) {
		return 0, false
	}
	return slots.Slot(v), true
}

// validPort reports whether p is a usable TCP port (0 allowed: unset).
func validPort(p int64) bool { return p >= 0 && p <= 65535 }

// finishNode sets Announced/Addr of a parsed node from its endpoint and
// ports. It reports false when the node has no usable port.
func finishNode(n *Node) bool {
	p := n.Port
	if p == 0 {
		p = n.TLSPort
	}
	if p == 0 || n.Endpoint == "" {
		return false
	}
	n.Announced = joinAddr(n.Endpoint, p)
	n.Addr = n.Announced
	return true
}

// mergeRanges sorts and coalesces ranges.
func mergeRanges(rs []slots.Range) []slots.Range {
	if len(rs) < 2 {
		return rs
	}
	s := slots.SetOf(rs...)
	return s.Ranges()
}
