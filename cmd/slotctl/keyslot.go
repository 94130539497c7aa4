package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/slotrouter/slotrouter/hashtag"
	"github.com/slotrouter/slotrouter/slots"
)

// keyslotRow is one key's answer.
type keyslotRow struct {
	Key  string
	Slot slots.Slot
	// Tag is the hash tag when the key has one; the key is hashed whole
	// otherwise.
	Tag    string
	Tagged bool
}

// keyslotJSON is the JSON shape of one -json line. A key that is valid
// UTF-8 is written as a JSON string in "key" (and its tag in "tag") with
// "encoding": "utf-8"; any other key is written as lower-case hex of its
// bytes in "key_hex" (and "tag_hex") with "encoding": "hex", because a
// JSON string cannot carry arbitrary bytes (encoding/json would replace
// them with U+FFFD, naming another key).
type keyslotJSON struct {
	Key      *string    `json:"key,omitempty"` // set, maybe to "", for UTF-8 keys
	KeyHex   string     `json:"key_hex,omitempty"`
	Encoding string     `json:"encoding"`
	Slot     slots.Slot `json:"slot"`
	Tag      string     `json:"tag,omitempty"`
	TagHex   string     `json:"tag_hex,omitempty"`
	Tagged   bool       `json:"tagged"`
}

// Encodings of keyslotJSON.Encoding.
const (
	encodingUTF8 = "utf-8"
	encodingHex  = "hex"
)

func (r keyslotRow) json() keyslotJSON {
	j := keyslotJSON{Slot: r.Slot, Tagged: r.Tagged}
	if utf8.ValidString(r.Key) {
		key := r.Key
		j.Encoding, j.Key, j.Tag = encodingUTF8, &key, r.Tag
	} else {
		j.Encoding, j.KeyHex = encodingHex, hex.EncodeToString([]byte(r.Key))
		if r.Tag != "" {
			j.TagHex = hex.EncodeToString([]byte(r.Tag))
		}
	}
	return j
}

// keyslotUsage is the usage text of "slotctl keyslot".
const keyslotUsage = `usage: slotctl keyslot [-json] KEY... ("-" reads keys, one per line, from stdin)

-json prints one JSON object per key:
  {"key": "user:{42}:name", "encoding": "utf-8", "slot": 8000, "tag": "42", "tagged": true}
A key that is not valid UTF-8 is given as lower-case hex of its bytes, in
"key_hex" (and "tag_hex") instead of "key" (and "tag"), with "encoding": "hex":
  {"key_hex": "ff01", "encoding": "hex", "slot": 5086, "tagged": false}
`

func runKeyslot(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyslot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per key (keys that are not UTF-8 in hex, see above)")
	fs.Usage = func() {
		fmt.Fprint(stderr, keyslotUsage)
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
		more, err := keyslotLines(ctx, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "slotctl keyslot: reading stdin: %v\n", stoppedErr(ctx, err))
			return 1
		}
		rows = append(rows, more...)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r.json()); err != nil {
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

// keyslotLines reads keys, one per line, from r, giving up when ctx ends
// (readInputContext: a terminal or a pipe can block a read for ever).
func keyslotLines(ctx context.Context, r io.Reader) ([]keyslotRow, error) {
	data, err := readInputContext(ctx, "-", r)
	if err != nil {
		return nil, err
	}
	var rows []keyslotRow
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 512<<20)
	for sc.Scan() {
		rows = append(rows, keyslotOf(sc.Text()))
	}
	return rows, sc.Err()
}

func keyslotOf(key string) keyslotRow {
	tag, ok := hashtag.Tag(key)
	return keyslotRow{Key: key, Slot: slots.Of(key), Tag: tag, Tagged: ok}
}
