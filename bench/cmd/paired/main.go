// Command paired compares benchmark clients round by round: for runs
// where every round measured each client once (alternate.sh writes a
// "# round N" line before each round), it takes, in every round, the
// ratio of each client's figure to the base client's (a client met again
// also starts a round, for files without those lines), and prints the
// median ratio over the rounds with a 95 % bootstrap confidence interval
// and how many rounds the client was slower in (its figure above the
// base's: for a unit where more is better, the rounds it did better).
// Clients measured in the same round share the machine's state of that
// moment, so their ratio leaves out the drift between rounds that an
// unpaired comparison (benchstat's) counts as noise.
//
//	go run ./cmd/paired -base rueidis testdata/mixed64-paired.txt
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	base := flag.String("base", "rueidis", "the client the others are compared with")
	unit := flag.String("unit", "ns/op", "the figure compared (ns/op, cpu-ns/op, ...)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: paired [-base client] [-unit unit] file...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var rs rounds
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "paired:", err)
			os.Exit(1)
		}
		err = rs.read(f, *unit)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "paired: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	out, err := rs.report(*base)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paired:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// rounds holds the figures read: per round, per benchmark (its name
// without the client), per client.
type rounds struct {
	list []map[string]map[string]float64
}

var (
	roundLine = regexp.MustCompile(`^#\s*round\b`)
	// clientRE finds the client element of a benchmark's name: last
	// (with the -N of GOMAXPROCS), or followed by more elements
	// (BenchmarkReshard/client=rueidis/move=there).
	clientRE = regexp.MustCompile(`/client=([^/\s]+?)(-\d+)?(/|$)`)
)

// read adds the rounds of r. A round starts at a "# round" line, or at a
// figure of a client the current round already has (files written
// without the markers, one line per client and round).
func (rs *rounds) read(r io.Reader, unit string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	cur := map[string]map[string]float64(nil)
	for sc.Scan() {
		line := sc.Text()
		if roundLine.MatchString(line) {
			cur = nil
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		m := clientRE.FindStringSubmatch(f[0])
		if m == nil {
			continue // not a per-client benchmark
		}
		bench := strings.Replace(f[0], m[0], m[3], 1) // the name without its client
		var v float64
		found := false
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == unit {
				x, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return fmt.Errorf("%q: %v", line, err)
				}
				v, found = x, true
			}
		}
		if !found {
			continue
		}
		if _, again := cur[bench][m[1]]; cur == nil || again {
			// (a client met twice: a new round, in files without markers)
			cur = map[string]map[string]float64{}
			rs.list = append(rs.list, cur)
		}
		if cur[bench] == nil {
			cur[bench] = map[string]float64{}
		}
		cur[bench][m[1]] = v
	}
	return sc.Err()
}

// report compares every client with base, benchmark by benchmark.
func (rs *rounds) report(base string) (string, error) {
	ratios := map[string]map[string][]float64{} // bench, client
	for _, r := range rs.list {
		for bench, byClient := range r {
			b, ok := byClient[base]
			if !ok || b <= 0 {
				continue
			}
			for client, v := range byClient {
				if client == base {
					continue
				}
				if ratios[bench] == nil {
					ratios[bench] = map[string][]float64{}
				}
				ratios[bench][client] = append(ratios[bench][client], v/b)
			}
		}
	}
	if len(ratios) == 0 {
		return "", errors.New("no round measured " + base + " and another client")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-40s %-20s %6s %8s %19s %8s\n", "benchmark", "client ÷ "+base, "rounds", "median", "95% CI", "slower")
	for _, bench := range sortedKeys(ratios) {
		for _, client := range sortedKeys(ratios[bench]) {
			v := ratios[bench][client]
			lo, hi := bootstrapMedian(v, 10000)
			slower := 0
			for _, x := range v {
				if x > 1 {
					slower++
				}
			}
			fmt.Fprintf(&sb, "%-40s %-20s %6d %8.3f   [%.3f, %.3f] %5d/%d\n", bench, client, len(v), median(v), lo, hi, slower, len(v))
		}
	}
	return sb.String(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// median returns the median of v (not empty).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bootstrapMedian returns the 2.5th and 97.5th percentiles of the median
// of n resamples of v (a fixed seed: the same input, the same output).
func bootstrapMedian(v []float64, n int) (lo, hi float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	meds := make([]float64, n)
	s := make([]float64, len(v))
	for i := range meds {
		for j := range s {
			s[j] = v[rng.IntN(len(v))]
		}
		meds[i] = median(s)
	}
	slices.Sort(meds)
	return meds[n*25/1000], meds[n*975/1000-1]
}
