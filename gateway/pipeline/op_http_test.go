package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/upstream"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// seen is what an upstream received.
type seen struct {
	mu         sync.Mutex
	method     string
	requestURI string
	path       string
	query      map[string][]string
	header     http.Header
	host       string
	body       string
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.method, s.requestURI, s.path, s.query = r.Method, r.RequestURI, r.URL.Path, r.URL.Query()
	s.header, s.host, s.body = r.Header.Clone(), r.Host, string(b)
}

func TestHTTPJSON(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id": 42, "tags": ["x"], "price": 1.5}`)
	}))
	defer srv.Close()

	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		Method:  "POST",
		URL:     srv.URL + "/orders/{{ request.params.id }}?fixed=1",
		Headers: map[string]string{"X-Api-Key": "{{ secrets.apiKey }}", "Host": "upstream.example"},
		Query:   map[string]string{"q": "{{ request.query.q }}", "region": "{{ vars.region }}"},
		Body:    `{'id': request.params.id, 'n': 1}`,
	})}, v1alpha1.Response{})
	req := &request{Params: map[string]string{"id": "a b/c"}, Query: map[string]any{"q": "x&y=z"}}
	res := mustRun(t, r, testRuntime(), req)

	want := map[string]any{
		"status": int64(201),
		"body":   map[string]any{"id": int64(42), "tags": []any{"x"}, "price": 1.5},
	}
	out := res.Body.(map[string]any)
	headers := out["headers"].(map[string]any)
	delete(out, "headers")
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if headers["x-multi"] != "a, b" || headers["content-type"] != "application/problem+json; charset=utf-8" {
		t.Errorf("headers = %v", headers)
	}

	got.mu.Lock()
	defer got.mu.Unlock()
	if got.method != "POST" {
		t.Errorf("method = %s", got.method)
	}
	if got.requestURI != "/orders/a%20b%2Fc?fixed=1&q=x%26y%3Dz&region=eu" {
		t.Errorf("request URI = %s", got.requestURI)
	}
	if got.header.Get("X-Api-Key") != "s3cr3t-api-key" || got.header.Get("Content-Type") != "application/json" || got.host != "upstream.example" {
		t.Errorf("headers = %v, host %s", got.header, got.host)
	}
	if got.body != `{"id":"a b/c","n":1}` {
		t.Errorf("body = %s", got.body)
	}
}

