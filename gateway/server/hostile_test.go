package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// hostileFixture serves, with the default 5 MiB body limit, an xmlToJson
// route whose last step's output is the response body (the shape that
// crashed the process), a JSON echo, and a ping to show that the gateway
// still serves.
func hostileFixture(t *testing.T) *fixture {
	t.Helper()
	xml := openRoute("xml", "POST", "/xml", "", v1alpha1.Step{Name: "parse", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: "request.text"}})
	xml.Response = v1alpha1.Response{}
	snap := newSnapshot(1, xml,
		openRoute("echo", "POST", "/echo", `request.body`),
		openRoute("ping", "GET", "/ping", `'pong'`))
	snap.Settings.MaxRequestBytes = 5 << 20
	return newFixture(t, snap)
}

func (f *fixture) stillServes(t *testing.T) {
	t.Helper()
	if r := f.do(t, "GET", "/ping", nil, nil); r.StatusCode != 200 || string(r.body) != "\"pong\"\n" {
		t.Fatalf("GET /ping afterwards: %d %s", r.StatusCode, r.body)
	}
}

// TestDepthBombs: documents nested past the limit get 400 saying so, and
// the gateway goes on serving. The XML one is the 5 MiB body that ended the
// process with a stack overflow.
func TestDepthBombs(t *testing.T) {
	f := hostileFixture(t)
	jsonType := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name, path string
		header     http.Header
		body       string
		title      string
		detail     string
	}{
		{name: "XML", path: "/xml", body: strings.Repeat("<a>", 748980) + strings.Repeat("</a>", 748980),
			title: "Invalid XML", detail: "step parse: the document nests elements more than 128 levels deep (line 1)"},
		{name: "JSON that encoding/json takes", path: "/echo", header: jsonType, body: strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
			title: "Bad request", detail: "the request body nests arrays and objects more than 128 levels deep (at byte 129)"},
		{name: "JSON of 5 MiB", path: "/echo", header: jsonType, body: strings.Repeat(`{"a":`, 1<<19) + strings.Repeat("}", 1<<19),
			title: "Bad request", detail: "the request body nests arrays and objects more than 128 levels deep (at byte 641)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.do(t, "POST", tc.path, tc.header, strings.NewReader(tc.body)).wantProblem(t, http.StatusBadRequest)
			if p.Title != tc.title || p.Detail != tc.detail {
				t.Errorf("problem %q: %q, want %q: %q", p.Title, p.Detail, tc.title, tc.detail)
			}
			f.stillServes(t)
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		deep := strings.Repeat("<a>", 128) + strings.Repeat("</a>", 128)
		if r := f.do(t, "POST", "/xml", nil, strings.NewReader(deep)); r.StatusCode != 200 {
			t.Errorf("XML of 128 levels: %d %s", r.StatusCode, r.body)
		}
		deep = strings.Repeat("[", 128) + strings.Repeat("]", 128)
		if r := f.do(t, "POST", "/echo", jsonType, strings.NewReader(deep)); r.StatusCode != 200 || string(r.body) != deep+"\n" {
			t.Errorf("JSON of 128 levels: %d %.200s", r.StatusCode, r.body)
		}
	})
}

// TestOverflowingNumbers: JSON numbers beyond float64 became infinities
// that failed later with 500; they are the caller's error.
func TestOverflowingNumbers(t *testing.T) {
	f := hostileFixture(t)
	for _, body := range []string{`{"n": 1e400}`, `[-1e400]`, `{"n": 1` + strings.Repeat("0", 309) + `}`} {
		p := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body)).wantProblem(t, http.StatusBadRequest)
		if !strings.HasPrefix(p.Detail, "the request body has a number beyond the range of a 64-bit float") {
			t.Errorf("%.20s: detail %q", body, p.Detail)
		}
	}
	// Beyond int64 but within float64 is a float, as it always was.
	r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`[9223372036854775808, 1e308]`))
	if r.StatusCode != 200 || string(r.body) != "[9223372036854776000,1e+308]\n" {
		t.Errorf("in range: %d %s", r.StatusCode, r.body)
	}
}

// TestLongPathIsNotEchoed: a 900 KB path gets its 404, whose problem and
// access log line repeat at most 1,024 bytes of it.
func TestLongPathIsNotEchoed(t *testing.T) {
	f := hostileFixture(t)
	path := "/" + strings.Repeat("a", 900<<10)
	r := f.do(t, "GET", path, nil, nil)
	p := r.wantProblem(t, http.StatusNotFound)
	const marker = "...(truncated)"
	if len(p.Instance) != 1024 || !strings.HasSuffix(p.Instance, marker) || !strings.HasPrefix(path, strings.TrimSuffix(p.Instance, marker)) {
		t.Errorf("instance has %d bytes (%.40s...%s), want 1024: the path's start and %q", len(p.Instance), p.Instance, p.Instance[len(p.Instance)-20:], marker)
	}
	if len(r.body) > 2048 {
		t.Errorf("the problem document has %d bytes", len(r.body))
	}
	if logged, _ := f.accessLog(t, r.Header.Get("X-Request-Id"))["path"].(string); logged != p.Instance {
		t.Errorf("access log path has %d bytes, want the instance's %d", len(logged), len(p.Instance))
	}
	for _, l := range strings.Split(f.log.String(), "\n") {
		if len(l) > 2048 {
			t.Errorf("a log line has %d bytes: %.100s", len(l), l)
		}
	}
	f.stillServes(t)
}
