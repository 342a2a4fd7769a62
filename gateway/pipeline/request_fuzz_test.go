package pipeline

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// fuzzContentTypes are the kinds of body newRequest tells apart; a fuzzed
// byte picks one.
var fuzzContentTypes = []string{
	"application/json",
	"application/merge-patch+json; charset=utf-8",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=fuzz",
	"text/plain",
	"",
}

// maxDetail bounds the detail of a refusal: one that quoted a fuzzed body
// would be as long as the body.
const maxDetail = 200

// FuzzRequestBody decodes bodies as the server hands them over: it never
// panics, a refusal is a 400 that does not quote the body, decoded JSON
// stays within MaxDepth and encodes again to JSON that decodes to the same
// encoding, and a form is a map of strings or lists of strings.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		`{"quantity": 41, "price": 3.5, "tags": ["a", {"b": null}], "ok": true}`,
		`[9223372036854775807, 9223372036854775808, -0, 1e-400, 1e308, 0.1]`,
		`{"n": 1e400}`, `[-1e400]`, `1` + strings.Repeat("0", 309),
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000),
		`["\"[[[[", "\\"]`, `{"a": 1}}`, `{"a": 1,}`, "\x00",
	} {
		f.Add(uint8(0), []byte(seed))
	}
	for _, seed := range []string{"name=Ada+Lovelace&tag=a&tag=b", "a=1;b=2", "a=%zz", strings.Repeat("a&", 10_001)} {
		f.Add(uint8(2), []byte(seed))
	}
	f.Add(uint8(3), []byte("--fuzz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--fuzz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--fuzz--\r\n"))
	f.Add(uint8(4), []byte("just text {not json"))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		ct := fuzzContentTypes[int(kind)%len(fuzzContentTypes)]
		req, err := newRequest(&Incoming{Method: "POST", Path: "/f", Header: http.Header{"Content-Type": {ct}}, Body: body})
		if err != nil {
			re, ok := err.(*RunError)
			if !ok || re.Status != http.StatusBadRequest || len(re.Detail) > maxDetail {
				t.Fatalf("%s: error %#v, want a 400 *RunError with a short detail", ct, err)
			}
			return
		}
		if req.Text != string(body) {
			t.Fatalf("request.text is not the body")
		}
		switch {
		case len(body) == 0:
			if req.Body != nil {
				t.Fatalf("an empty body decoded to %#v", req.Body)
			}
		case isJSON(ct):
			if ExceedsDepth(req.Body, MaxDepth) {
				t.Fatalf("decoded JSON nests deeper than %d", MaxDepth)
			}
			once, err := encodeJSON(req.Body)
			if err != nil {
				t.Fatalf("decoded JSON does not encode: %v", err)
			}
			again, err := decodeJSON(once)
			if err != nil {
				t.Fatalf("re-encoded JSON does not decode: %v: %s", err, once)
			}
			if !sameJSON(req.Body, again) {
				t.Fatalf("re-encoding as %s changed the value", once)
			}
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"), strings.HasPrefix(ct, "multipart/"):
			form, ok := req.Body.(map[string]any)
			if !ok {
				t.Fatalf("a form decoded to %T", req.Body)
			}
			for _, v := range form {
				if list, isList := v.([]any); isList {
					for _, e := range list {
						if _, isString := e.(string); !isString {
							t.Fatalf("a repeated field holds %T", e)
						}
					}
				} else if _, isString := v.(string); !isString {
					t.Fatalf("a field holds %T", v)
				}
			}
		default:
			if req.Body != string(body) {
				t.Fatalf("a %q body is not its text", ct)
			}
		}
	})
}

// sameJSON compares decoded JSON values, numbers by value: -0e0 decodes
// to float64 -0, which encodes as -0 and decodes again to int64 0.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case int64, float64:
		fa, aok := asFloat(a)
		fb, bok := asFloat(b)
		return aok && bok && fa == fb
	}
	return a == b
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// FuzzParseQuery parses query strings for an endpoint with typed
// parameters: it never panics, refuses everything url.ParseQuery refuses
// (r.URL.Query() dropped it silently) and more than MaxQueryParameters,
// and otherwise gives declared parameters their types.
func FuzzParseQuery(f *testing.F) {
	def := "10"
	e, err := Compile(testutil.Compiler(f), &snapshot.Route{Name: "q", Method: "GET", Path: "/q", Query: []v1alpha1.QueryParameter{
		{Name: "limit", Type: v1alpha1.QueryInteger, Default: &def},
		{Name: "ratio", Type: v1alpha1.QueryNumber},
		{Name: "exact", Type: v1alpha1.QueryBoolean},
	}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"", "limit=5", "limit=5;x", "limit=500&ratio=0.5&exact=TRUE", "limit=%zz", "%zz=1", "limit=5&limit=6",
		"ratio=1e400", "limit=9223372036854775808", "a&&b==c", strings.Repeat("x=1&", MaxQueryParameters) + "limit=500",
		strings.Repeat("&", 10_001) + "limit=500",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := e.ParseQuery(raw)
		values, perr := url.ParseQuery(raw)
		tooMany := strings.Count(raw, "&")+1 > MaxQueryParameters
		if err != nil {
			re, ok := err.(*RunError)
			if !ok || re.Status != http.StatusBadRequest || len(re.Detail) > maxDetail {
				t.Fatalf("error %#v, want a 400 *RunError with a short detail", err)
			}
			return
		}
		if perr != nil || tooMany {
			t.Fatalf("accepted a query that url.ParseQuery refuses (%v) or has too many parameters", perr)
		}
		if len(q) > len(values)+1 {
			t.Fatalf("%d parameters from %d", len(q), len(values))
		}
		if _, ok := q["limit"].(int64); !ok {
			t.Fatalf("limit is %T, want int64 (from the query or the default)", q["limit"])
		}
		if v, present := q["ratio"]; present {
			if _, ok := v.(float64); !ok {
				t.Fatalf("ratio is %T", v)
			}
		}
		if v, present := q["exact"]; present {
			if _, ok := v.(bool); !ok {
				t.Fatalf("exact is %T", v)
			}
		}
	})
}
