package slots_test

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/internal/clustertest"
	"github.com/slotrouter/slotrouter/slots"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite "+vectorsFile+" from the server's CLUSTER KEYSLOT answers")

// TestKeyslotServer asks a real cluster node CLUSTER KEYSLOT for every key
// of vectorKeys (10,500: adversarial shapes and seeded random bytes of
// length 0-300) and compares each answer with Of. With -update-vectors it
// also writes the server's answers to testdata, which TestVectors checks
// without a server.
func TestKeyslotServer(t *testing.T) {
	c := clustertest.Need(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := c.Nodes()[0]
	keys := vectorKeys()
	answers := make([]int64, len(keys))

	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				m, err := c.Do(ctx, node, "CLUSTER", "KEYSLOT", string(keys[i]))
				if err == nil {
					answers[i], err = m.AsInt64()
				}
				if err != nil {
					errs <- fmt.Errorf("CLUSTER KEYSLOT %x: %w", keys[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	mismatches := 0
	for i, k := range keys {
		if got := slots.OfBytes(k); int64(got) != answers[i] {
			mismatches++
			t.Errorf("key %x: Of = %d, server says %d", k, got, answers[i])
		}
	}
	require.Zero(t, mismatches)

	if *updateVectors {
		var b strings.Builder
		b.WriteString("# CLUSTER KEYSLOT answers of a real redis-server: key as hex, slot.\n")
		b.WriteString("# Regenerate: go test ./slots -run TestKeyslotServer -update-vectors\n")
		for i, k := range keys {
			fmt.Fprintf(&b, "%s %d\n", hex.EncodeToString(k), answers[i])
		}
		require.NoError(t, os.WriteFile(vectorsFile, []byte(b.String()), 0o644))
	}
}
