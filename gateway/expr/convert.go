package expr

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// maxConvertDepth bounds recursion when turning results into Go values. CEL
// cannot build cyclic values, but inputs supplied by callers might be deep.
const maxConvertDepth = 1000

// toNative turns a CEL value into plain Go values that encoding/json can
// encode: nil, bool, int64, uint64, float64, string, []byte, time.Time,
// []any and map[string]any. Durations become strings such as "1.5s" (the
// protobuf JSON form) and non-string map keys are formatted as text, both
// because JSON has no other way to carry them.
func toNative(v ref.Val) (any, error) {
	return toNativeDepth(v, 0)
}

func toNativeDepth(v ref.Val, depth int) (any, error) {
	if depth > maxConvertDepth {
		return nil, safeError("value is nested too deeply")
	}
	switch val := v.(type) {
	case *types.Err:
		return nil, val
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(val), nil
	case types.Int:
		return int64(val), nil
	case types.Uint:
		return uint64(val), nil
	case types.Double:
		return float64(val), nil
	case types.String:
		return string(val), nil
	case types.Bytes:
		return []byte(val), nil
	case types.Timestamp:
		return val.Time, nil
	case types.Duration:
		return string(val.ConvertToType(types.StringType).(types.String)), nil
	case *types.Optional:
		if !val.HasValue() {
			return nil, nil
		}
		return toNativeDepth(val.GetValue(), depth+1)
	case *types.Type:
		return val.TypeName(), nil
	case traits.Mapper:
		if m, ok := val.Value().(map[ref.Val]ref.Val); ok {
			// A map the expression built: ranging over it directly saves
			// the reflection and allocations of cel-go's iterator and Get.
			out := make(map[string]any, len(m))
			for k, e := range m {
				key, err := mapKey(k)
				if err != nil {
					return nil, err
				}
				elem, err := toNativeDepth(e, depth+1)
				if err != nil {
					return nil, err
				}
				out[key] = elem
			}
			return out, nil
		}
		out := make(map[string]any, int(val.Size().(types.Int)))
		for it := val.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			key, err := mapKey(k)
			if err != nil {
				return nil, err
			}
			elem, err := toNativeDepth(val.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = elem
		}
		return out, nil
	case traits.Lister:
		n := int(val.Size().(types.Int))
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			elem, err := toNativeDepth(val.Get(types.Int(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, elem)
		}
		return out, nil
	}
	return nil, safeError("a value of type " + v.Type().TypeName() + " cannot be converted to a plain value")
}

func mapKey(k ref.Val) (string, error) {
	switch key := k.(type) {
	case types.String:
		return string(key), nil
	case types.Int:
		return strconv.FormatInt(int64(key), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(key), 10), nil
	case types.Bool:
		return strconv.FormatBool(bool(key)), nil
	}
	return "", safeError("a map key of type " + k.Type().TypeName() + " cannot be converted to a plain value")
}

// marshalJSON encodes a CEL value compactly. HTML escaping is off because
// the output goes into URLs and bodies, not HTML, where \u003c would only
// surprise people.
func marshalJSON(v ref.Val) (string, error) {
	native, err := toNative(v)
	if err != nil {
		return "", err
	}
	return encodeJSON(native)
}

func encodeJSON(native any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(native); err != nil {
		// The only encodable-by-construction failure left is NaN/Infinity;
		// json's message would quote the value.
		return "", safeError("value cannot be represented as JSON (NaN or infinity)")
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// formatText renders a plain Go value (as produced by toNative) as template
// text.
func formatText(v any) (string, error) {
	switch val := v.(type) {
	case nil:
		return "", nil
	case string:
		return val, nil
	case bool:
		return strconv.FormatBool(val), nil
	case int64:
		return strconv.FormatInt(val, 10), nil
	case uint64:
		return strconv.FormatUint(val, 10), nil
	case float64:
		return formatFloat(val), nil
	case []byte:
		return string(val), nil
	case time.Time:
		return val.Format(time.RFC3339Nano), nil
	}
	return encodeJSON(v)
}

// formatFloat picks the shortest text that reads back as the same double and,
// like JSON in browsers, avoids exponents for everyday magnitudes so that 3.0
// prints as "3" and 1e6 as "1000000".
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
