package retry_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

var allKinds = []retry.Kind{
	retry.KindNone, retry.KindMoved, retry.KindAsk, retry.KindTryAgain, retry.KindClusterDown,
	retry.KindLoading, retry.KindReadOnly, retry.KindMasterDown, retry.KindConn, retry.KindCanceled,
	retry.KindOther, retry.Kind(200),
}

// allOps enumerates every combination of the Op flags.
func allOps() []retry.Op {
	var ops []retry.Op
	for i := range 8 {
		ops = append(ops, retry.Op{Unsent: i&1 != 0, ReadOnly: i&2 != 0, Idempotent: i&4 != 0})
	}
	return ops
}

// TestDecideTable spells out the whole table: every kind with every Op.
func TestDecideTable(t *testing.T) {
	W := retry.Op{}                 // a write, maybe sent
	U := retry.Op{Unsent: true}     // a write, surely unsent
	R := retry.Op{ReadOnly: true}   // a read, maybe sent
	I := retry.Op{Idempotent: true} // an idempotent write, maybe sent
	UR := retry.Op{Unsent: true, ReadOnly: true}
	UI := retry.Op{Unsent: true, Idempotent: true}
	RI := retry.Op{ReadOnly: true, Idempotent: true}
	URI := retry.Op{Unsent: true, ReadOnly: true, Idempotent: true}
	ops := []retry.Op{W, U, R, I, UR, UI, RI, URI}

	const (
		done    = retry.ActionDone
		fail    = retry.ActionFail
		follow  = retry.ActionFollow
		ask     = retry.ActionAsk
		backoff = retry.ActionBackoff
		refresh = retry.ActionRefresh
		conn    = retry.ActionRetryConn
		unknown = retry.ActionFailUnknownOutcome
	)
	//                         W        U     R     I     UR    UI    RI    URI
	want := map[retry.Kind][8]retry.Action{
		retry.KindNone:        {done, done, done, done, done, done, done, done},
		retry.KindMoved:       {follow, follow, follow, follow, follow, follow, follow, follow},
		retry.KindAsk:         {ask, ask, ask, ask, ask, ask, ask, ask},
		retry.KindTryAgain:    {backoff, backoff, backoff, backoff, backoff, backoff, backoff, backoff},
		retry.KindClusterDown: {backoff, backoff, backoff, backoff, backoff, backoff, backoff, backoff},
		retry.KindLoading:     {backoff, backoff, backoff, backoff, backoff, backoff, backoff, backoff},
		retry.KindMasterDown:  {backoff, backoff, backoff, backoff, backoff, backoff, backoff, backoff},
		retry.KindReadOnly:    {refresh, refresh, refresh, refresh, refresh, refresh, refresh, refresh},
		retry.KindConn:        {unknown, conn, conn, conn, conn, conn, conn, conn},
		retry.KindCanceled:    {fail, fail, fail, fail, fail, fail, fail, fail},
		retry.KindOther:       {fail, fail, fail, fail, fail, fail, fail, fail},
		retry.Kind(200):       {fail, fail, fail, fail, fail, fail, fail, fail},
	}
	require.Len(t, want, len(allKinds))
	for k, row := range want {
		for i, op := range ops {
			assert.Equal(t, row[i], retry.Decide(k, op), "Decide(%v, %+v)", k, op)
		}
	}
}

// TestDecideUnknownOutcomeNeverRetried is the house rule: a write whose fate
// is unknown (maybe sent, not read-only, not idempotent) is only retried
// when the server's reply proves it was not executed.
func TestDecideUnknownOutcomeNeverRetried(t *testing.T) {
	write := retry.Op{}
	for _, k := range allKinds {
		a := retry.Decide(k, write)
		if a.IsRetry() {
			assert.True(t, k.NotExecuted(), "%v would retry a maybe-sent write after %v", a, k)
		}
		assert.NotEqual(t, retry.ActionRetryConn, a, "kind %v", k)
	}
	assert.Equal(t, retry.ActionFailUnknownOutcome, retry.Decide(retry.KindConn, write))
	// Through Classify, for a realistic broken connection after a write.
	err := fmt.Errorf("reading reply to SET: %w", io.EOF)
	assert.Equal(t, retry.ActionFailUnknownOutcome, retry.Decide(retry.Classify(err).Kind, write))
	// The same error for a read is retried.
	assert.Equal(t, retry.ActionRetryConn, retry.Decide(retry.Classify(err).Kind, retry.Op{ReadOnly: true}))
}

// TestDecideRetriesImplyFacts cross-checks the table against the Kind facts.
func TestDecideRetriesImplyFacts(t *testing.T) {
	for _, k := range allKinds {
		for _, op := range allOps() {
			a := retry.Decide(k, op)
			switch a {
			case retry.ActionFollow, retry.ActionAsk:
				assert.True(t, k.IsRedirect(), "%v %v", k, a)
			case retry.ActionBackoff:
				assert.True(t, k.NeedsBackoff() && k.NotExecuted(), "%v %v", k, a)
			case retry.ActionRetryConn:
				assert.True(t, op.Unsent || op.ReadOnly || op.Idempotent, "%v %+v", k, op)
			case retry.ActionDone:
				assert.Equal(t, retry.KindNone, k)
			}
		}
	}
}

func TestActionString(t *testing.T) {
	assert.Equal(t, "Follow", retry.ActionFollow.String())
	assert.Equal(t, "FailUnknownOutcome", retry.ActionFailUnknownOutcome.String())
	assert.Equal(t, "Action(77)", retry.Action(77).String())
	assert.False(t, retry.Action(77).IsRetry())
	assert.False(t, retry.ActionFail.IsRetry())
	assert.True(t, retry.ActionRetryConn.IsRetry())
}
