package command_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/mock"
)

// This file turns raw RESP2/RESP3 bytes (a captured COMMAND reply, or
// fuzz input) into the rueidis.RedisMessage that a client would have
// received, using the constructors of github.com/redis/rueidis/mock. Sets
// become arrays (rueidis treats both alike) and maps keep their last
// value for a repeated key.

const (
	maxRESPDepth = 16
	maxRESPLen   = 1 << 20
)

var errRESP = errors.New("resp: malformed")

// parseRESP decodes exactly one value from b.
func parseRESP(b []byte) (rueidis.RedisMessage, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	m, err := readRESP(r, 0)
	if err != nil {
		return m, err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return m, fmt.Errorf("%w: trailing bytes", errRESP)
	}
	return m, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%w: %v", errRESP, err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("%w: line not ended by CRLF", errRESP)
	}
	return line[:len(line)-2], nil
}

func readLen(r *bufio.Reader) (int, error) {
	line, err := readLine(r)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(line)
	if err != nil || n < -1 || n > maxRESPLen {
		return 0, fmt.Errorf("%w: bad length %q", errRESP, line)
	}
	return n, nil
}

// readRESP reads one RESP2 or RESP3 value.
func readRESP(r *bufio.Reader, depth int) (rueidis.RedisMessage, error) {
	if depth > maxRESPDepth {
		return rueidis.RedisMessage{}, fmt.Errorf("%w: nested too deep", errRESP)
	}
	typ, err := r.ReadByte()
	if err != nil {
		return rueidis.RedisMessage{}, fmt.Errorf("%w: %v", errRESP, err)
	}
	switch typ {
	case '+', '(':
		s, err := readLine(r)
		return mock.RedisString(s), err
	case '-':
		s, err := readLine(r)
		return mock.RedisError(s), err
	case ',':
		s, err := readLine(r)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return rueidis.RedisMessage{}, fmt.Errorf("%w: bad double %q", errRESP, s)
		}
		return mock.RedisFloat64(f), nil
	case ':':
		s, err := readLine(r)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return rueidis.RedisMessage{}, fmt.Errorf("%w: bad integer %q", errRESP, s)
		}
		return mock.RedisInt64(n), nil
	case '#':
		s, err := readLine(r)
		if err != nil || (s != "t" && s != "f") {
			return rueidis.RedisMessage{}, fmt.Errorf("%w: bad boolean", errRESP)
		}
		return mock.RedisBool(s == "t"), nil
	case '_':
		_, err := readLine(r)
		return mock.RedisNil(), err
	case '$', '!', '=':
		n, err := readLen(r)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		if n < 0 {
			return mock.RedisNil(), nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil || buf[n] != '\r' || buf[n+1] != '\n' {
			return rueidis.RedisMessage{}, fmt.Errorf("%w: bad bulk string", errRESP)
		}
		if typ == '!' {
			return mock.RedisError(string(buf[:n])), nil
		}
		return mock.RedisBlobString(string(buf[:n])), nil
	case '*', '~', '>':
		n, err := readLen(r)
		if err != nil {
			return rueidis.RedisMessage{}, err
		}
		if n < 0 {
			return mock.RedisNil(), nil
		}
		vals := make([]rueidis.RedisMessage, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readRESP(r, depth+1)
			if err != nil {
				return rueidis.RedisMessage{}, err
			}
			vals = append(vals, v)
		}
		return mock.RedisArray(vals...), nil
	case '%':
		n, err := readLen(r)
		if err != nil || n < 0 {
			return rueidis.RedisMessage{}, fmt.Errorf("%w: bad map length", errRESP)
		}
		respKV := make(map[string]rueidis.RedisMessage, min(n, 1024))
		for i := 0; i < n; i++ {
			k, err := readRESP(r, depth+1)
			if err != nil {
				return rueidis.RedisMessage{}, err
			}
			v, err := readRESP(r, depth+1)
			if err != nil {
				return rueidis.RedisMessage{}, err
			}
			ks, err := k.ToString()
			if err != nil {
				return rueidis.RedisMessage{}, fmt.Errorf("%w: map key is not a string", errRESP)
			}
			respKV[ks] = v
		}
		return mock.RedisMap(respKV), nil
	default:
		return rueidis.RedisMessage{}, fmt.Errorf("%w: unknown type byte %q", errRESP, typ)
	}
}

// splitRESPArray returns the raw bytes of each element of the top-level
// array in b.
func splitRESPArray(b []byte) ([][]byte, error) {
	br := bytes.NewReader(b)
	r := bufio.NewReader(br)
	consumed := func() int { return len(b) - br.Len() - r.Buffered() }
	typ, err := r.ReadByte()
	if err != nil || (typ != '*' && typ != '~') {
		return nil, fmt.Errorf("%w: not an array", errRESP)
	}
	n, err := readLen(r)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		start := consumed()
		if _, err := readRESP(r, 0); err != nil {
			return nil, err
		}
		out = append(out, b[start:consumed()])
	}
	return out, nil
}
