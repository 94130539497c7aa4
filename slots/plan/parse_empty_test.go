package plan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParsePlanEmptyOrNull: an empty document and a JSON null are refused
// as such (ParseLayout does the same), not as "EOF" or "version 0 is not
// supported", which sends the reader looking for a version field.
func TestParsePlanEmptyOrNull(t *testing.T) {
	for in, want := range map[string]string{
		"":       "the document is empty",
		" \n\t ": "the document is empty",
		"null":   "the document is null",
		" null ": "the document is null",
	} {
		p, err := ParsePlan([]byte(in))
		require.Nil(t, p, "%q", in)
		require.ErrorIs(t, err, ErrInvalidPlan, "%q", in)
		require.ErrorContains(t, err, want, "%q", in)
	}
	_, err := ParsePlan([]byte("{}"))
	require.ErrorContains(t, err, "version 0 is not supported")
}

// TestValidateContextNil: a nil context is refused with an error, as by
// every other *Context entry of the package, not a nil-pointer panic.
func TestValidateContextNil(t *testing.T) {
	p, err := Reshard(&Layout{Nodes: []Node{
		{ID: "a", Slots: Ranges{{Start: 0, End: 8191}}},
		{ID: "b", Slots: Ranges{{Start: 8192, End: 16383}}},
	}}, ReshardRequest{Target: "a", Slots: 10})
	require.NoError(t, err)
	var nilCtx context.Context
	require.NotPanics(t, func() { err = p.ValidateContext(nilCtx) })
	require.Error(t, err)
}
