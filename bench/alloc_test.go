package bench_test

import (
	"context"
	"testing"
)

// faceClients are the clients of BenchmarkFaceGet, rueidis's first so
// that "benchstat -col /client" gives the others relative to it.
var faceClients = []string{"rueidis", "slotrouter-face", "slotrouter"}

// BenchmarkFaceGet is BenchmarkGet (one GET of an existing key per
// iteration, one goroutine, keys on every primary, the reply decoded to
// a string) for the three ways a Go program can reach the cluster through
// rueidis connections, side by side:
//
//   - client=rueidis: rueidis's own cluster client (rueidis.NewClient,
//     default options): c.Do(ctx, c.B().Get().Key(k).Build());
//   - client=slotrouter-face: slotrouter's rueidis face, the same code
//     over router.Client.Rueidis(): the command built with the face's
//     B(), routed by slotrouter's table;
//   - client=slotrouter: slotrouter's string API, c.Do(ctx, "GET", k).
//
// Its point is allocations per GET (b.ReportAllocs):
//
//	go test -run '^$' -bench 'FaceGet' -benchmem -count 6 . | tee /tmp/f.txt
//	benchstat -col /client /tmp/f.txt
//
// $SLOTROUTER_BENCH_CLIENTS, when set, replaces the list.
func BenchmarkFaceGet(b *testing.B) {
	eachClientOf(b, benchClientsOr(b, faceClients), func(b *testing.B, c client) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if _, err := c.Get(ctx, benchKeys[i%numKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
