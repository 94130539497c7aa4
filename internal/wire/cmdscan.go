package wire

// cmdScanner follows the commands rueidis writes to a node — RESP arrays
// of bulk strings, "*N\r\n" then N times "$len\r\n<len bytes>\r\n" — and
// counts them. It is the write side's scanner: faster than the general
// scanner (which follows every RESP type for the replies), because the
// bytes of a bulk are skipped, not looked at, and nothing is called per
// element. Anything else (an inline command, another type, a malformed
// header) makes it give up for good: the guard then stops counting, as
// it would for anything it does not understand. It is not safe for
// concurrent use.
type cmdScanner struct {
	st   uint8
	n    int64 // the number being read (a count or a length)
	nd   int   // its digits so far
	left int64 // elements left in the current command
	skip int64 // bytes left of the current bulk, CRLF included
	name bool  // the current bulk is the command's name
	// nameBuf keeps the first bytes of the name (for the subscribe check).
	nameBuf [16]byte
	nameN   int
	nameLen int64
	failed  bool
}

// Command scanner states.
const (
	csStart     = iota // '*' of a command is next
	csCount            // the element count's digits, up to '\r'
	csCountLF          // the '\n' after the count
	csBulk             // '$' of an element is next
	csLen              // the length's digits, up to '\r'
	csLenLF            // the '\n' after the length
	csSkip             // the element's bytes and CRLF
	csMaxDigits = 18   // a count or length has at most this many digits (no overflow of skip)
)

// feed consumes p. It returns how many commands began in p, and whether
// one of them was named like a subscribe command (a name ending in
// "subscribe", any case); ok is false once the stream is not what rueidis
// writes (then every later feed returns false too, counting nothing).
func (s *cmdScanner) feed(p []byte) (commands int, subscribe, ok bool) {
	if s.failed {
		return 0, false, false
	}
	for i := 0; i < len(p); {
		if s.st == csStart {
			// A whole command, the usual case, read without the state
			// machine; anything else is the state machine's (a command cut
			// at the end of p, or a malformed one: it fails where it
			// fails).
			if next, sub := wholeCommand(p, i); next > 0 {
				commands++
				subscribe = subscribe || sub
				i = next
				continue
			}
		}
		switch s.st {
		case csSkip:
			n := min(int64(len(p)-i), s.skip)
			if s.name && s.nameN == 0 && n == s.skip {
				// The whole name is in p: look at it there.
				s.name = false
				if isSubscribeName(p[i : i+int(n)-2]) {
					subscribe = true
				}
			} else if s.name {
				s.nameN += copy(s.nameBuf[min(s.nameN, len(s.nameBuf)):], p[i:i+int(n)])
			}
			s.skip -= n
			i += int(n)
			if s.skip > 0 {
				continue
			}
			if s.name {
				s.name = false
				if s.isSubscribe() {
					subscribe = true
				}
			}
			if s.left--; s.left == 0 {
				s.st = csStart
			} else {
				s.st = csBulk
			}
			continue
		case csStart:
			if p[i] != '*' {
				return s.fail(commands, subscribe)
			}
			commands++
			if n, next := header(p, i+1); next > 0 && n > 0 {
				// The whole count line is in p (the usual case).
				s.left, s.name = n, true
				s.nameN, s.nameLen = 0, 0
				s.st, i = csBulk, next
				continue
			}
			s.st, s.n, s.nd = csCount, 0, 0
		case csBulk:
			if p[i] != '$' {
				return s.fail(commands, subscribe)
			}
			if n, next := header(p, i+1); next > 0 {
				if s.name {
					s.nameLen = n
				}
				s.skip = n + 2
				s.st, i = csSkip, next
				continue
			}
			s.st, s.n, s.nd = csLen, 0, 0
		case csCount, csLen:
			b := p[i]
			if b == '\r' {
				if s.nd == 0 {
					return s.fail(commands, subscribe)
				}
				s.st++ // csCountLF or csLenLF
				break
			}
			if b < '0' || b > '9' || s.nd == csMaxDigits {
				return s.fail(commands, subscribe)
			}
			s.n = s.n*10 + int64(b-'0')
			s.nd++
		case csCountLF:
			if p[i] != '\n' || s.n == 0 {
				return s.fail(commands, subscribe) // rueidis never writes an empty array
			}
			s.left, s.name = s.n, true
			s.nameN, s.nameLen = 0, 0
			s.st = csBulk
		case csLenLF:
			if p[i] != '\n' {
				return s.fail(commands, subscribe)
			}
			if s.name {
				s.nameLen = s.n
			}
			s.skip = s.n + 2
			s.st = csSkip
		}
		i++
	}
	return commands, subscribe, true
}

// wholeCommand reads the command at p[i:] when it is whole in p and
// well formed ("*N\r\n", N > 0, then N bulks "$len\r\n<len bytes>\r\n",
// whose CRLF is skipped unread as feed skips it): it returns the index
// after it and whether its name ends in "subscribe"; next is 0 otherwise.
func wholeCommand(p []byte, i int) (next int, subscribe bool) {
	if p[i] != '*' {
		return 0, false
	}
	n, j := header(p, i+1)
	if j == 0 || n <= 0 {
		return 0, false
	}
	for e := int64(0); e < n; e++ {
		if j >= len(p) || p[j] != '$' {
			return 0, false
		}
		l, k := header(p, j+1)
		if k == 0 || l > int64(len(p)-k-2) {
			return 0, false
		}
		if e == 0 {
			subscribe = isSubscribeName(p[k : k+int(l)])
		}
		j = k + int(l) + 2
	}
	return j, subscribe
}

// header parses the digits of a header line from p[i:] up to its CRLF,
// when the whole line is there: it returns the number and the index
// after the line, or next 0 (the line is cut, or not digits then CRLF:
// the byte-wise states decide).
func header(p []byte, i int) (n int64, next int) {
	j := i
	for j < len(p) && j-i < csMaxDigits && p[j]-'0' <= 9 {
		n = n*10 + int64(p[j]-'0')
		j++
	}
	if j == i || j+1 >= len(p) || p[j] != '\r' || p[j+1] != '\n' {
		return 0, 0
	}
	return n, j + 2
}

// isSubscribe reports whether the name just read ends in "subscribe".
func (s *cmdScanner) isSubscribe() bool {
	if s.nameLen > int64(len(s.nameBuf)) {
		return false
	}
	return isSubscribeName(s.nameBuf[:s.nameLen])
}

// isSubscribeName reports whether name ends in "subscribe" (any case).
func isSubscribeName(name []byte) bool {
	const suffix = "subscribe"
	return len(name) >= len(suffix) && foldEqual(name[len(name)-len(suffix):], suffix)
}

func (s *cmdScanner) fail(commands int, subscribe bool) (int, bool, bool) {
	s.failed = true
	return commands, subscribe, false
}
