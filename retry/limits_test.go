package retry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func TestCounterDefaults(t *testing.T) {
	c := retry.Limits{}.Counter()
	assert.Equal(t, 0, c.Hops)
	assert.Equal(t, 1, c.Attempts, "the first try is counted")

	for i := range retry.DefaultMaxRedirects {
		act := retry.ActionFollow
		if i%2 == 1 {
			act = retry.ActionAsk
		}
		require.True(t, c.Step(act), "hop %d", i+1)
	}
	assert.False(t, c.Step(retry.ActionFollow), "hop 17 is refused")
	assert.False(t, c.Step(retry.ActionAsk))
	assert.Equal(t, retry.DefaultMaxRedirects, c.Hops)

	for i := 1; i < retry.DefaultMaxAttempts; i++ {
		act := []retry.Action{retry.ActionBackoff, retry.ActionRefresh, retry.ActionRetryConn}[i%3]
		require.True(t, c.Step(act), "retry %d", i)
	}
	assert.False(t, c.Step(retry.ActionBackoff))
	assert.False(t, c.Step(retry.ActionRetryConn))
	assert.False(t, c.Step(retry.ActionRefresh))
	assert.Equal(t, retry.DefaultMaxAttempts, c.Attempts)
	assert.Equal(t, retry.DefaultMaxRedirects, c.Hops)
}

func TestCounterTerminalActionsDoNotCount(t *testing.T) {
	c := retry.Limits{MaxRedirects: 1, MaxAttempts: 2}.Counter()
	for _, a := range []retry.Action{retry.ActionDone, retry.ActionFail, retry.ActionFailUnknownOutcome, retry.Action(99)} {
		assert.False(t, c.Step(a), "%v", a)
	}
	assert.Equal(t, 0, c.Hops)
	assert.Equal(t, 1, c.Attempts)
	assert.True(t, c.Step(retry.ActionAsk))
	assert.False(t, c.Step(retry.ActionAsk))
	assert.True(t, c.Step(retry.ActionBackoff))
	assert.False(t, c.Step(retry.ActionBackoff))
}

func TestExhaustedError(t *testing.T) {
	last := errors.New("CLUSTERDOWN The cluster is down")
	c := retry.Limits{MaxAttempts: 3, MaxRedirects: 1}.Counter()
	require.True(t, c.Step(retry.ActionFollow))
	for c.Step(retry.ActionBackoff) {
	}
	var err error = c.Exhausted(fmt.Errorf("node 10.0.0.1:7000: %w", last))

	assert.Equal(t, "retry: gave up after 3 attempts and 1 redirect: node 10.0.0.1:7000: CLUSTERDOWN The cluster is down", err.Error())
	assert.ErrorIs(t, err, last)
	assert.ErrorIs(t, err, retry.ErrExhausted)
	var ex *retry.ExhaustedError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, 1, ex.Hops)
	assert.Equal(t, 3, ex.Attempts)
	assert.Equal(t, retry.KindClusterDown, retry.Classify(err).Kind, "classification sees through it")

	one := &retry.ExhaustedError{Hops: 16, Attempts: 1}
	assert.Equal(t, "retry: gave up after 1 attempt and 16 redirects", one.Error())
	assert.NotErrorIs(t, errors.New("x"), retry.ErrExhausted)
}
