package plan

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// duplicateKey returns an error naming the first object key that appears
// twice in one object of the JSON document data, read as a value of type
// t (nil when there is none, or when data is not valid JSON: the decoder
// then says why). In an object that encoding/json decodes into a struct,
// two keys count as the same when encoding/json folds them to the same
// field's name ("Target" and "target", "\u017fource" and "source"): it
// would fill one field from both, keeping the last, and a plan or layout
// that says two things must be refused, not half read. In an object
// decoded into a map (node ids to ranges) keys are compared as they are:
// "slots" and "Slots" are two node ids.
func duplicateKey(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		t      reflect.Type            // the container's type (nil: unknown)
		fields map[string]reflect.Type // a struct's fields by folded name
		keys   map[string]bool
		index  int          // the next element's index, in an array
		key    string       // the current key, in an object
		next   reflect.Type // the type of the current key's value
		want   bool         // in an object: the next token is a key
		path   string       // where this container is
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
	// typ is the type of the value that the next token starts.
	typ := func() reflect.Type {
		if len(stack) == 0 {
			return t
		}
		f := stack[len(stack)-1]
		if f.object {
			return f.next
		}
		if f.t != nil && (f.t.Kind() == reflect.Slice || f.t.Kind() == reflect.Array) {
			return f.t.Elem()
		}
		return nil
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
	cache := map[reflect.Type]map[string]reflect.Type{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or bad JSON (reported by the decoder)
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].want {
			if k, ok := tok.(string); ok {
				f := stack[len(stack)-1]
				id, next := k, reflect.Type(nil)
				if f.fields != nil {
					if ft, ok := f.fields[foldName(k)]; ok {
						id, next = "\x00"+foldName(k), ft
					}
				} else if f.t != nil && f.t.Kind() == reflect.Map {
					next = f.t.Elem()
				}
				if f.keys[id] {
					return fmt.Errorf("duplicate key %q in %s", k, f.path)
				}
				f.keys[id] = true
				f.key, f.next, f.want = k, next, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			ct := decodedAs(typ())
			f := &frame{object: tok == json.Delim('{'), t: ct, keys: map[string]bool{}, want: true, path: at()}
			if f.object && ct != nil && ct.Kind() == reflect.Struct {
				f.fields = structFields(ct, cache)
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}

// decodedAs is the type whose JSON shape duplicateKey follows for a value
// decoded into t: t without its pointers, or nil (no shape known) when t
// is nil, an interface, or decodes itself (json.Unmarshaler,
// encoding.TextUnmarshaler).
func decodedAs(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(reflect.TypeFor[json.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return nil
	}
	return t
}

// structFields returns the fields that encoding/json decodes an object
// into a value of the struct type t into, by the folded JSON name (see
// foldName), with the fields of embedded structs without a tag promoted
// as encoding/json does (cached in cache).
func structFields(t reflect.Type, cache map[reflect.Type]map[string]reflect.Type) map[string]reflect.Type {
	if m, ok := cache[t]; ok {
		return m
	}
	m := map[string]reflect.Type{}
	cache[t] = m
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		if depth > 8 { // bounded: no plan type nests embedding so deep
			return
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" && !strings.HasPrefix(tag, "-,") {
				continue
			}
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, ok := m[foldName(name)]; !ok || depth == 0 {
				m[foldName(name)] = sf.Type
			}
		}
	}
	walk(t, 0)
	return m
}

// foldName folds a JSON object key as encoding/json does to match it to a
// field's name case-insensitively: ASCII letters upper case, any other
// rune the smallest of its case-folding orbit ("\u017f", the long s,
// becomes "S"; "\u212a", the Kelvin sign, "K").
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		for i := 0; i < 8; i++ { // orbits are short (at most 4 runes)
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}
