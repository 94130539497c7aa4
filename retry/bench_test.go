package retry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/slotrouter/slotrouter/retry"
)

var (
	sinkRedirect retry.Redirect
	sinkClass    retry.Class
	sinkErr      error
)

func BenchmarkParseRedirect(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"IPv4", "MOVED 3999 127.0.0.1:6381"},
		{"Hostname", "ASK 3999 redis-node-1.example.com:6381"},
		{"IPv6Bare", "MOVED 3999 2001:db8::7:6381"},
		{"Malformed", "MOVED 99999 127.0.0.1:6381"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkRedirect, sinkErr = retry.ParseRedirect(bc.msg)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	moved := errors.New("MOVED 3999 127.0.0.1:6381")
	for _, bc := range []struct {
		name string
		err  error
	}{
		{"Nil", nil},
		{"Moved", moved},
		{"WrappedMoved", fmt.Errorf("do: %w", moved)},
		{"Other", errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkClass = retry.Classify(bc.err)
			}
		})
	}
}

func BenchmarkBreakerAllow(b *testing.B) {
	b.Run("Closed", func(b *testing.B) {
		br := retry.NewBreaker(retry.BreakerOptions{})
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = br.Allow()
		}
	})
	b.Run("ClosedParallel", func(b *testing.B) {
		br := retry.NewBreaker(retry.BreakerOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if br.Allow() == nil {
					br.Success()
				}
			}
		})
	})
	b.Run("Open", func(b *testing.B) {
		br := retry.NewBreaker(retry.BreakerOptions{})
		br.Trip()
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = br.Allow()
		}
	})
}

func BenchmarkBudget(b *testing.B) {
	bud := retry.NewBudget(retry.BudgetOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bud.Deposit()
		}
	})
}

func BenchmarkBackoffDelay(b *testing.B) {
	var bo retry.Backoff
	var d int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d += int64(bo.Delay(i&15, nil))
	}
	_ = d
}
