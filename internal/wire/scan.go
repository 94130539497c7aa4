// Package wire guards the byte stream between the library's rueidis
// connections and a node. rueidis trusts what a node announces: a length
// of 9223372036854775807 or -2 makes its reader call make with it
// (makeslice: len out of range), an aggregate nested a million deep
// overflows the stack, and a reply nobody asked for trips its "protocol
// bug" panic — all inside rueidis's own goroutines, where nothing can
// recover them, so any address the client dials could crash the process.
// (A RESP2 connection in pub/sub mode, whose messages are not pushes, is
// not supported: the library never puts a connection in that mode.)
//
// A guarded connection follows the RESP2/RESP3 framing of the replies
// exactly as rueidis's reader does, and fails the connection with a
// *ProtocolError (before rueidis sees the offending bytes) when a reply
// announces a length or element count beyond Limits, a negative length
// rueidis would allocate, nesting deeper than Limits.MaxDepth, or a reply
// (other than a RESP3 push) when no command is waiting for one. rueidis
// then fails the calls on that connection with the error, like any broken
// connection.
//
// A guarded connection that callers share (commands in flight when it is
// written) also yields the processor once after each write, so that the
// commands of callers whose replies just arrived go in the next write
// together (Conn.Write), unless a recent yield took long (the processors
// are saturated); DialerNoYield makes connections that never yield.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/slotrouter/slotrouter/retry"
)

// Defaults of Limits.
const (
	// DefaultMaxBulk is Redis's default proto-max-bulk-len: 512 MiB.
	DefaultMaxBulk = 512 << 20
	// DefaultMaxElements bounds one aggregate: 16,777,216 elements (a map
	// counts two per entry), about 800 MB of rueidis messages.
	DefaultMaxElements = 1 << 24
	// DefaultMaxDepth bounds the nesting of aggregates.
	DefaultMaxDepth = 1024
)

// Limits bounds what a node may announce in its replies. The zero value
// of each field means its default; negative values are refused by Check.
type Limits struct {
	// MaxBulk is the largest bulk string, verbatim string, blob error or
	// streamed chunk, in bytes, and the longest simple line (default
	// DefaultMaxBulk).
	MaxBulk int64
	// MaxElements is the largest element count of one array, set, push or
	// map (a map of n entries counts 2n) (default DefaultMaxElements).
	MaxElements int64
	// MaxDepth is the deepest nesting of aggregates (default
	// DefaultMaxDepth).
	MaxDepth int
}

// Largest values Check accepts.
const (
	maxMaxBulk     = 1 << 40 // 1 TiB
	maxMaxElements = 1 << 40
	maxMaxDepth    = 1 << 20
)

// Check refuses negative or absurd limits, naming the field (prefixed by
// name).
func (l Limits) Check(name string) error {
	switch {
	case l.MaxBulk < 0 || l.MaxBulk > maxMaxBulk:
		return fmt.Errorf("%s.MaxBulk: %d is not within 0..%d", name, l.MaxBulk, int64(maxMaxBulk))
	case l.MaxElements < 0 || l.MaxElements > maxMaxElements:
		return fmt.Errorf("%s.MaxElements: %d is not within 0..%d", name, l.MaxElements, int64(maxMaxElements))
	case l.MaxDepth < 0 || l.MaxDepth > maxMaxDepth:
		return fmt.Errorf("%s.MaxDepth: %d is not within 0..%d", name, l.MaxDepth, maxMaxDepth)
	}
	return nil
}

// WithDefaults returns l with every zero (or negative) field set to its
// default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	l.MaxBulk = min(l.MaxBulk, maxMaxBulk) // n+2 never overflows
	l.MaxElements = min(l.MaxElements, maxMaxElements)
	l.MaxDepth = min(l.MaxDepth, maxMaxDepth)
	return l
}

// ErrProtocol is wrapped by every *ProtocolError.
var ErrProtocol = errors.New("slotrouter: protocol violation by a node")

// ProtocolError is a reply that breaks RESP framing or the limits; the
// connection is failed with it.
type ProtocolError struct {
	// Addr is the node's address as dialed.
	Addr string
	// Offset is the offset of the offending byte in the node's stream.
	Offset int64
	// Reason says what was wrong.
	Reason string
}

// Error names the node, the offset and the reason.
func (e *ProtocolError) Error() string {
	return "slotrouter: protocol violation by node " + e.Addr + " at byte " +
		strconv.FormatInt(e.Offset, 10) + ": " + e.Reason + " (connection closed)"
}

