package server_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// TestUpstreamStatuses runs http steps against real upstreams on loopback.
func TestUpstreamStatuses(t *testing.T) {
	downAddr := testutil.UnusedAddr(t)
	_, downPort, _ := net.SplitHostPort(downAddr)

	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) }) // runs before hanging.Close
	_, hangPort, _ := net.SplitHostPort(strings.TrimPrefix(hanging.URL, "http://"))

	stock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sku": "` + r.URL.Query().Get("sku") + `", "stock": 3}`))
	}))
	t.Cleanup(stock.Close)

	shortTimeout := testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: hanging.URL + "/slow"})
	shortTimeout.HTTP.Timeout = "50ms"
	snap := newSnapshot(1,
		openRoute("down", "GET", "/down", `steps.call.body`, testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: "http://" + downAddr + "/inventory"})),
		openRoute("hang", "GET", "/hang", `steps.call.body`, testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: hanging.URL + "/inventory"})),
		openRoute("step-timeout", "GET", "/step-timeout", `steps.call.body`, shortTimeout),
		openRoute("stock", "GET", "/stock/{sku}", `{'sku': steps.call.body.sku, 'stock': steps.call.body.stock, 'status': steps.call.status}`,
			testutil.HTTPStep("call", v1alpha1.HTTPOperation{URL: stock.URL + "/stock?sku={{ request.params.sku }}"})),
	)
	snap.Settings.RequestTimeout = snapshot.Duration(100 * time.Millisecond)
	f := newFixture(t, snap)

	t.Run("upstream up", func(t *testing.T) {
		got := f.do(t, "GET", "/stock/abc-1", nil, nil).wantOK(t)
		if got["sku"] != "abc-1" || got["stock"] != float64(3) || got["status"] != float64(200) {
			t.Errorf("body %v", got)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		r := f.do(t, "GET", "/down", nil, nil)
		p := r.wantProblem(t, http.StatusBadGateway)
		if p.Title != "Upstream request failed" || !strings.Contains(p.Detail, "step call") {
			t.Errorf("title %q, detail %q", p.Title, p.Detail)
		}
		for _, leak := range []string{"127.0.0.1", downPort, "inventory", "refused"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("the problem reveals %q: %s", leak, r.body)
			}
		}
		// The gateway's log says why, next to the access line.
		id := r.Header.Get("X-Request-Id")
		f.accessLog(t, id)
		found := false
		for _, l := range f.log.lines(t) {
			if l["msg"] == "request failed" && l["request_id"] == id && l["step"] == "call" && l["title"] == p.Title {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line says why request %s failed:\n%s", id, f.log.String())
		}
	})
	t.Run("upstream hangs past the request timeout", func(t *testing.T) {
		start := time.Now()
		r := f.do(t, "GET", "/hang", nil, nil)
		elapsed := time.Since(start)
		p := r.wantProblem(t, http.StatusGatewayTimeout)
		if p.Title != "Request timed out" {
			t.Errorf("title %q", p.Title)
		}
		if elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
			t.Errorf("answered after %v, want about the request timeout of 100ms", elapsed)
		}
		if strings.Contains(string(r.body), hangPort) {
			t.Errorf("the problem reveals the upstream's port: %s", r.body)
		}
	})
	t.Run("upstream hangs past the step timeout", func(t *testing.T) {
		p := f.do(t, "GET", "/step-timeout", nil, nil).wantProblem(t, http.StatusGatewayTimeout)
		if p.Title != "Upstream request timed out" || !strings.Contains(p.Detail, "step call") {
			t.Errorf("title %q, detail %q", p.Title, p.Detail)
		}
	})
}

