package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestRouting(t *testing.T) {
	f := newFixture(t, newSnapshot(1,
		openRoute("order-get", "GET", "/orders/{id}", `{'route': 'param', 'id': request.params.id}`),
		openRoute("order-latest", "GET", "/orders/latest", `{'route': 'literal'}`),
		openRoute("order-delete", "DELETE", "/orders/{orderId}", `{'route': 'delete', 'id': request.params.orderId}`),
		openRoute("order-create", "POST", "/orders", `{'route': 'create'}`),
	))
	tests := []struct {
		method, path string
		status       int
		allow        string         // for 405
		want         map[string]any // body, for 200
	}{
		{method: "GET", path: "/orders/latest", status: 200, want: map[string]any{"route": "literal"}},
		{method: "GET", path: "/orders/ord-42", status: 200, want: map[string]any{"route": "param", "id": "ord-42"}},
		{method: "DELETE", path: "/orders/latest", status: 200, want: map[string]any{"route": "delete", "id": "latest"}},
		{method: "POST", path: "/orders", status: 200, want: map[string]any{"route": "create"}},
		{method: "GET", path: "/nothing/here", status: 404},
		{method: "GET", path: "/orders/ord-42/items", status: 404},
		{method: "GET", path: "/", status: 404},
		{method: "PUT", path: "/orders/ord-42", status: 405, allow: "DELETE, GET"},
		{method: "GET", path: "/orders", status: 405, allow: "POST"},
		{method: "PATCH", path: "/orders/latest", status: 405, allow: "DELETE, GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, nil, nil)
			if tt.status == 200 {
				got := r.wantOK(t)
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("body %s = %v, want %v (body %s)", k, got[k], v, r.body)
					}
				}
				return
			}
			p := r.wantProblem(t, tt.status)
			if p.Instance != tt.path {
				t.Errorf("instance = %q, want %q", p.Instance, tt.path)
			}
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			line := f.accessLog(t, r.Header.Get("X-Request-Id"))
			if line["appapi"] != "" || line["status"] != float64(tt.status) {
				t.Errorf("access log appapi=%v status=%v, want \"\" and %d", line["appapi"], line["status"], tt.status)
			}
		})
	}
}

// TestMethodLabelIsBounded sends requests with made-up methods: the
// requests_total series must not grow with what callers send.
func TestMethodLabelIsBounded(t *testing.T) {
	f := newFixture(t, newSnapshot(1, openRoute("ping", "GET", "/ping", `'pong'`)))
	for i := range 20 {
		method := fmt.Sprintf("BREW%d", i)
		r := f.do(t, method, "/ping", nil, nil)
		r.wantProblem(t, http.StatusMethodNotAllowed)
		line := f.accessLog(t, r.Header.Get("X-Request-Id"))
		if line["method"] != method {
			t.Errorf("access log method = %v, want %s", line["method"], method)
		}
	}
	f.do(t, "GET", "/ping", nil, nil).json(t)
	methods := f.labelValues(t, "appapi_gateway_requests_total", "method")
	slices.Sort(methods)
	methods = slices.Compact(methods)
	if want := []string{"GET", "OTHER"}; !slices.Equal(methods, want) {
		t.Errorf("method label values = %v, want %v", methods, want)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	const limit = 64
	snap := newSnapshot(1, openRoute("echo", "POST", "/echo", `{'size': size(request.text)}`))
	snap.Settings.MaxRequestBytes = limit
	f := newFixture(t, snap)
	// This server wraps the gateway to record how the body came.
	var lastTE atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastTE.Store(strings.Join(r.TransferEncoding, ","))
		f.gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	// A JSON body of n bytes.
	jsonOf := func(n int) string {
		s := `{"s":"` + strings.Repeat("x", n-8) + `"}`
		if len(s) != n {
			t.Fatalf("jsonOf(%d) has %d bytes", n, len(s))
		}
		return s
	}
	for _, tt := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"Content-Length at the limit", limit, false, 200},
		{"Content-Length one past the limit", limit + 1, false, 413},
		{"chunked at the limit", limit, true, 200},
		{"chunked one past the limit", limit + 1, true, 413},
		{"chunked far past the limit", 100 * limit, true, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(jsonOf(tt.size))
			if tt.chunked {
				// Hide the length: the client must send it chunked.
				body = io.MultiReader(body)
			}
			r := send(t, srv.Client(), "POST", srv.URL+"/echo", http.Header{"Content-Type": {"application/json"}}, body)
			if te, want := lastTE.Load(), map[bool]string{true: "chunked"}[tt.chunked]; te != want {
				t.Fatalf("the request arrived with Transfer-Encoding %q, want %q", te, want)
			}
			if tt.status == 200 {
				if got := r.wantOK(t); got["size"] != float64(tt.size) {
					t.Errorf("size(request.text) = %v, want %d", got["size"], tt.size)
				}
				return
			}
			p := r.wantProblem(t, 413)
			if !strings.Contains(p.Detail, "64 bytes") {
				t.Errorf("detail %q does not state the limit", p.Detail)
			}
		})
	}
}

