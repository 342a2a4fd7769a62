package pipeline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// maxViolations caps the violations reported for one value, so that a large
// invalid body does not produce an even larger answer.
const maxViolations = 100

var english = message.NewPrinter(language.English)

// compileSchema compiles a JSON Schema document. References to other
// documents are refused: a schema must not make the gateway read files or
// fetch URLs.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Users of "Swagger Schema Validation" expect format: email to be
	// checked; draft 2020-12 makes formats annotations unless asked.
	c.AssertFormat()
	c.UseLoader(noLoader{})
	const location = "urn:appapi:schema"
	if err := c.AddResource(location, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(location)
	if err != nil {
		return nil, fmt.Errorf("%v", strings.ReplaceAll(err.Error(), location, "schema"))
	}
	return s, nil
}

type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema references %q: references to other documents are not allowed", u)
}

// violations checks v against s and returns how it does not match, sorted by
// pointer, at most maxViolations of them; nil when it matches or s is nil.
// v may hold the values of encoding/json, of jsonschema.UnmarshalJSON and of
// expr evaluation (int64, []byte, time.Time, ...). Messages do not quote the
// value, which may come from an upstream rather than the client.
func violations(s *jsonschema.Schema, v any) []Violation {
	if s == nil {
		return nil
	}
	inst, err := schemaValue(v, 0)
	if err != nil {
		return []Violation{{Pointer: "", Message: err.Error()}}
	}
	err = s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Pointer: "", Message: "validation failed"}}
	}
	var out []Violation
	collectViolations(ve, &out)
	slices.SortStableFunc(out, func(a, b Violation) int {
		if c := strings.Compare(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	out = slices.Compact(out)
	if len(out) > maxViolations {
		out = out[:maxViolations]
	}
	return out
}

// collectViolations flattens the tree of errors into its leaves: the inner
// nodes only say that a group of keywords (allOf, properties, $ref, ...)
// failed because of them.
func collectViolations(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{Pointer: jsonPointer(e.InstanceLocation), Message: describeKind(e.ErrorKind)})
		return
	}
	for _, c := range e.Causes {
		collectViolations(c, out)
	}
}

func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// describeKind words an error in English. The library's own messages for
// these kinds quote the offending value; these do not.
func describeKind(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Pattern:
		return "does not match pattern " + strconv.Quote(k.Want)
	case *kind.Format:
		return "is not a valid " + k.Want
	case *kind.Minimum:
		return "must be at least " + ratText(k.Want)
	case *kind.Maximum:
		return "must be at most " + ratText(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + ratText(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + ratText(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratText(k.Want)
	case *kind.ContentEncoding:
		return "is not " + k.Want + " encoded"
	case *kind.ContentMediaType:
		return "is not of media type " + k.Want
	case *kind.InvalidJsonValue:
		return "is not a JSON value"
	}
	return k.LocalizedString(english)
}

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

const maxValueDepth = 10000

// schemaValue converts v to the values jsonschema validates: nil, bool,
// string, numbers, []any and map[string]any. Bytes become base64 text and
// timestamps RFC 3339 text, as in JSON.
func schemaValue(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errors.New("the value is nested too deeply")
	}
	switch val := v.(type) {
	case nil, bool, string, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return val, nil
	case float64:
		if math.IsNaN(val) || math.IsInf(val, 0) {
			return nil, errors.New("the value holds NaN or infinity, which JSON cannot represent")
		}
		return val, nil
	case float32:
		return schemaValue(float64(val), depth)
	case []byte:
		return base64.StdEncoding.EncodeToString(val), nil
	case time.Time:
		return val.Format(time.RFC3339Nano), nil
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, e := range val {
			c, err := schemaValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(val))
		for i, e := range val {
			c, err := schemaValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(val))
		for k, e := range val {
			out[k] = e
		}
		return out, nil
	case []string:
		out := make([]any, len(val))
		for i, e := range val {
			out[i] = e
		}
		return out, nil
	}
	// Anything else (structs, typed slices and maps) takes the long way.
	text, err := encodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("the value cannot be represented as JSON")
	}
	out, err := jsonschema.UnmarshalJSON(strings.NewReader(string(text)))
	if err != nil {
		return nil, fmt.Errorf("the value cannot be represented as JSON")
	}
	return out, nil
}