func TestResponses(t *testing.T) {
	withHeaders := func(r v1alpha1.Response, h map[string]string) v1alpha1.Response { r.Headers = h; return r }
	route := func(name, path string, resp v1alpha1.Response, steps ...v1alpha1.Step) snapshot.Route {
		r := openRoute(name, "GET", path, "", steps...)
		r.Response = resp
		return r
	}
	f := newFixture(t, newSnapshot(1,
		route("redirect", "/docs/{id}", v1alpha1.Response{Redirect: "https://docs.example.com/orders/{{ request.params.id }}"}),
		route("early", "/early", v1alpha1.Response{Body: `'not reached'`},
			v1alpha1.Step{Name: "login", Respond: &v1alpha1.RespondOperation{Status: ptr(int32(303)), Redirect: "/login?next={{ request.path }}"}}),
		route("text", "/hello/{name}", withHeaders(v1alpha1.Response{Body: `'hello, ' + request.params.name`},
			map[string]string{"Content-Type": "text/plain; charset=utf-8"})),
		route("xml", "/xml", withHeaders(v1alpha1.Response{Body: `'<ok>true</ok>'`}, map[string]string{"Content-Type": "application/xml"})),
		route("json", "/json/{name}", v1alpha1.Response{Body: `{'greeting': 'hello, ' + request.params.name, 'html': '<b>&</b>'}`}),
		route("json-string", "/json-string", v1alpha1.Response{Body: `'hello'`}),
		route("created", "/created/{name}", v1alpha1.Response{Status: ptr(int32(201)), Body: `{'id': request.params.name}`,
			Headers: map[string]string{"X-Resource": "/things/{{ request.params.name }}"}}),
		route("default-body", "/default", v1alpha1.Response{}, testutil.TransformStep("last", `{'from': 'last step'}`)),
		route("broken", "/broken", v1alpha1.Response{Body: `request.body.missing`}),
		route("nan", "/nan", v1alpha1.Response{Body: `{'ratio': 0.0 / 0.0}`, Headers: map[string]string{"X-Partial": "yes"}}),
	))
	tests := []struct {
		path        string
		status      int
		contentType string
		body        string
		headers     map[string]string
	}{
		{path: "/docs/ord-7", status: 302, body: "", headers: map[string]string{"Location": "https://docs.example.com/orders/ord-7", "Content-Length": "0"}},
		{path: "/early", status: 303, body: "", headers: map[string]string{"Location": "/login?next=/early"}},
		{path: "/hello/ada", status: 200, contentType: "text/plain; charset=utf-8", body: "hello, ada", headers: map[string]string{"Content-Length": "10"}},
		{path: "/xml", status: 200, contentType: "application/xml", body: "<ok>true</ok>"},
		{path: "/json/ada", status: 200, contentType: "application/json", body: `{"greeting":"hello, ada","html":"<b>&</b>"}` + "\n"},
		{path: "/json-string", status: 200, contentType: "application/json", body: `"hello"` + "\n"},
		{path: "/created/x1", status: 201, contentType: "application/json", body: `{"id":"x1"}` + "\n", headers: map[string]string{"X-Resource": "/things/x1"}},
		{path: "/default", status: 200, contentType: "application/json", body: `{"from":"last step"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := f.do(t, "GET", tt.path, nil, nil)
			if r.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.StatusCode, tt.status, r.body)
			}
			if got := r.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if string(r.body) != tt.body {
				t.Errorf("body = %q, want %q", r.body, tt.body)
			}
			for k, v := range tt.headers {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id")
			}
		})
	}
	t.Run("body not encodable as JSON", func(t *testing.T) {
		r := f.do(t, "GET", "/nan", nil, nil)
		p := r.wantProblem(t, http.StatusInternalServerError)
		if p.Title != "Invalid value" || !strings.Contains(p.Detail, "JSON") {
			t.Errorf("title %q, detail %q", p.Title, p.Detail)
		}
		if r.Header.Get("X-Partial") != "" {
			t.Errorf("the failed response's headers were sent with the problem")
		}
	})
	t.Run("expression failure", func(t *testing.T) {
		p := f.do(t, "GET", "/broken", nil, nil).wantProblem(t, http.StatusInternalServerError)
		if p.Title != "Expression failed" || !strings.Contains(p.Detail, "response.body") {
			t.Errorf("title %q, detail %q", p.Title, p.Detail)
		}
	})
}
