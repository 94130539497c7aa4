package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestApplyBadFlagValues: flag values migrate refuses are usage errors
// (exit 2, naming the flag), found before the plan is read or a node is
// dialled (the address is a closed loopback port anyway), like -timeout 0
// and -mode bogus already were.
func TestApplyBadFlagValues(t *testing.T) {
	code, planJSON, errOut := slotctl(t, layout3, "plan", "reshard", "-layout", "-", "-to", "a", "-slots", "10")
	require.Equal(t, 0, code, errOut)
	for _, tc := range []struct{ flag, value string }{
		{"-parallel", "-1"},
		{"-batch", "-5"},
		{"-slots-per-round", "99999"},
		{"-slots-per-round", "-1"},
		{"-migrate-timeout", "-1s"},
		{"-migrate-timeout", "1us"},
		{"-max-migrate-timeout", "-1s"},
		{"-timeout", "0"},
		{"-mode", "bogus"},
	} {
		code, out, errOut := slotctl(t, planJSON, "apply", "-addr", "127.0.0.1:1", tc.flag, tc.value, "-")
		assert.Equal(t, 2, code, "%s %s: %s", tc.flag, tc.value, errOut)
		assert.Empty(t, out, "%s %s", tc.flag, tc.value)
		assert.Contains(t, errOut, tc.flag, "%s %s", tc.flag, tc.value)
		assert.NotContains(t, errOut, "plan reshard:", "%s %s: refused before the plan is read", tc.flag, tc.value)
	}
}

// TestApplyAddrNotHostPort: an -addr that is not host:port is a usage
// error at once (migrate refuses it), not half a minute of dial retries.
func TestApplyAddrNotHostPort(t *testing.T) {
	code, planJSON, errOut := slotctl(t, layout3, "plan", "reshard", "-layout", "-", "-to", "a", "-slots", "10")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = slotctl(t, planJSON, "apply", "-addr", "nonsense", "-")
	assert.Equal(t, 2, code, errOut)
	assert.Contains(t, errOut, `"nonsense" is not host:port`)
}