// Is makes errors.Is(err, ErrProtocol) hold.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// RetryKind classifies the error as a connection error (retry.Kinder).
func (e *ProtocolError) RetryKind() retry.Kind { return retry.KindConn }

// Scanner states.
const (
	stType       = iota // a type byte is next
	stHeader            // in a length/count line
	stLine              // in a simple line (until '\n')
	stSkip              // skipping s.skip bytes, then the item is complete
	stChunkType         // a streamed string: the next chunk's marker byte
	stChunkHead         // a streamed string: the chunk's length line
	stChunkSkip         // a streamed string: skipping a chunk's bytes
	maxHeaderLen = 32   // longest length line accepted ("-9223372036854775808\r\n" is 22)
)

// frame is an open aggregate: how many elements are left (-1 for a
// streamed aggregate, which ends at a '.' element), and whether it is an
// attribute (whose completion is not an element of its parent).
type frame struct {
	left int64
	attr bool
}

// scanner follows RESP framing as rueidis's reader does (resp.go of
// rueidis v1.0.79) and reports violations. It is not safe for concurrent
// use; one direction of one connection owns one.
type scanner struct {
	lim    Limits
	st     uint8
	typ    byte
	hdr    [maxHeaderLen]byte
	hn     int
	skip   int64 // bytes left to skip (stSkip, stChunkSkip)
	line   int64 // bytes of the current simple line so far
	frames []frame
	off    int64 // bytes consumed so far
	// top is called when a top-level item that is a reply (not a push,
	// not an attribute) begins; a non-empty result is a violation.
	top  func(typ byte) string
	addr string // for errors
	err  error  // sticky

	// first, when not nil, is called with the content of the first
	// element of every top-level aggregate of type firstOf (when it is a
	// string of at most len(capBuf) bytes; nil otherwise), the aggregate's
	// element count (-1: streamed) and whether that element was a
	// streamed string (whose content is not captured); a non-empty result
	// is a violation.
	first    func(content []byte, count int64, streamed bool) string
	firstOf  byte
	capState uint8 // capNone, capPending (the next item is the first element), capActive
	capCount int64
	capLen   int64 // a bulk's declared length; -1 for a simple line
	capN     int
	capBuf   [32]byte
}

// Capture states (scanner.capState).
const (
	capNone = iota
	capPending
	capActive
)

// capture keeps the first bytes of the first element's content.
func (s *scanner) capture(b []byte) {
	s.capN += copy(s.capBuf[min(s.capN, len(s.capBuf)):], b)
}

// captured ends a capture and asks first about it.
func (s *scanner) captured() error {
	s.capState = capNone
	var content []byte
	n := s.capLen
	if n == -1 { // a simple line: its bytes up to CRLF
		n = int64(s.capN) - 2
	}
	if n >= 0 && n <= int64(len(s.capBuf)) && int64(s.capN) >= n {
		content = s.capBuf[:n]
	}
	if reason := s.first(content, s.capCount, s.capLen == -2); reason != "" {
		return s.fail(reason)
	}
	return nil
}

func newScanner(lim Limits, addr string, top func(byte) string) *scanner {
	return &scanner{lim: lim.WithDefaults(), addr: addr, top: top}
}

func (s *scanner) fail(reason string) error {
	s.err = &ProtocolError{Addr: s.addr, Offset: s.off, Reason: reason}
	return s.err
}