// countingReader is an endless body that counts what was read from it.
type countingReader struct {
	n     atomic.Int64
	limit int64 // EOF after this many bytes; 0 for never
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 {
		left := c.limit - c.n.Load()
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	for i := range p {
		p[i] = 'a'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestRequestBodyReadsAtMostLimitPlusOne checks, below net/http, that the
// gateway stops reading a body of unknown length one byte past the limit.
func TestRequestBodyReadsAtMostLimitPlusOne(t *testing.T) {
	const limit = 1000
	snap := newSnapshot(1, openRoute("echo", "POST", "/echo", `{'size': size(request.text)}`))
	snap.Settings.MaxRequestBytes = limit
	f := newFixture(t, snap)
	for _, tt := range []struct {
		name   string
		size   int64 // 0: endless
		status int
	}{
		{"endless body", 0, 413},
		{"one past the limit", limit + 1, 413},
		{"at the limit", limit, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingReader{limit: tt.size}
			req := httptest.NewRequest("POST", "/echo", body)
			req.ContentLength = -1
			req.TransferEncoding = []string{"chunked"}
			req.Header.Set("Content-Type", "text/plain")
			rec := httptest.NewRecorder()
			f.gw.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if n := body.n.Load(); n > limit+1 {
				t.Errorf("the gateway read %d bytes of the body, want at most %d", n, limit+1)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	f := newFixture(t, newSnapshot(1,
		openRoute("echo", "POST", "/echo", `{'body': request.body, 'text': request.text}`),
		openRoute("greet", "POST", "/greet", `{'greeting': 'hello ' + request.body.name, 'tags': request.body.tag}`),
		openRoute("sum", "POST", "/sum", `{'next': request.body.quantity + 1, 'half': request.body.price / 2.0}`),
	))
	t.Run("malformed JSON", func(t *testing.T) {
		for _, body := range []string{
			`{"password": "hunter2-do-not-echo"`,
			`{"password": "hunter2-do-not-echo",}`,
			`{"password": "hunter2-do-not-echo"} {"again": true}`,
			`{"password": "hunter2-do-not-echo"}}`,
			`{"password": "hunter2-do-not-echo"}]`,
			`hunter2-do-not-echo`,
		} {
			r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
			p := r.wantProblem(t, 400)
			if !strings.Contains(p.Detail, "not valid JSON") {
				t.Errorf("%s: detail %q does not say the body is not JSON", body, p.Detail)
			}
			if strings.Contains(string(r.body), "hunter2") || strings.Contains(string(r.body), "password") {
				t.Errorf("%s: the problem echoes the body: %s", body, r.body)
			}
		}
	})
	t.Run("JSON numbers", func(t *testing.T) {
		r := f.do(t, "POST", "/sum", http.Header{"Content-Type": {"application/json; charset=utf-8"}},
			strings.NewReader(`{"quantity": 41, "price": 3.5}`))
		if got := r.wantOK(t); got["next"] != float64(42) || got["half"] != 1.75 {
			t.Errorf("body %s, want next 42 and half 1.75", r.body)
		}
	})
	t.Run("+json media type", func(t *testing.T) {
		r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/merge-patch+json"}}, strings.NewReader(`{"a": [1, "b"]}`))
		got := r.wantOK(t)
		if b, _ := json.Marshal(got["body"]); string(b) != `{"a":[1,"b"]}` {
			t.Errorf("request.body = %s", b)
		}
	})
	t.Run("form", func(t *testing.T) {
		r := f.do(t, "POST", "/greet", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			strings.NewReader("name=Ada+Lovelace&tag=a&tag=b"))
		got := r.wantOK(t)
		if got["greeting"] != "hello Ada Lovelace" {
			t.Errorf("greeting = %v", got["greeting"])
		}
		if tags, _ := json.Marshal(got["tags"]); string(tags) != `["a","b"]` {
			t.Errorf("tags = %s, want [\"a\",\"b\"]", tags)
		}
	})
	t.Run("text", func(t *testing.T) {
		r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, strings.NewReader("just some text {not json"))
		got := r.wantOK(t)
		if got["body"] != "just some text {not json" || got["text"] != "just some text {not json" {
			t.Errorf("body %s, want request.body and request.text to be the text", r.body)
		}
	})
	t.Run("no body", func(t *testing.T) {
		r := f.do(t, "POST", "/echo", http.Header{"Content-Type": {"application/json"}}, nil)
		got := r.wantOK(t)
		if got["body"] != nil || got["text"] != "" {
			t.Errorf("body %s, want request.body null and request.text empty", r.body)
		}
	})
}

func TestQuery(t *testing.T) {
	route := openRoute("calc", "GET", "/calc", `{'next': request.query.n + 1, 'query': request.query}`)
	route.Query = []v1alpha1.QueryParameter{
		{Name: "n", Type: v1alpha1.QueryInteger, Required: true},
		{Name: "limit", Type: v1alpha1.QueryInteger, Default: ptr("10")},
		{Name: "exact", Type: v1alpha1.QueryBoolean},
	}
	f := newFixture(t, newSnapshot(1, route))
	tests := []struct {
		name, raw string
		status    int
		next      float64
		query     map[string]any // expected entries of request.query
		detail    []string       // substrings of the problem detail
	}{
		{name: "declared integer", raw: "n=41", status: 200, next: 42, query: map[string]any{"n": float64(41), "limit": float64(10)}},
		{name: "default overridden", raw: "n=1&limit=5", status: 200, next: 2, query: map[string]any{"limit": float64(5)}},
		{name: "boolean", raw: "n=1&exact=true", status: 200, next: 2, query: map[string]any{"exact": true}},
		{name: "undeclared kept as string", raw: "n=1&page=7&sort=name", status: 200, next: 2, query: map[string]any{"page": "7", "sort": "name"}},
		{name: "first of repeated values", raw: "n=1&n=9", status: 200, next: 2},
		{name: "bad integer", raw: "n=forty-one", status: 400, detail: []string{`"n"`, "not an integer"}},
		{name: "bad default-able integer", raw: "n=1&limit=lots", status: 400, detail: []string{`"limit"`, "not an integer"}},
		{name: "bad boolean", raw: "n=1&exact=maybe", status: 400, detail: []string{`"exact"`, "not a boolean"}},
		{name: "missing required", raw: "limit=3", status: 400, detail: []string{`"n"`, "required"}},
		// url.ParseQuery refuses a ';' and r.URL.Query() dropped the pair:
		// the declared limit became its default instead of a 400.
		{name: "semicolon", raw: "n=1&limit=5;x", status: 400, detail: []string{"query string is malformed", "parameter 2 contains ';'"}},
		{name: "bad escape", raw: "n=1&limit=%zz", status: 400, detail: []string{"query string is malformed", "parameter 2 has an invalid %-escape"}},
		{name: "too many parameters", raw: "n=1&limit=500" + strings.Repeat("&x=1", 10_000), status: 400,
			detail: []string{"10002 parameters", "at most 1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "GET", "/calc?"+tt.raw, nil, nil)
			if tt.status != 200 {
				p := r.wantProblem(t, tt.status)
				for _, s := range tt.detail {
					if !strings.Contains(p.Detail, s) {
						t.Errorf("detail %q does not contain %s", p.Detail, s)
					}
				}
				return
			}
			got := r.wantOK(t)
			if got["next"] != tt.next {
				t.Errorf("request.query.n + 1 = %v, want %v", got["next"], tt.next)
			}
			q, _ := got["query"].(map[string]any)
			for k, v := range tt.query {
				if q[k] != v {
					t.Errorf("request.query.%s = %#v, want %#v", k, q[k], v)
				}
			}
		})
	}
}

func TestRequestSchema(t *testing.T) {
	route := openRoute("order", "POST", "/orders", `{'sku': request.body.sku, 'qty': request.body.qty}`)
	route.RequestSchema = json.RawMessage(`{
		"type": "object",
		"required": ["sku", "qty"],
		"properties": {
			"sku": {"type": "string", "minLength": 3},
			"qty": {"type": "integer", "minimum": 1}
		}
	}`)
	f := newFixture(t, newSnapshot(1, route))
	post := func(t *testing.T, body string) reply {
		return f.do(t, "POST", "/orders", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
	}

	if got := post(t, `{"sku": "abc-1", "qty": 2}`).wantOK(t); got["qty"] != float64(2) {
		t.Errorf("valid body: got %v", got)
	}
	tests := []struct {
		name, body string
		pointers   []string // pointers that must be reported
	}{
		{"wrong values", `{"sku": "a", "qty": 0}`, []string{"/qty", "/sku"}},
		{"wrong type", `{"sku": "abc", "qty": "two"}`, []string{"/qty"}},
		{"missing property", `{"qty": 1}`, []string{""}},
		{"not an object", `[1, 2]`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.body)
			p := r.wantProblem(t, 400)
			if p.Title != "Request does not match the schema" {
				t.Errorf("title = %q", p.Title)
			}
			if len(p.Errors) == 0 {
				t.Fatalf("no errors listed: %s", r.body)
			}
			var pointers []string
			for _, e := range p.Errors {
				if e.Pointer == nil {
					t.Errorf("an error has no pointer field: %s", r.body)
					continue
				}
				if e.Message == "" {
					t.Errorf("error at %q has no message", *e.Pointer)
				}
				pointers = append(pointers, *e.Pointer)
			}
			for _, want := range tt.pointers {
				if !slices.Contains(pointers, want) {
					t.Errorf("pointers %q do not include %q", pointers, want)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t, newSnapshot(1, openRoute("ping", "GET", "/ping", `{'ok': true}`)))
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	long := strings.Repeat("r", 128)
	tests := []struct {
		name string
		sent []string // X-Request-Id values sent; nil for none
		echo bool
	}{
		{"none", nil, false},
		{"sane", []string{"req-2024.06.01_abc:42"}, true},
		{"128 characters", []string{long}, true},
		{"129 characters", []string{long + "r"}, false},
		{"space", []string{"two words"}, false},
		{"non-ASCII", []string{"r\u00e9quete"}, false},
		{"empty", []string{""}, false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/ping", "/missing"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				var h http.Header
				if tt.sent != nil {
					h = http.Header{"X-Request-Id": tt.sent}
				}
				r := f.do(t, "GET", path, h, nil)
				id := r.Header.Get("X-Request-Id")
				switch {
				case tt.echo && id != tt.sent[0]:
					t.Errorf("X-Request-Id = %q, want the caller's %q", id, tt.sent[0])
				case !tt.echo && !generated.MatchString(id):
					t.Errorf("X-Request-Id = %q, want 32 lower-case hex digits", id)
				}
				if path == "/missing" {
					r.wantProblem(t, 404) // checks requestId == X-Request-Id
				} else {
					r.wantOK(t)
				}
				if line := f.accessLog(t, id); line["request_id"] != id {
					t.Errorf("access log request_id = %v, want %s", line["request_id"], id)
				}
			})
		}
	}
	a := f.do(t, "GET", "/ping", nil, nil).Header.Get("X-Request-Id")
	b := f.do(t, "GET", "/ping", nil, nil).Header.Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got the same generated ID %s", a)
	}
}

// TestRequestView checks what else of the request expressions see.
func TestRequestView(t *testing.T) {
	f := newFixture(t, newSnapshot(1, openRoute("view", "PUT", "/tenants/{tenant}/items/{item}",
		`{'method': request.method, 'path': request.path, 'params': request.params, 'accept': request.headers['accept'], 'multi': request.headers['x-multi'], 'region': vars.region}`)))
	h := http.Header{"Accept": {"application/json"}, "X-Multi": {"a", "b"}}
	r := f.do(t, "PUT", "/tenants/acme/items/it%207", h, bytes.NewReader(nil))
	got := r.wantOK(t)
	want := map[string]any{
		"method": "PUT", "path": "/tenants/acme/items/it 7",
		"params": map[string]any{"tenant": "acme", "item": "it 7"},
		"accept": "application/json", "multi": "a, b", "region": "eu-west",
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("request as seen by expressions:\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

// TestSlowBodyIsCutOffAtTheRequestTimeout: a caller that declares a body and
// sends it slowly gets 408 once the Environment's request timeout passes,
// instead of holding the connection.
func TestSlowBodyIsCutOffAtTheRequestTimeout(t *testing.T) {
	snap := newSnapshot(1, openRoute("upload", "POST", "/upload", `size(request.text)`))
	snap.Settings.RequestTimeout = snapshot.Duration(200 * time.Millisecond)
	f := newFixture(t, snap)
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
}
