package pipeline

import (
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// TestParseQueryRefusesWhatItCannotParse: a query that url.ParseQuery
// refuses in part is refused whole, naming the parameter by position, and
// never quoted; before, the part was dropped and a declared parameter fell
// back to its default.
func TestParseQueryRefusesWhatItCannotParse(t *testing.T) {
	limit := "50"
	e, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: "q", Method: "GET", Path: "/q",
		Query: []v1alpha1.QueryParameter{{Name: "limit", Type: v1alpha1.QueryInteger, Default: &limit}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ raw, want string }{
		{raw: "limit=500;x", want: "the query string is malformed: parameter 1 contains ';', which does not separate parameters (use '&', or %3B for a ';' in a value)"},
		{raw: "a=1&secret%zz=1&limit=5", want: "the query string is malformed: the name of parameter 2 has an invalid %-escape"},
		{raw: "limit=5&a=secret%zz", want: "the query string is malformed: the value of parameter 2 has an invalid %-escape"},
		{raw: strings.Repeat("a=1&", MaxQueryParameters) + "limit=500", want: "the query string has 1001 parameters; at most 1000 are accepted"},
		{raw: strings.Repeat("&", 20_000) + "limit=500", want: "the query string has 20001 parameters; at most 1000 are accepted"},
	} {
		q, err := e.ParseQuery(tc.raw)
		re, ok := err.(*RunError)
		if !ok || re.Status != 400 || re.Detail != tc.want {
			t.Errorf("ParseQuery(%.40s) = %v, %v; want 400 %q", tc.raw, q, err, tc.want)
		}
	}
	q, err := e.ParseQuery(strings.Repeat("a=1&", MaxQueryParameters-1) + "limit=500&&")
	if err == nil {
		t.Errorf("empty parts count as url.ParseQuery counts them: got %v", q["limit"])
	}
	q, err = e.ParseQuery(strings.Repeat("a=1&", MaxQueryParameters-1) + "limit=500")
	if err != nil || q["limit"] != int64(500) {
		t.Errorf("%d parameters: %v, %v; want limit 500", MaxQueryParameters, q["limit"], err)
	}
}

func TestFormBodies(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{body: "a=1;b=2", want: "the request body (a form) is malformed: parameter 1 contains ';', which does not separate parameters (use '&', or %3B for a ';' in a value)"},
		{body: "a=%zz", want: "the request body (a form) is malformed: the value of parameter 1 has an invalid %-escape"},
		{body: strings.Repeat("a&", maxFormFields), want: "the request body (a form) has 10001 parameters; at most 10000 are accepted"},
	} {
		v, err := decodeBody("application/x-www-form-urlencoded", []byte(tc.body))
		re, ok := err.(*RunError)
		if !ok || re.Status != 400 || re.Detail != tc.want {
			t.Errorf("decodeBody(%.40s) = %v, %v; want 400 %q", tc.body, v, err, tc.want)
		}
	}
}
