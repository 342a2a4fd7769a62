package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// syncBuffer is the access log's destination. slog serialises its own
// writes, but a test reads the buffer while requests may still be logging.
type syncBuffer struct{ testutil.SyncBuffer }

// lines decodes every JSON log line.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// fixture is a gateway served on loopback, with its log and metrics.
type fixture struct {
	gw      *server.Gateway
	metrics *metrics.Metrics
	log     *syncBuffer
	srv     *httptest.Server
	client  *http.Client
}

// newFixture starts a gateway and loads snap into it unless snap is nil.
func newFixture(t *testing.T, snap *snapshot.Snapshot) *fixture {
	t.Helper()
	return newLimitedFixture(t, snap, server.DefaultLimits())
}

// newLimitedFixture is newFixture with other limits than the flags' defaults.
func newLimitedFixture(t *testing.T, snap *snapshot.Snapshot, limits server.Limits) *fixture {
	t.Helper()
	f := &fixture{log: &syncBuffer{}, metrics: metrics.New()}
	gw, err := server.New(slog.New(slog.NewJSONHandler(f.log, nil)), f.metrics)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	gw.SetLimits(limits)
	f.gw = gw
	if snap != nil {
		if err := gw.Load(snap); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
	f.srv = httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	f.client = noRedirectClient(f.srv)
	return f
}

// noRedirectClient is the server's client, told not to follow redirects so
// that a test sees the gateway's 302 itself.
func noRedirectClient(srv *httptest.Server) *http.Client {
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 30 * time.Second
	return &c
}

// reply is a response with its body read.
type reply struct {
	*http.Response
	body []byte
}

// do sends a request to the gateway over the wire.
func (f *fixture) do(t testing.TB, method, path string, header http.Header, body io.Reader) reply {
	t.Helper()
	return send(t, f.client, method, f.srv.URL+path, header, body)
}

func send(t testing.TB, c *http.Client, method, url string, header http.Header, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{resp, data}
}

// json decodes a JSON response body.
func (r reply) json(t testing.TB) any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, r.body)
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return v
}

// wantOK fails unless the status is 200, and returns the decoded JSON body.
func (r reply) wantOK(t testing.TB) map[string]any {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.StatusCode, r.body)
	}
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", r.body)
	}
	return m
}

// problemDoc is an RFC 9457 problem document as the gateway writes it.
type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
	Errors    []struct {
		Pointer *string `json:"pointer"`
		Message string  `json:"message"`
	} `json:"errors"`
}

// wantProblem checks that r is a problem document with the given status,
// consistent with the response's status and X-Request-Id, and returns it.
func (r reply) wantProblem(t testing.TB, status int) problemDoc {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var p problemDoc
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, r.body)
	}
	if p.Status != status {
		t.Errorf("problem status = %d, want %d", p.Status, status)
	}
	if p.Type != "about:blank" {
		t.Errorf("problem type = %q, want about:blank", p.Type)
	}
	if p.Title == "" {
		t.Errorf("problem has no title: %s", r.body)
	}
	if p.Detail == "" {
		t.Errorf("problem has no detail: %s", r.body)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-Id") {
		t.Errorf("problem requestId = %q, X-Request-Id = %q; want equal and set", p.RequestID, r.Header.Get("X-Request-Id"))
	}
	return p
}

// accessLog waits for the access log line of the request with ID id: the
// gateway writes it as the handler returns, which is before a small
// response leaves the server, but nothing promises that.
func (f *fixture) accessLog(t testing.TB, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range f.log.lines(t) {
			if l["msg"] == "request" && l["request_id"] == id {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s in:\n%s", id, f.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counterValue is the value of a counter or gauge of the registry whose
// labels include want; 0 when there is no such series.
func (f *fixture) counterValue(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	families, err := f.metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// labelValues lists the values a label takes in a metric family.
func (f *fixture) labelValues(t testing.TB, name, label string) []string {
	t.Helper()
	families, err := f.metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var out []string
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

// newSnapshot is a valid snapshot of environment shop/prod with routes.
func newSnapshot(generation int64, routes ...snapshot.Route) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Header: snapshot.Header{Version: snapshot.Version, Namespace: "shop", Environment: "prod", Generation: generation, Settings: snapshot.Settings{
			MaxRequestBytes: 1 << 20,
			RequestTimeout:  snapshot.Duration(10 * time.Second),
		}, Variables: map[string]string{"region": "eu-west"}},
		Routes: routes,
	}
}

// openRoute is an unauthenticated route whose response body is body, after steps.
func openRoute(name, method, path, body string, steps ...v1alpha1.Step) snapshot.Route {
	return snapshot.Route{
		Name: name, Generation: 1, Method: method, Path: path,
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone},
		Steps:          steps,
		Response:       v1alpha1.Response{Body: body},
	}
}

func ptr[T any](v T) *T { return &v }
