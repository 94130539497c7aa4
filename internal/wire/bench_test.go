package wire

import (
	"strings"
	"testing"
)

// BenchmarkScan measures the guard's cost per reply on a stream of
// pipelined replies: 100 GET replies of 16 bytes, and 100 small commands
// (the write side).
func BenchmarkScan(b *testing.B) {
	replies := []byte(strings.Repeat("$16\r\nvalue-0123456789\r\n", 100))
	commands := []byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$10\r\nkey:{1}:42\r\n", 100))
	for _, c := range []struct {
		name string
		in   []byte
	}{{"replies", replies}, {"commands", commands}} {
		b.Run(c.name, func(b *testing.B) {
			s := newScanner(Limits{}, "n", func(byte) string { return "" })
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.feed(c.in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/item")
		})
	}
}
