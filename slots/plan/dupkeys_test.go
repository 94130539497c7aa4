package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseDuplicateKeys: a key given twice in one object (or a field's
// name in two cases) is refused, naming the key and where it is;
// encoding/json alone keeps the last and the plan would say one thing
// and do another.
func TestParseDuplicateKeys(t *testing.T) {
	const ok = `{"version":2,"kind":"reshard","before":{"a":["0-16383"],"b":[]},` +
		`"moves":[{"source":"a","target":"b","ranges":["0-9"],"slots":10}],"batches":[[0]],` +
		`"final":{"a":["10-16383"],"b":["0-9"]},"summary":{"slots_moved":10,"moves":1,"batches":1}}`
	_, err := ParsePlan([]byte(ok))
	require.NoError(t, err)
	for _, c := range []struct{ from, to, where string }{
		{`"target":"b"`, `"target":"a","target":"b"`, `"target" in $.moves[0]`},
		{`"target":"b"`, `"Target":"a","target":"b"`, `"target" in $.moves[0]`},
		{`"kind":"reshard"`, `"kind":"rebalance","kind":"reshard"`, `"kind" in $`},
		{`"b":[]}`, `"b":[],"a":[]}`, `"a" in $.before`},
		{`"final":{"a":["10-16383"],`, `"final":{"a":["0-16383"],"a":["10-16383"],`, `"a" in $.final`},
		{`"moves":1`, `"moves":1,"MOVES":1`, `"MOVES" in $.summary`},
	} {
		in := strings.Replace(ok, c.from, c.to, 1)
		require.NotEqual(t, ok, in)
		_, err := ParsePlan([]byte(in))
		require.ErrorIs(t, err, ErrInvalidPlan, in)
		assert.ErrorContains(t, err, "duplicate key "+c.where, in)
	}
	// Keys of one name in different objects, and node IDs that differ in
	// case only (a map's keys, not fields), are fine.
	_, err = ParsePlan([]byte(strings.ReplaceAll(strings.ReplaceAll(ok, `"a"`, `"A"`), `"b"`, `"a"`)))
	require.NoError(t, err)

	const layout = `{"nodes":[{"id":"a","slots":["0-16383"]},{"id":"b"}]}`
	_, err = ParseLayout([]byte(layout))
	require.NoError(t, err)
	_, err = ParseLayout([]byte(strings.Replace(layout, `{"id":"b"}`, `{"id":"b","ID":"c"}`, 1)))
	require.ErrorIs(t, err, ErrInvalidLayout)
	assert.ErrorContains(t, err, `duplicate key "ID" in $.nodes[1]`)
	_, err = ParseLayout([]byte(`{"nodes":[],"nodes":[{"id":"a","slots":["0-16383"]}]}`))
	assert.ErrorContains(t, err, `duplicate key "nodes" in $`)
}

const dupOK = `{"version":2,"kind":"reshard","before":{"a":["0-16383"],"b":[]},` +
	`"moves":[{"source":"a","target":"b","ranges":["0-9"],"slots":10}],"batches":[[0]],` +
	`"final":{"a":["10-16383"],"b":["0-9"]},"summary":{"slots_moved":10,"moves":1,"batches":1}}`

// TestParseDuplicateKeysFold: a field's name spelt with a rune that
// encoding/json folds to the same name (U+017F, the long s, folds to
// "s") is the same field, so a repeat is refused.
func TestParseDuplicateKeysFold(t *testing.T) {
	in := strings.Replace(dupOK, `"source":"a"`, `"source":"b","\u017fource":"a"`, 1)
	p, err := ParsePlan([]byte(in))
	require.ErrorIs(t, err, ErrInvalidPlan, "decoded as %+v", p)
	assert.ErrorContains(t, err, "duplicate key \"\u017fource\" in $.moves[0]")

	const layout = `{"nodes":[{"id":"a","slots":["0-16383"]},{"id":"b","\u017flots":[]}]}`
	_, err = ParseLayout([]byte(layout))
	require.NoError(t, err)
	_, err = ParseLayout([]byte(strings.Replace(layout, `"\u017flots":[]`, `"slots":[],"\u017flots":[]`, 1)))
	require.ErrorIs(t, err, ErrInvalidLayout)
	assert.ErrorContains(t, err, "duplicate key \"\u017flots\" in $.nodes[1]")
}

// TestParseNodeIDsLikeFields: node ids that happen to be a field's name
// in two cases are map keys, not fields: a plan with them, as Marshal
// writes it, is accepted.
func TestParseNodeIDsLikeFields(t *testing.T) {
	in := strings.ReplaceAll(strings.ReplaceAll(dupOK, `"a"`, `"Slots"`), `"b"`, `"slots"`)
	p, err := ParsePlan([]byte(in))
	require.NoError(t, err)
	out, err := p.Marshal()
	require.NoError(t, err)
	_, err = ParsePlan(out)
	require.NoError(t, err, "a plan written by Marshal")
}
