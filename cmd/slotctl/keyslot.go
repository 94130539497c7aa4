package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

// keyslotRow is one key's answer, also the JSON shape of -json.
type keyslotRow struct {
	Key  string     `json:"key"`
	Slot slots.Slot `json:"slot"`
	// Tag is the hash tag when the key has one; the key is hashed whole
	// otherwise.
	Tag    string `json:"tag,omitempty"`
	Tagged bool   `json:"tagged"`
}

func runKeyslot(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyslot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per key")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: slotctl keyslot [-json] KEY... (\"-\" reads keys, one per line, from stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	keys := fs.Args()
	if len(keys) == 0 {
		fs.Usage()
		return 2
	}
	var rows []keyslotRow
	for _, k := range keys {
		if k != "-" {
			rows = append(rows, keyslotOf(k))
			continue
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 64<<10), 512<<20)
		for sc.Scan() {
			if ctx.Err() != nil {
				return 1
			}
			rows = append(rows, keyslotOf(sc.Text()))
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "slotctl keyslot: reading stdin: %v\n", err)
			return 1
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "slotctl keyslot: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tHASHED\tKEY")
	for _, r := range rows {
		hashed := "(whole key)"
		if r.Tagged {
			hashed = hashtag.Wrap(r.Tag)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Slot, hashed, r.Key)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "slotctl keyslot: %v\n", err)
		return 1
	}
	return 0
}

func keyslotOf(key string) keyslotRow {
	tag, ok := hashtag.Tag(key)
	return keyslotRow{Key: key, Slot: slots.Of(key), Tag: tag, Tagged: ok}
}
