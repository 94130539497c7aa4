package retry_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotrouter/slotrouter/retry"
)

func TestOptionsCheck(t *testing.T) {
	require.NoError(t, retry.Limits{}.Check("L"))
	require.NoError(t, retry.Backoff{}.Check("B"))
	require.NoError(t, retry.BreakerOptions{Window: -1}.Check("Br"))
	require.NoError(t, retry.BudgetOptions{Ratio: -1, MinPerSecond: -1}.Check("Bu"))
	for _, c := range []struct {
		err  error
		name string
	}{
		{retry.Limits{MaxRedirects: -1}.Check("L"), "L.MaxRedirects"},
		{retry.Limits{MaxAttempts: -2}.Check("L"), "L.MaxAttempts"},
		{retry.Backoff{Base: -time.Second}.Check("B"), "B.Base"},
		{retry.Backoff{Cap: -1}.Check("B"), "B.Cap"},
		{retry.BreakerOptions{Failures: -1}.Check("Br"), "Br.Failures"},
		{retry.BreakerOptions{Cooldown: -1}.Check("Br"), "Br.Cooldown"},
		{retry.BreakerOptions{MaxCooldown: -1}.Check("Br"), "Br.MaxCooldown"},
		{retry.BreakerOptions{Probes: -1}.Check("Br"), "Br.Probes"},
		{retry.BudgetOptions{Ratio: math.NaN()}.Check("Bu"), "Bu.Ratio"},
		{retry.BudgetOptions{MinPerSecond: math.Inf(1)}.Check("Bu"), "Bu.MinPerSecond"},
		{retry.BudgetOptions{TTL: -1}.Check("Bu"), "Bu.TTL"},
	} {
		require.ErrorContains(t, c.err, c.name)
	}
}
