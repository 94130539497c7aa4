package command_test

import "github.com/slotrouter/slotrouter/router/internal/keysamples"

// The samples shared with router's tests (see package keysamples).
var (
	keySamples = keysamples.Valid()
	badSamples = keysamples.Bad()
)

// sampleArgs splits a sample on spaces; `""` is an empty argument.
func sampleArgs(s string) []string { return keysamples.Args(s) }
