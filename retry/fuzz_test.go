package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/slotrouter/slotrouter/retry"
)

var redirectSeeds = []string{
	"MOVED 3999 127.0.0.1:6381",
	"ASK 3999 127.0.0.1:6381",
	"MOVED 1 ::1:6381",
	"MOVED 1 [::1]:6381",
	"MOVED 3 fe80::1%eth0:7000",
	"MOVED 3999 :6381",
	"MOVED 3999 ?:6381",
	"MOVED 16383 redis-node-1.example.com:65535",
	"MOVED",
	"MOVED x y",
	"ASK 1",
	"MOVED 99999 a:1",
	"MOVED -1 a:1",
	"MOVED 1 a:0",
	"MOVED 1 a:65536",
	"MOVED 1 a:1 extra",
	"MOVED \u0661 a:1",
	"MOVED 1 [1.2.3.4]:6381",
}

func FuzzParseRedirect(f *testing.F) {
	for _, s := range redirectSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		r, err := retry.ParseRedirect(msg)
		if err != nil {
			if !errors.Is(err, retry.ErrMalformedRedirect) && !errors.Is(err, retry.ErrUnknownEndpoint) {
				t.Fatalf("ParseRedirect(%q): error %v wraps no sentinel", msg, err)
			}
			if errors.Is(err, retry.ErrMalformedRedirect) && r != (retry.Redirect{}) {
				t.Fatalf("ParseRedirect(%q): malformed but returned %+v", msg, r)
			}
			return
		}
		if r.Kind != retry.KindMoved && r.Kind != retry.KindAsk {
			t.Fatalf("ParseRedirect(%q): kind %v", msg, r.Kind)
		}
		if r.Slot >= retry.NumSlots {
			t.Fatalf("ParseRedirect(%q): slot %d", msg, r.Slot)
		}
		host, portText, err := net.SplitHostPort(r.Addr)
		if err != nil {
			t.Fatalf("ParseRedirect(%q): Addr %q not dialable: %v", msg, r.Addr, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			t.Fatalf("ParseRedirect(%q): port %q", msg, portText)
		}
		if (host == "") != r.SameEndpoint() {
			t.Fatalf("ParseRedirect(%q): SameEndpoint %v for host %q", msg, r.SameEndpoint(), host)
		}
		again, err := retry.ParseRedirect(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRedirect(%q) = %+v; re-parse of %q = %+v, %v", msg, r, r.String(), again, err)
		}
		if k := retry.Classify(errors.New(msg)).Kind; k != r.Kind {
			t.Fatalf("Classify(%q) = %v, ParseRedirect says %v", msg, k, r.Kind)
		}
		if resolved := r.Resolve("10.9.8.7:1000"); resolved == "" {
			t.Fatalf("Resolve of %+v is empty", r)
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, s := range redirectSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		"", "EOF", "TRYAGAIN", "CLUSTERDOWN The cluster is down", "LOADING x", "READONLY x",
		"MASTERDOWN x", "WRONGTYPE x", "ERR x", "context canceled", "MOVED\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		leaf := errors.New(msg)
		c := retry.Classify(leaf)
		if c.Kind == retry.KindNone || c.Kind > retry.KindOther || c.Err == nil {
			t.Fatalf("Classify(%q) = %+v", msg, c)
		}
		if c.Kind == retry.KindConn || c.Kind == retry.KindCanceled {
			t.Fatalf("Classify(%q): a plain message cannot be %v", msg, c.Kind)
		}
		// Wrapping changes nothing, and the wrapper's text is never read.
		wrapped := fmt.Errorf("%s: %w", msg, leaf)
		if w := retry.Classify(wrapped); w.Kind != c.Kind || w.Err != c.Err && c.Kind != retry.KindOther {
			t.Fatalf("Classify(wrapped %q) = %+v, leaf %+v", msg, w, c)
		}
		if k := retry.Classify(fmt.Errorf("%s: %w", msg, io.EOF)).Kind; k != retry.KindConn {
			t.Fatalf("wrapper text %q over io.EOF classified %v", msg, k)
		}
		if k := retry.Classify(errors.Join(leaf, context.Canceled)).Kind; k != retry.KindCanceled {
			t.Fatalf("cancellation lost next to %q: %v", msg, k)
		}
		if c.Kind.IsRedirect() {
			if _, err := c.Redirect(); err != nil && !errors.Is(err, retry.ErrMalformedRedirect) && !errors.Is(err, retry.ErrUnknownEndpoint) {
				t.Fatalf("Redirect() of %q: %v", msg, err)
			}
		}
		_ = retry.Decide(c.Kind, retry.Op{})
	})
}
