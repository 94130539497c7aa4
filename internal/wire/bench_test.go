package wire

import (
	"strings"
	"testing"
)

// BenchmarkScan measures the general scanner's cost per item on a stream of
// pipelined replies: 100 GET replies of 16 bytes (the guard's read side),
// and 100 small commands (the write side used it before cmdScanner).
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

// BenchmarkCmdScan is the write side's cost per command: 100 small
// commands, as rueidis writes them, through the command scanner.
func BenchmarkCmdScan(b *testing.B) {
	in := []byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$10\r\nkey:{1}:42\r\n", 100))
	var s cmdScanner
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if n, _, ok := s.feed(in); !ok || n != 100 {
			b.Fatal(n, ok)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/item")
}
