package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// panickingTransport stands for a bug below the pipeline: it panics on the
// request's goroutine, as an http step's client runs there.
type panickingTransport struct{}

func (panickingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.URL.Path {
	case "/runtime-error":
		var m map[string]int
		m["x"]++ // assignment to entry in nil map
	default:
		panic("a value that quotes the request: " + r.URL.RawQuery)
	}
	return nil, nil
}

// TestPanicIsAnswered500: a panic while serving one request is answered
// with a 500 problem, logged with the request ID but not the request's
// data, and counted; the gateway goes on serving.
func TestPanicIsAnswered500(t *testing.T) {
	f := newFixture(t, nil)
	f.gw.SetUpstreamClient(&http.Client{Transport: panickingTransport{}})
	if err := f.gw.Load(newSnapshot(1,
		openRoute("value", "GET", "/value", `steps.call.body`,
			testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: "http://upstream.invalid/value?q={{ request.query.q }}"})),
		openRoute("runtime", "GET", "/runtime", `steps.call.body`,
			testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: "http://upstream.invalid/runtime-error"})),
		openRoute("ping", "GET", "/ping", `'pong'`),
	)); err != nil {
		t.Fatal(err)
	}

	for i, tc := range []struct{ path, logged string }{
		{path: "/value?q=secret-from-the-caller", logged: "string"},
		{path: "/runtime", logged: "assignment to entry in nil map"},
	} {
		r := f.do(t, "GET", tc.path, nil, nil)
		p := r.wantProblem(t, http.StatusInternalServerError)
		if p.Detail != "the gateway failed while serving this request; its log has the request ID" {
			t.Errorf("%s: detail %q", tc.path, p.Detail)
		}
		if got := f.counterValue(t, "appapi_gateway_panics_total", nil); got != float64(i+1) {
			t.Errorf("%s: appapi_gateway_panics_total = %v, want %d", tc.path, got, i+1)
		}
		id := r.Header.Get("X-Request-Id")
		if line := f.accessLog(t, id); line["status"] != float64(500) {
			t.Errorf("%s: access log status %v, want 500", tc.path, line["status"])
		}
		var found bool
		for _, l := range f.log.lines(t) {
			if l["msg"] == "panic serving a request" && l["request_id"] == id {
				found = true
				if l["panic"] != tc.logged || !strings.Contains(l["stack"].(string), "RoundTrip") {
					t.Errorf("%s: logged panic %q, want %q, and a stack through RoundTrip", tc.path, l["panic"], tc.logged)
				}
			}
		}
		if !found {
			t.Errorf("%s: no panic log line with request ID %s", tc.path, id)
		}
	}
	if strings.Contains(f.log.String(), "secret-from-the-caller") {
		t.Errorf("the log quotes the request:\n%s", f.log.String())
	}
	if got := f.do(t, "GET", "/ping", nil, nil); got.StatusCode != 200 || string(got.body) != "\"pong\"\n" {
		t.Errorf("after the panics: %d %s, want 200 \"pong\"", got.StatusCode, got.body)
	}
}