func TestHTTPText(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<ok/>`)
	}))
	defer srv.Close()

	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("send", v1alpha1.HTTPOperation{
		Method:   "PUT",
		URL:      srv.URL + "/text",
		BodyText: "name={{ request.body.name }}",
	})}, body(`steps.send.body`))
	res := mustRun(t, r, testRuntime(), &request{Body: map[string]any{"name": "Ada <3"}})
	if res.Body != "<ok/>" {
		t.Errorf("body = %#v", res.Body)
	}
	got.mu.Lock()
	if got.method != "PUT" || got.body != "name=Ada <3" || got.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("upstream saw %s %q %v", got.method, got.body, got.header)
	}
	got.mu.Unlock()

	t.Run("content type set by a header", func(t *testing.T) {
		r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("send", v1alpha1.HTTPOperation{
			Method: "POST", URL: srv.URL + "/text", Body: `{'a': 1}`,
			Headers: map[string]string{"content-type": "application/vnd.x+json"},
		})}, v1alpha1.Response{})
		mustRun(t, r, testRuntime(), nil)
		got.mu.Lock()
		defer got.mu.Unlock()
		if ct := got.header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/vnd.x+json" {
			t.Errorf("content type = %v", ct)
		}
	})
}

func TestHTTPDefaultsAndEmptyBodies(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		if r.URL.Path == "/json-empty" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	r := compileEndpoint(t, "h", []v1alpha1.Step{
		testutil.HTTPStep("plain", v1alpha1.HTTPOperation{URL: srv.URL + "/plain"}),
		testutil.HTTPStep("empty", v1alpha1.HTTPOperation{URL: srv.URL + "/json-empty"}),
	}, body(`[steps.plain.status, steps.plain.body, steps.empty.status, steps.empty.body]`))
	res := mustRun(t, r, testRuntime(), nil)
	if diff := cmp.Diff([]any{int64(200), "", int64(204), nil}, res.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if got.method != "GET" || got.header.Get("Content-Type") != "" {
		t.Errorf("upstream saw %s %v", got.method, got.header)
	}
}

func TestHTTPPathEscaping(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.record(r) }))
	defer srv.Close()
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: srv.URL + "/users/{{ request.params.id }}/profile",
	})}, v1alpha1.Response{})

	for id, wantURI := range map[string]string{
		"../admin":    "/users/..%2Fadmin/profile",
		"a?b=c#d":     "/users/a%3Fb%3Dc%23d/profile",
		"%2e%2e":      "/users/%252e%252e/profile",
		"...":         "/users/.../profile",
		"x/../../etc": "/users/x%2F..%2F..%2Fetc/profile",
	} {
		mustRun(t, r, testRuntime(), &request{Params: map[string]string{"id": id}})
		got.mu.Lock()
		uri, path := got.requestURI, got.path
		got.mu.Unlock()
		if uri != wantURI {
			t.Errorf("id %q: upstream request URI = %s, want %s", id, uri, wantURI)
		}
		if !strings.HasPrefix(path, "/users/") || !strings.HasSuffix(path, "/profile") {
			t.Errorf("id %q: upstream path = %s", id, path)
		}
	}
	for _, id := range []string{"..", "."} {
		e := runError(t, r, testRuntime(), &request{Params: map[string]string{"id": id}}, 400)
		if e.Title != TitleInvalidURLValue || e.Step != "fetch" {
			t.Errorf("id %q: error = %+v", id, e)
		}
	}
}

func TestHTTPBadScheme(t *testing.T) {
	// The host comes from configuration, and configuration can be wrong:
	// an empty host is refused when the request is built.
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: "http://{{ vars.host }}/x",
	})}, v1alpha1.Response{})
	rt := testRuntime()
	rt.Vars = map[string]string{"host": ""}
	e := runError(t, r, rt, &request{}, 502)
	if e.Title != TitleUpstreamFailed {
		t.Errorf("error = %+v", e)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	addr := testutil.UnusedAddr(t)
	_, port, _ := net.SplitHostPort(addr)

	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: "http://" + addr + "/secret-path?key={{ secrets.apiKey }}",
	})}, v1alpha1.Response{})
	e := runError(t, r, testRuntime(), nil, 502)
	if e.Title != TitleUpstreamFailed || e.Step != "fetch" {
		t.Errorf("error = %+v", e)
	}
	for _, s := range []string{e.Detail, e.Error()} {
		for _, leak := range []string{"127.0.0.1", port, "secret-path", "s3cr3t", "http://"} {
			if strings.Contains(s, leak) {
				t.Errorf("error text %q contains %q", s, leak)
			}
		}
	}

	t.Run("onError Continue", func(t *testing.T) {
		r := compileEndpoint(t, "h", []v1alpha1.Step{
			{Name: "fetch", OnError: v1alpha1.OnErrorContinue, HTTP: &v1alpha1.HTTPOperation{URL: "http://" + addr + "/x"}},
			testutil.TransformStep("fallback", `has(steps.fetch.error) ? 'fallback' : 'upstream'`),
		}, body(`{'fetch': steps.fetch, 'answer': steps.fallback}`))
		res := mustRun(t, r, testRuntime(), nil)
		want := map[string]any{
			"fetch":  map[string]any{"error": TitleUpstreamFailed + ": connection to the upstream failed"},
			"answer": "fallback",
		}
		if diff := cmp.Diff(want, res.Body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	})
}

// hangingServer answers only when the client gives up.
func hangingServer(t *testing.T) (*httptest.Server, <-chan struct{}) {
	arrived := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, arrived
}

func TestHTTPTimeout(t *testing.T) {
	srv, _ := hangingServer(t)
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("slow", v1alpha1.HTTPOperation{
		URL: srv.URL + "/slow", Timeout: "50ms",
	})}, v1alpha1.Response{})
	e := runError(t, r, testRuntime(), nil, 504)
	if e.Title != TitleUpstreamTimeout || e.Step != "slow" || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("error = %+v", e)
	}
	if strings.Contains(e.Detail, "127.0.0.1") {
		t.Errorf("detail %q names the upstream", e.Detail)
	}

	t.Run("request deadline", func(t *testing.T) {
		r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("slow", v1alpha1.HTTPOperation{URL: srv.URL + "/slow"})}, v1alpha1.Response{})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := r.run(ctx, testRuntime(), &request{}, nil)
		var e *RunError
		if !errors.As(err, &e) || e.Status != 504 || e.Title != TitleRequestTimeout {
			t.Errorf("Run = %v, want 504 request timeout", err)
		}
	})

	t.Run("client goes away", func(t *testing.T) {
		srv, arrived := hangingServer(t)
		r := compileEndpoint(t, "h", []v1alpha1.Step{
			{Name: "slow", OnError: v1alpha1.OnErrorContinue, HTTP: &v1alpha1.HTTPOperation{URL: srv.URL + "/slow"}},
		}, v1alpha1.Response{})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := r.run(ctx, testRuntime(), &request{}, nil)
		var e *RunError
		if !errors.Is(err, context.Canceled) || errors.As(err, &e) {
			t.Errorf("Run = %v, want the bare context.Canceled even with onError Continue", err)
		}
	})
}

func TestHTTPResponseTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload := strings.Repeat("x", 1000)
		if r.URL.Path == "/chunked" {
			// No Content-Length: the limit is found while reading.
			_, _ = io.WriteString(w, payload[:500])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, payload[500:])
			return
		}
		_, _ = io.WriteString(w, payload)
	}))
	defer srv.Close()
	for _, path := range []string{"/sized", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("big", v1alpha1.HTTPOperation{URL: srv.URL + path})}, v1alpha1.Response{})
			rt := testRuntime()
			rt.MaxUpstreamBodyBytes = 100
			e := runError(t, r, rt, nil, 502)
			if e.Title != TitleUpstreamTooLarge || e.Step != "big" {
				t.Errorf("error = %+v", e)
			}
			rt.MaxUpstreamBodyBytes = 1000
			if res := mustRun(t, r, rt, nil); len(res.Body.(map[string]any)["body"].(string)) != 1000 {
				t.Errorf("a body of exactly the limit is accepted")
			}
		})
	}
}

func TestHTTPNon2xxAndBadJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/bad" {
			_, _ = io.WriteString(w, `{"truncated":`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error": "not found"}`)
	}))
	defer srv.Close()
	r := compileEndpoint(t, "h", []v1alpha1.Step{
		testutil.HTTPStep("missing", v1alpha1.HTTPOperation{URL: srv.URL + "/missing"}),
	}, body(`steps.missing.status == 404 ? steps.missing.body : 'unexpected'`))
	res := mustRun(t, r, testRuntime(), nil)
	if diff := cmp.Diff(map[string]any{"error": "not found"}, res.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	r = compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("bad", v1alpha1.HTTPOperation{URL: srv.URL + "/bad"})}, v1alpha1.Response{})
	e := runError(t, r, testRuntime(), nil, 502)
	if e.Title != TitleUpstreamInvalid {
		t.Errorf("error = %+v", e)
	}
}

