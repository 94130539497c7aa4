package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// duplicateKey returns an error naming the first object key that appears
// twice in one object of the JSON document data (nil when there is none,
// or when data is not valid JSON: the decoder then says why). A key also
// counts as repeated when it differs only in case and is the name of a
// struct field (fields lists them, lower case): encoding/json would fill
// one field from both, keeping the last, and a plan or layout that says
// two things must be refused, not half read.
func duplicateKey(data []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		index  int    // the next element's index, in an array
		key    string // the current key, in an object
		want   bool   // in an object: the next token is a key
		path   string // where this container is
	}
	var stack []*frame
	// at is the path (JSONPath) of the value that the next token starts.
	at := func() string {
		if len(stack) == 0 {
			return "$"
		}
		f := stack[len(stack)-1]
		if f.object {
			return f.path + "." + f.key
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	// done moves the innermost container past one value.
	done := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.want = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or bad JSON (reported by the decoder)
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].want {
			if k, ok := tok.(string); ok {
				f := stack[len(stack)-1]
				fold := strings.ToLower(k)
				if f.keys[k] || fields[fold] && f.keys["\x00"+fold] {
					return fmt.Errorf("duplicate key %q in %s", k, f.path)
				}
				f.keys[k] = true
				if fields[fold] {
					f.keys["\x00"+fold] = true
				}
				f.key, f.want = k, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{object: tok == json.Delim('{'), keys: map[string]bool{}, want: true, path: at()})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}

// jsonFields returns the set of the lower-case JSON names of the fields
// of the struct types of vs (values or pointers), and of their struct
// fields, for duplicateKey.
func jsonFields(vs ...any) map[string]bool {
	m := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" && !sf.Anonymous {
				name = sf.Name
			}
			if name != "" {
				m[strings.ToLower(name)] = true
			}
			walk(sf.Type)
		}
	}
	for _, v := range vs {
		walk(reflect.TypeOf(v))
	}
	return m
}
