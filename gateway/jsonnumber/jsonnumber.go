// Package jsonnumber turns the json.Numbers that a decoder with UseNumber
// leaves into the numbers expressions see: int64 when integral and in range,
// float64 otherwise. The pipeline decodes request and upstream bodies this
// way and the datastore its stored records, so that a number reads the same
// wherever it came from.
package jsonnumber

import (
	"encoding/json"
	"strconv"
)

// Convert replaces the json.Numbers in v, in place in its maps and lists,
// and returns v (or the number, when v is one). The caller bounds the
// depth of v: Convert recurses into it.
func Convert(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		// Only numbers are replaced: assigning every entry again costs
		// a map write per string, bool and nested value.
		for k, e := range t {
			if n, ok := e.(json.Number); ok {
				t[k] = Convert(n)
			} else {
				Convert(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = Convert(e)
		}
	}
	return v
}