func TestHTTPInvalidHeaderValue(t *testing.T) {
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL:     "http://127.0.0.1:1/x",
		Headers: map[string]string{"X-Value": "{{ request.body }}"},
	})}, v1alpha1.Response{})
	e := runError(t, r, testRuntime(), &request{Body: "a\nb"}, 500)
	if e.Title != TitleInvalidHeader || e.Step != "fetch" {
		t.Errorf("error = %+v", e)
	}
}

func TestHTTPUsesRuntimeClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Via"))
	}))
	defer srv.Close()
	rt := testRuntime()
	rt.HTTPClient = upstream.NewStandard(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Header.Set("X-Via", "runtime client")
		return http.DefaultTransport.RoundTrip(r)
	})})
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{URL: srv.URL})}, body(`steps.fetch.body`))
	if res := mustRun(t, r, rt, nil); res.Body != "runtime client" {
		t.Errorf("body = %v", res.Body)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "application/hal+json": true,
		"text/plain": false, "": false, "application/jsonx": false, "application/json;;bad": true,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestHTTPBaseURLVariable shows that a URL may start with an Environment
// variable holding the upstream's base URL, inserted as is, while every
// other inserted value stays escaped.
func TestHTTPBaseURLVariable(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.record(r) }))
	defer srv.Close()
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: "{{ vars.base }}/pets/{{ request.params.id }}",
	})}, v1alpha1.Response{})
	rt := testRuntime()
	rt.Vars = map[string]string{"base": srv.URL + "/api"}
	mustRun(t, r, rt, &request{Params: map[string]string{"id": "../admin"}})
	got.mu.Lock()
	defer got.mu.Unlock()
	if got.requestURI != "/api/pets/..%2Fadmin" {
		t.Fatalf("upstream saw %q, want /api/pets/..%%2Fadmin", got.requestURI)
	}
}

