package pipeline

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/testutil"
)

const orderSchema = `{
	"type": "object",
	"required": ["customer", "items"],
	"properties": {
		"customer": {
			"type": "object",
			"required": ["name"],
			"properties": {"name": {"type": "string", "minLength": 1}, "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"}}
		},
		"items": {
			"type": "array",
			"minItems": 1,
			"items": {
				"type": "object",
				"required": ["sku", "qty"],
				"properties": {
					"sku": {"type": "string"},
					"qty": {"type": "integer", "minimum": 1},
					"price": {"type": "number", "exclusiveMinimum": 0}
				}
			}
		}
	}
}`

func validateStep(name, schema, value string, onError v1alpha1.OnError) v1alpha1.Step {
	return v1alpha1.Step{Name: name, OnError: onError, Validate: &v1alpha1.ValidateOperation{
		Schema: apiextensionsv1.JSON{Raw: []byte(schema)}, Value: value,
	}}
}

func parseJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidatePass(t *testing.T) {
	r := compileEndpoint(t, "v", []v1alpha1.Step{validateStep("check", orderSchema, "", "")}, v1alpha1.Response{})
	body := parseJSON(t, `{"customer": {"name": "Ada"}, "items": [{"sku": "a", "qty": 2, "price": 9.5}]}`)
	res := mustRun(t, r, testRuntime(), &request{Body: body})
	if diff := cmp.Diff(map[string]any{"valid": true, "errors": []any{}}, res.Body); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestValidateFail(t *testing.T) {
	r := compileEndpoint(t, "v", []v1alpha1.Step{
		validateStep("check", orderSchema, "", ""),
		testutil.TransformStep("never", `'reached'`),
	}, v1alpha1.Response{})
	body := parseJSON(t, `{"customer": {"email": "secret-address"},
		"items": [{"sku": "a", "qty": 1}, {"sku": 7, "qty": 0.5, "price": -3}]}`)
	e := runError(t, r, testRuntime(), &request{Body: body}, 400)
	if e.Title != TitleSchemaMismatch || e.Step != "check" {
		t.Errorf("error = %+v", e)
	}
	want := []Violation{
		{Pointer: "/customer", Message: "missing property 'name'"},
		{Pointer: "/customer/email", Message: `does not match pattern "^[^@]+@[^@]+$"`},
		{Pointer: "/items/1/price", Message: "must be greater than 0"},
		{Pointer: "/items/1/qty", Message: "got number, want integer"},
		{Pointer: "/items/1/sku", Message: "got number, want string"},
	}
	if diff := cmp.Diff(want, e.Violations); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	for _, v := range e.Violations {
		if strings.Contains(v.Message, "secret-address") {
			t.Errorf("message %q quotes the value", v.Message)
		}
	}
}

func TestValidateContinue(t *testing.T) {
	r := compileEndpoint(t, "v", []v1alpha1.Step{
		validateStep("check", orderSchema, "", v1alpha1.OnErrorContinue),
		testutil.TransformStep("after", `steps.check.valid ? 'ok' : steps.check.errors[0].pointer + ' ' + steps.check.errors[0].message`),
	}, body(`{'check': steps.check, 'after': steps.after}`))
	res := mustRun(t, r, testRuntime(), &request{Body: parseJSON(t, `{"customer": {"name": "Ada"}, "items": []}`)})
	want := map[string]any{
		"check": map[string]any{"valid": false, "errors": []any{
			map[string]any{"pointer": "/items", "message": "minItems: got 0, want 1"},
		}},
		"after": "/items minItems: got 0, want 1",
	}
	if diff := cmp.Diff(want, res.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// Values computed by expressions are int64, float64, []byte and time.Time,
// not what jsonschema's own decoder produces.
func TestValidateExpressionValues(t *testing.T) {
	schema := `{"type": "object", "properties": {
		"i": {"type": "integer"}, "d": {"type": "number"},
		"b": {"type": "string", "contentEncoding": "base64"}, "t": {"type": "string", "format": "date-time"},
		"e": {"enum": [1, 2]}, "u": {"type": "integer"}
	}}`
	for _, tc := range []struct {
		value string
		want  []Violation
	}{
		{value: `{'i': 3, 'd': 3.5, 'b': b'hi', 't': now, 'e': 2, 'u': uint(4)}`},
		{value: `{'i': 3.0}`}, // an integral double is an integer in JSON
		{value: `{'e': 1.0}`},
		{value: `{'i': 3.5}`, want: []Violation{{Pointer: "/i", Message: "got number, want integer"}}},
		{value: `{'i': '3'}`, want: []Violation{{Pointer: "/i", Message: "got string, want integer"}}},
		{value: `{'e': 3}`, want: []Violation{{Pointer: "/e", Message: "value must be one of 1, 2"}}},
		{value: `[1]`, want: []Violation{{Pointer: "", Message: "got array, want object"}}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			r := compileEndpoint(t, "v", []v1alpha1.Step{validateStep("check", schema, tc.value, v1alpha1.OnErrorContinue)}, v1alpha1.Response{})
			res := mustRun(t, r, testRuntime(), nil)
			var want any = map[string]any{"valid": true, "errors": []any{}}
			if tc.want != nil {
				want = validationOutput(tc.want)
			}
			if diff := cmp.Diff(want, res.Body); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViolations(t *testing.T) {
	s, err := compileSchema([]byte(`{"type": "object", "properties": {"a~b/c": {"type": "string"}}, "additionalProperties": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(s, map[string]any{"a~b/c": "x"}); v != nil {
		t.Errorf("valid value: %v", v)
	}
	if v := violations(nil, 1); v != nil {
		t.Errorf("nil schema: %v", v)
	}
	got := violations(s, map[string]any{"a~b/c": 1, "extra": true})
	want := []Violation{
		{Pointer: "", Message: "additional properties 'extra' not allowed"},
		{Pointer: "/a~0b~1c", Message: "got number, want string"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}

	// Go values of other shapes are accepted too.
	type item struct {
		N int `json:"n"`
	}
	s, _ = compileSchema([]byte(`{"type": "array", "items": {"type": "object", "properties": {"n": {"maximum": 5}}}}`))
	got = violations(s, []item{{1}, {9}})
	if diff := cmp.Diff([]Violation{{Pointer: "/1/n", Message: "must be at most 5"}}, got); diff != "" {
		t.Errorf("struct values (-want +got):\n%s", diff)
	}
	if got := violations(s, []any{map[string]any{"n": time.Duration(1)}}); len(got) != 0 {
		t.Errorf("typed number: %v", got)
	}
}

func TestFormatsAreAsserted(t *testing.T) {
	s, err := compileSchema([]byte(`{"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(s, map[string]any{"email": "ada@example.org"}); v != nil {
		t.Errorf("a valid email: %v", v)
	}
	if v := violations(s, map[string]any{"email": "not-an-email"}); len(v) != 1 || v[0].Pointer != "/email" {
		t.Errorf("format email is not checked: %v", v)
	}
}

func TestViolationsCapped(t *testing.T) {
	s, _ := compileSchema([]byte(`{"type": "array", "items": {"type": "string"}}`))
	many := make([]any, 3*maxViolations)
	for i := range many {
		many[i] = i
	}
	if got := violations(s, many); len(got) != maxViolations {
		t.Errorf("%d violations, want %d", len(got), maxViolations)
	}
}

func TestViolationMessagesDoNotQuoteValues(t *testing.T) {
	s, err := compileSchema([]byte(`{"type": "object", "properties": {
		"min": {"minimum": 1.5}, "max": {"maximum": 10}, "xmax": {"exclusiveMaximum": 0.25},
		"mul": {"multipleOf": 3}, "pat": {"pattern": "^a"}, "nan": {}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := violations(s, map[string]any{"min": 1.25, "max": int64(9123457), "xmax": 0.5, "mul": 7654321, "pat": "zz-private"})
	want := []Violation{
		{Pointer: "/max", Message: "must be at most 10"},
		{Pointer: "/min", Message: "must be at least 1.5"},
		{Pointer: "/mul", Message: "must be a multiple of 3"},
		{Pointer: "/pat", Message: `does not match pattern "^a"`},
		{Pointer: "/xmax", Message: "must be less than 0.25"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := violations(s, map[string]any{"nan": math.NaN()}); len(got) != 1 || got[0].Pointer != "" {
		t.Errorf("NaN: %v", got)
	}
}