// feed consumes p. After an error every feed returns it again.
func (s *scanner) feed(p []byte) error {
	if s.err != nil {
		return s.err
	}
	for i := 0; i < len(p); {
		if s.st == stType && len(s.frames) == 0 {
			// A whole simple top-level reply, the usual case, in one pass
			// (anything else, or a cut one, is the state machine's).
			if next := s.simpleReply(p, i); next > 0 {
				s.off += int64(next - i)
				i = next
				continue
			} else if next < 0 {
				return s.err
			}
		}
		switch s.st {
		case stSkip, stChunkSkip:
			n := min(int64(len(p)-i), s.skip)
			if s.capState == capActive {
				s.capture(p[i : i+int(n)])
			}
			s.skip -= n
			i += int(n)
			s.off += n
			if s.skip == 0 {
				if s.st == stChunkSkip {
					s.st = stChunkType
				} else if err := s.complete(); err != nil {
					return err
				}
			}
			continue
		case stLine:
			j := indexNL(p[i:])
			if s.capState == capActive {
				if j < 0 {
					s.capture(p[i:])
				} else {
					s.capture(p[i : i+j+1])
				}
			}
			if j < 0 {
				s.line += int64(len(p) - i)
				s.off += int64(len(p) - i)
				if s.line > s.lim.MaxBulk {
					return s.fail("a simple line longer than MaxBulk")
				}
				i = len(p)
				continue
			}
			s.line += int64(j + 1)
			s.off += int64(j + 1)
			i += j + 1
			if s.line > s.lim.MaxBulk+2 {
				return s.fail("a simple line longer than MaxBulk")
			}
			if err := s.complete(); err != nil {
				return err
			}
			continue
		}
		var err error
		switch s.st {
		case stType:
			b := p[i]
			i++
			s.off++
			err = s.begin(b)
		case stHeader, stChunkHead:
			if s.st == stHeader && s.hn == 0 {
				// The usual case: a non-negative length whose line is
				// whole in p, read in one pass (header in cmdscan.go).
				if n, next := header(p, i); next > 0 {
					s.off += int64(next - i)
					i = next
					err = s.headerNum(n, false)
					break
				}
			}
			// The length line: usually whole in p; else gathered in hdr.
			j := indexNL(p[i:])
			if j < 0 {
				n := len(p) - i
				if s.hn+n > maxHeaderLen {
					return s.fail("a length line longer than " + strconv.Itoa(maxHeaderLen) + " bytes")
				}
				copy(s.hdr[s.hn:], p[i:])
				s.hn += n
				s.off += int64(n)
				i = len(p)
				continue
			}
			line := p[i : i+j+1]
			if s.hn > 0 || len(line) > maxHeaderLen {
				if s.hn+len(line) > maxHeaderLen {
					return s.fail("a length line longer than " + strconv.Itoa(maxHeaderLen) + " bytes")
				}
				copy(s.hdr[s.hn:], line)
				line = s.hdr[:s.hn+len(line)]
			}
			i += j + 1
			s.off += int64(j + 1)
			s.hn = 0
			if s.st == stHeader {
				err = s.header(line)
			} else {
				err = s.chunkHeader(line)
			}
		case stChunkType:
			// rueidis discards this byte unread (it should be ';').
			i++
			s.off++
			s.st, s.hn = stChunkHead, 0
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func indexNL(p []byte) int { return bytes.IndexByte(p, '\n') }

// simpleReply reads the top-level reply at p[i:] when it is a bulk string
// of a non-negative length or a simple line ('+', '-', ':') whole in p
// and within the limits, as feed would: it returns the index after it,
// having told top. It returns 0 for anything else (feed's state machine
// reads it, and fails where it fails), and -1 when top refused it (s.err
// set).
func (s *scanner) simpleReply(p []byte, i int) int {
	b := p[i]
	var next int
	switch b {
	case '$':
		n, j := header(p, i+1)
		if j == 0 || n > s.lim.MaxBulk || n > int64(len(p)-j-2) {
			return 0
		}
		next = j + int(n) + 2
	case '+', '-', ':':
		k := indexNL(p[i+1:])
		if k < 0 || int64(k+2) > s.lim.MaxBulk+2 {
			return 0
		}
		next = i + k + 2
	default:
		return 0
	}
	if s.top != nil {
		if reason := s.top(b); reason != "" {
			s.off++ // as begin: after the type byte
			s.fail(reason)
			return -1
		}
	}
	return next
}

// begin starts an item of type b.
func (s *scanner) begin(b byte) error {
	if len(s.frames) == 0 && b != '>' && b != '|' && s.top != nil {
		if reason := s.top(b); reason != "" {
			return s.fail(reason)
		}
	}
	if s.capState == capPending {
		s.capState = capNone
		if b == '$' || b == '+' {
			s.capState, s.capN, s.capLen = capActive, 0, -1
		} else if reason := s.first(nil, s.capCount, false); reason != "" {
			return s.fail(reason)
		}
	}
	s.typ = b
	switch b {
	case '$', '!', '=', '*', '~', '>', '%', '|':
		s.st, s.hn = stHeader, 0
	case '+', '-', ':', ',', '(':
		s.st, s.line = stLine, 1
	case '#':
		s.st, s.skip = stSkip, 3 // rueidis: ReadByte, then Discard(2)
	case '_', '.':
		if b == '.' && len(s.frames) > 0 && s.frames[len(s.frames)-1].left < 0 {
			// The end of a streamed aggregate: rueidis reads it as an
			// element, then ends the aggregate.
			s.st, s.skip = stSkip, 2
			s.frames[len(s.frames)-1].left = 0
			return nil
		}
		s.st, s.skip = stSkip, 2
	default:
		return s.fail("unknown type byte " + strconv.Quote(string(rune(b))))
	}
	return nil
}

// number parses a length line the way rueidis's readI does: the line
// without its last two bytes, an optional '-', digits. chunked reports a
// leading '?'.
func (s *scanner) number(line []byte) (n int64, chunked bool, err error) {
	if len(line) < 3 {
		return 0, false, s.fail("a length line without CRLF")
	}
	if line[0] == '?' {
		return 0, true, nil
	}
	neg := false
	if line[0] == '-' {
		neg = true
		line = line[1:]
	}
	line = line[:len(line)-2]
	if len(line) > 19 {
		return 0, false, s.fail("a length beyond int64")
	}
	for _, c := range line {
		if c < '0' || c > '9' {
			return 0, false, s.fail("a length with the byte " + strconv.Quote(string(rune(c))))
		}
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false, s.fail("a length beyond int64")
		}
	}
	if neg {
		n = -n
	}
	return n, false, nil
}

// header handles a complete length line of s.typ.
func (s *scanner) header(line []byte) error {
	n, chunked, err := s.number(line)
	if err != nil {
		return err
	}
	return s.headerNum(n, chunked)
}

// headerNum handles the length n (chunked: '?') of an item of s.typ.
func (s *scanner) headerNum(n int64, chunked bool) error {
	switch s.typ {
	case '$', '!', '=':
		switch {
		case chunked:
			if s.capState == capActive {
				s.capLen = -2 // streamed: not captured
			}
			s.st = stChunkType
			return nil
		case n == -1:
			s.st = stType
			return s.complete()
		case n < 0:
			return s.fail("a negative string length " + strconv.FormatInt(n, 10))
		case n > s.lim.MaxBulk:
			return s.fail("a string of " + strconv.FormatInt(n, 10) + " bytes, beyond MaxBulk")
		}
		if s.capState == capActive {
			s.capLen = n
		}
		s.st, s.skip = stSkip, n+2
		return nil
	}
	// Aggregates.
	count := n
	if s.typ == '%' || s.typ == '|' {
		count = 2 * n
		if !chunked && (n < 0 || n > s.lim.MaxElements/2) {
			return s.fail("a map of " + strconv.FormatInt(n, 10) + " entries")
		}
	}
	switch {
	case chunked:
		count = -1
	case n == -1: // RESP2 null array
		s.st = stType
		if s.typ == '>' && len(s.frames) == 0 && s.top != nil {
			// rueidis reads ">-1" as a null reply, not a push.
			if reason := s.top('_'); reason != "" {
				return s.fail(reason)
			}
		}
		return s.complete()
	case count < 0 || count > s.lim.MaxElements:
		return s.fail("an aggregate of " + strconv.FormatInt(n, 10) + " elements")
	}
	s.st = stType
	if count == 0 {
		if s.typ == '|' {
			return nil // an empty attribute: the item follows
		}
		return s.complete()
	}
	if len(s.frames) >= s.lim.MaxDepth {
		return s.fail("aggregates nested deeper than MaxDepth")
	}
	if s.first != nil && len(s.frames) == 0 && s.typ == s.firstOf && count != 0 {
		s.capState, s.capCount = capPending, count
	}
	s.frames = append(s.frames, frame{left: count, attr: s.typ == '|'})
	return nil
}

// chunkHeader handles the length line of one chunk of a streamed string.
func (s *scanner) chunkHeader(line []byte) error {
	n, chunked, err := s.number(line)
	switch {
	case err != nil:
		return err
	case chunked:
		return s.fail("a chunk length of '?'")
	case n < 0:
		return s.fail("a negative chunk length")
	case n > s.lim.MaxBulk:
		return s.fail("a chunk of " + strconv.FormatInt(n, 10) + " bytes, beyond MaxBulk")
	case n == 0:
		s.st = stType
		return s.complete()
	}
	s.st, s.skip = stChunkSkip, n+2
	return nil
}

// complete records the end of an item: it counts as an element of the
// innermost open aggregate, which may complete in turn.
func (s *scanner) complete() error {
	s.st = stType
	if s.capState == capActive {
		if err := s.captured(); err != nil {
			return err
		}
	}
	for len(s.frames) > 0 {
		f := &s.frames[len(s.frames)-1]
		switch {
		case f.left < 0:
			return nil // streamed: ends at its '.'
		case f.left > 0:
			f.left--
			if f.left > 0 {
				return nil
			}
		}
		// f is complete.
		attr := f.attr
		s.frames = s.frames[:len(s.frames)-1]
		if attr {
			return nil // the attributed item follows
		}
	}
	return nil
}