func TestHTTPURLMustNotStartWithARequestValue(t *testing.T) {
	for _, url := range []string{"{{ request.query.target }}/x", "{{ vars.base + request.path }}", "{{ secrets.base }}/x", "x{{ vars.base }}",
		"{{ vars.base }}{{ request.params.port }}/x", "http://{{ request.query.host }}:8080/x",
		"https://api.{{ request.params.tenant }}.example.com/x", "http://{{ vars.host }}:{{ request.query.port }}/x"} {
		_, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: "h", Method: "GET", Path: "/h",
			Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone},
			Steps:          []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{URL: url})}})
		var perr *CompileError
		if !errors.As(err, &perr) || perr.Reason != v1alpha1.ReasonInvalidSpec || !strings.Contains(perr.Message, "vars.") {
			t.Errorf("Compile(url %q) = %v, want InvalidSpec", url, err)
		}
	}
}

// TestHTTPHostFromVariables shows variables building scheme, host and port,
// inserted as they are, with the path's values still escaped.
func TestHTTPHostFromVariables(t *testing.T) {
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.record(r) }))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: "http://{{ vars.host }}:{{ vars.port }}/a/{{ request.params.id }}",
	})}, v1alpha1.Response{})
	rt := testRuntime()
	rt.Vars = map[string]string{"host": host, "port": port}
	mustRun(t, r, rt, &request{Params: map[string]string{"id": "x/y"}})
	got.mu.Lock()
	defer got.mu.Unlock()
	if got.requestURI != "/a/x%2Fy" {
		t.Fatalf("upstream saw %q", got.requestURI)
	}
}

// TestHTTPRedirectsAreNotFollowed: a redirect is the upstream's answer; the
// step's headers, API keys included, never reach the host it names.
func TestHTTPRedirectsAreNotFollowed(t *testing.T) {
	var other seen
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.record(r) }))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusFound)
	}))
	defer redirecting.Close()
	r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
		URL: redirecting.URL + "/data", Headers: map[string]string{"X-Api-Key": "{{ secrets.apiKey }}"},
	})}, v1alpha1.Response{})
	res := mustRun(t, r, testRuntime(), &request{})
	out := res.Body.(map[string]any)
	if out["status"] != int64(302) || !strings.HasSuffix(out["headers"].(map[string]any)["location"].(string), "/steal") {
		t.Fatalf("output = %v, want the 302 itself", out)
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if other.method != "" {
		t.Fatalf("the redirect was followed with header %q", other.header.Get("X-Api-Key"))
	}
}

