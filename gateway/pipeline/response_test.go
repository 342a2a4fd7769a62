package pipeline

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// compileRedirect compiles an AppAPI that redirects from its response block
// or, with inStep, from a respond step.
func compileRedirect(t *testing.T, redirect string, inStep bool) (*Endpoint, error) {
	t.Helper()
	r := &snapshot.Route{Name: "go", Method: "GET", Path: "/go",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone},
		Steps:          []v1alpha1.Step{testutil.TransformStep("t", `{'to': 'https://example.org/x'}`)}}
	if inStep {
		r.Steps = append(r.Steps, v1alpha1.Step{Name: "out", Respond: &v1alpha1.RespondOperation{Redirect: redirect}})
	} else {
		r.Response = v1alpha1.Response{Redirect: redirect}
	}
	return Compile(testutil.Compiler(t), r)
}

// TestRedirectDestinationFromConfiguration: a redirect whose scheme and host
// are written out (or come from a variable) keeps them, whatever the
// request holds.
func TestRedirectDestinationFromConfiguration(t *testing.T) {
	for _, redirect := range []string{
		"https://example.org{{ request.query.p }}",
		"https://{{ request.query.host }}/x",
		"HTTP://example.org:{{ request.query.port }}/x",
		"{{ vars.site }}{{ request.query.p }}",
		"https://{{ vars.host }}.{{ steps.t.to }}/",
	} {
		for _, inStep := range []bool{false, true} {
			_, err := compileRedirect(t, redirect, inStep)
			field := "spec.response.redirect"
			if inStep {
				field = "spec.steps[1].respond.redirect"
			}
			var perr *CompileError
			if !errors.As(err, &perr) || perr.Reason != v1alpha1.ReasonInvalidSpec || perr.Field != field ||
				!strings.Contains(perr.Message, "is in the URL's scheme or host") {
				t.Errorf("Compile(redirect %q) = %v, want InvalidSpec at %s", redirect, err, field)
			}
		}
	}

	// A literal redirect that can never be valid is refused at once.
	for _, redirect := range []string{"javascript:alert(1)", "//evil.example/x", "https://user:pw@example.org/"} {
		_, err := compileRedirect(t, redirect, false)
		var perr *CompileError
		if !errors.As(err, &perr) || perr.Field != "spec.response.redirect" {
			t.Errorf("Compile(redirect %q) = %v, want it refused", redirect, err)
		}
	}

	for _, redirect := range []string{
		"https://example.org/{{ request.query.p }}",
		"https://example.org?next={{ request.query.p }}",
		"https://{{ vars.host }}:{{ vars.port }}/{{ request.query.p }}",
		"{{ vars.site }}/pets/{{ request.query.p }}",
		"/pets/{{ request.query.p }}",
		// The destination is the value: the redirect example's links table.
		"{{ steps.t.to }}",
		"https://example.org/",
	} {
		if _, err := compileRedirect(t, redirect, false); err != nil {
			t.Errorf("Compile(redirect %q) = %v", redirect, err)
		}
	}
}

func TestRedirectValuesStayOnTheHost(t *testing.T) {
	r, err := compileRedirect(t, "https://example.org/{{ request.query.p }}", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".evil.com/x", "/evil.com", "@evil.com", `\evil.com`, "..%2F..%2Fevil.com"} {
		res := mustRun(t, r, testRuntime(), &request{Query: map[string]any{"p": p}})
		u, err := url.Parse(res.Redirect)
		if err != nil || u.Host != "example.org" {
			t.Errorf("p=%q: Location %q, want a URL on example.org", p, res.Redirect)
		}
	}
}