func compileHTTPStep(t *testing.T, op v1alpha1.HTTPOperation) error {
	t.Helper()
	_, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: "h", Method: "GET", Path: "/h",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone},
		Steps:          []v1alpha1.Step{testutil.HTTPStep("fetch", op)}})
	return err
}

// TestHTTPHostHeaderFromConfiguration: the Host header picks the site an
// upstream serves, so only configuration may build it.
func TestHTTPHostHeaderFromConfiguration(t *testing.T) {
	for name, value := range map[string]string{
		"Host": "{{ request.headers['x-tenant'] }}",
		"host": "{{ request.query.tenant }}.example.com",
		"HOST": "{{ secrets.apiKey }}",
	} {
		err := compileHTTPStep(t, v1alpha1.HTTPOperation{URL: "http://api.example.com/x", Headers: map[string]string{name: value}})
		var perr *CompileError
		if !errors.As(err, &perr) || perr.Reason != v1alpha1.ReasonInvalidSpec ||
			perr.Field != "spec.steps[0].http.headers["+name+"]" || !strings.Contains(perr.Message, "vars.") {
			t.Errorf("Compile(%s: %s) = %v, want InvalidSpec at its field", name, value, err)
		}
	}
	// Pseudo-headers are not header names at all.
	err := compileHTTPStep(t, v1alpha1.HTTPOperation{URL: "http://api.example.com/x", Headers: map[string]string{":authority": "evil.example"}})
	var perr *CompileError
	if !errors.As(err, &perr) || perr.Field != "spec.steps[0].http.headers[:authority]" {
		t.Errorf("Compile(:authority) = %v, want it refused", err)
	}

	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.record(r) }))
	defer srv.Close()
	rt := testRuntime()
	rt.Vars = map[string]string{"tenant": "acme"}
	for value, want := range map[string]string{
		"api.example.com":                 "api.example.com",
		"{{ vars.tenant }}.example.com":   "acme.example.com",
		"{{ vars.tenant }}":               "acme",
		"shop.{{ vars.tenant }}.internal": "shop.acme.internal",
	} {
		r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{
			URL: srv.URL + "/x", Headers: map[string]string{"Host": value},
		})}, v1alpha1.Response{})
		mustRun(t, r, rt, &request{})
		got.mu.Lock()
		host := got.host
		got.mu.Unlock()
		if host != want {
			t.Errorf("Host %q: upstream saw host %q, want %q", value, host, want)
		}
	}
}

// TestHTTPEmptyPathValue: an empty value in the path would make
// /users//orders, which names another resource, or none.
func TestHTTPEmptyPathValue(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	rt := testRuntime()
	rt.Vars = map[string]string{"base": srv.URL + "/api"}
	for _, url := range []string{
		srv.URL + "/users/{{ request.body.id }}/orders",
		"{{ vars.base }}/users/{{ request.body.id }}",
		srv.URL + "/users/v{{ request.body.id }}?all=true",
	} {
		r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{URL: url})}, v1alpha1.Response{})
		for _, id := range []any{"", nil} {
			e := runError(t, r, rt, &request{Body: map[string]any{"id": id}}, http.StatusBadRequest)
			if e.Title != TitleInvalidURLValue || e.Step != "fetch" || !strings.Contains(e.Detail, "empty") {
				t.Errorf("%s with id %v: error = %+v", url, id, e)
			}
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the upstream was called %d times", n)
	}

	// In the query or the fragment, an empty value is an empty value.
	for _, url := range []string{srv.URL + "/users?id={{ request.body.id }}", srv.URL + "/users#{{ request.body.id }}"} {
		r := compileEndpoint(t, "h", []v1alpha1.Step{testutil.HTTPStep("fetch", v1alpha1.HTTPOperation{URL: url})}, v1alpha1.Response{})
		mustRun(t, r, rt, &request{Body: map[string]any{"id": ""}})
	}
}
