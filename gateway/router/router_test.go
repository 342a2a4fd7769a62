package router

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/appapi-dev/appapi/gateway/pathtemplate"
)

// entries parses "METHOD /path" lines; each handler is its own line, so a
// test can tell which route matched.
func entries(t testing.TB, routes ...string) []Entry[string] {
	t.Helper()
	var es []Entry[string]
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		tmpl, err := pathtemplate.Parse(path)
		if err != nil {
			t.Fatalf("Parse(%q): %v", path, err)
		}
		es = append(es, Entry[string]{Method: method, Path: tmpl, Handler: r})
	}
	return es
}

func mustNew(t testing.TB, routes ...string) *Router[string] {
	t.Helper()
	r, err := New(entries(t, routes...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// formatParams writes params as "a=1,b=2" so that tables stay readable.
func formatParams(ps []Param) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, p.Name+"="+p.Value)
	}
	return strings.Join(parts, ",")
}

func TestLookup(t *testing.T) {
	type req struct {
		method, path string
		status       int
		handler      string // for 200
		params       string // for 200
		allow        string // for 405
	}
	tests := []struct {
		name   string
		routes []string
		reqs   []req
	}{
		{
			name:   "literal beats parameter",
			routes: []string{"GET /orders/{id}", "GET /orders/latest"},
			reqs: []req{
				{"GET", "/orders/latest", 200, "GET /orders/latest", "", ""},
				{"GET", "/orders/42", 200, "GET /orders/{id}", "id=42", ""},
				{"GET", "/orders/Latest", 200, "GET /orders/{id}", "id=Latest", ""},
			},
		},
		{
			name:   "first differing position decides",
			routes: []string{"GET /{a}/{b}/c", "GET /{a}/b/{c}", "GET /x/{b}/{c}"},
			reqs: []req{
				{"GET", "/x/b/c", 200, "GET /x/{b}/{c}", "b=b,c=c", ""},
				{"GET", "/y/b/c", 200, "GET /{a}/b/{c}", "a=y,c=c", ""},
				{"GET", "/y/z/c", 200, "GET /{a}/{b}/c", "a=y,b=z", ""},
				{"GET", "/y/z/d", 404, "", "", ""},
			},
		},
		{
			name:   "backtracking",
			routes: []string{"GET /a/b/c", "GET /a/{x}/d", "GET /a/b/c/d", "GET /a/{x}/c/e", "GET /{y}/b/c/f"},
			reqs: []req{
				{"GET", "/a/b/c", 200, "GET /a/b/c", "", ""},
				{"GET", "/a/b/d", 200, "GET /a/{x}/d", "x=b", ""},
				{"GET", "/a/b/c/d", 200, "GET /a/b/c/d", "", ""},
				{"GET", "/a/b/c/e", 200, "GET /a/{x}/c/e", "x=b", ""},
				{"GET", "/a/b/c/f", 200, "GET /{y}/b/c/f", "y=a", ""},
				{"GET", "/a/b/c/g", 404, "", "", ""},
				{"GET", "/a/b", 404, "", "", ""},
			},
		},
		{
			name:   "backtracking on method",
			routes: []string{"GET /orders/latest", "POST /orders/{id}", "PUT /orders/{id}"},
			reqs: []req{
				{"GET", "/orders/latest", 200, "GET /orders/latest", "", ""},
				{"POST", "/orders/latest", 200, "POST /orders/{id}", "id=latest", ""},
				{"DELETE", "/orders/latest", 405, "", "", "GET, POST, PUT"},
				{"DELETE", "/orders/7", 405, "", "", "POST, PUT"},
				{"GET", "/orders/7", 405, "", "", "POST, PUT"},
			},
		},
		{
			name:   "trailing slash",
			routes: []string{"GET /orders", "POST /orders/", "GET /orders/{id}/", "GET /items/{id}"},
			reqs: []req{
				{"GET", "/orders", 200, "GET /orders", "", ""},
				{"POST", "/orders/", 200, "POST /orders/", "", ""},
				{"GET", "/orders/", 405, "", "", "POST"},
				{"POST", "/orders", 405, "", "", "GET"},
				{"GET", "/orders/1/", 200, "GET /orders/{id}/", "id=1", ""},
				{"GET", "/orders/1", 404, "", "", ""},
				{"GET", "/items/1", 200, "GET /items/{id}", "id=1", ""},
				{"GET", "/items/1/", 404, "", "", ""},
				{"GET", "/items/", 404, "", "", ""},
				{"GET", "/orders//", 404, "", "", ""},
			},
		},
		{
			name:   "root",
			routes: []string{"GET /", "GET /{p}", "GET /{p}/"},
			reqs: []req{
				{"GET", "/", 200, "GET /", "", ""},
				{"POST", "/", 405, "", "", "GET"},
				{"GET", "/x", 200, "GET /{p}", "p=x", ""},
				{"GET", "/x/", 200, "GET /{p}/", "p=x", ""},
				{"GET", "//", 404, "", "", ""},
				{"GET", "///", 404, "", "", ""},
				{"GET", "", 404, "", "", ""},
				{"OPTIONS", "*", 404, "", "", ""},
				{"GET", "x", 404, "", "", ""},
			},
		},
		{
			name:   "root not registered",
			routes: []string{"GET /{p}", "GET /a/"},
			reqs: []req{
				{"GET", "/", 404, "", "", ""},
				{"GET", "/a/", 200, "GET /a/", "", ""},
			},
		},
		{
			name:   "parameters in path order, named by the matched entry",
			routes: []string{"GET /o/{orderId}/items/{itemId}", "DELETE /o/{b}/items/{a}", "GET /{z}/{y}/{x}/{w}"},
			reqs: []req{
				{"GET", "/o/7/items/9", 200, "GET /o/{orderId}/items/{itemId}", "orderId=7,itemId=9", ""},
				{"DELETE", "/o/7/items/9", 200, "DELETE /o/{b}/items/{a}", "b=7,a=9", ""},
				{"GET", "/1/2/3/4", 200, "GET /{z}/{y}/{x}/{w}", "z=1,y=2,x=3,w=4", ""},
			},
		},
		{
			name:   "not found",
			routes: []string{"GET /orders/{id}", "GET /orders"},
			reqs: []req{
				{"GET", "/Orders", 404, "", "", ""},
				{"GET", "/orders/1/2", 404, "", "", ""},
				{"GET", "/customers", 404, "", "", ""},
				{"GET", "/ordersx", 404, "", "", ""},
				{"GET", "/orders?x=1", 404, "", "", ""},
			},
		},
		{
			name:   "method not allowed",
			routes: []string{"GET /orders", "POST /orders", "DELETE /orders"},
			reqs: []req{
				{"PUT", "/orders", 405, "", "", "DELETE, GET, POST"},
				// HEAD is not implied by GET: the caller decides.
				{"HEAD", "/orders", 405, "", "", "DELETE, GET, POST"},
				// Methods are case-sensitive, as in HTTP.
				{"get", "/orders", 405, "", "", "DELETE, GET, POST"},
				{"", "/orders", 405, "", "", "DELETE, GET, POST"},
			},
		},
		{
			name:   "dot segments",
			routes: []string{"GET /files/{name}", "GET /files/{dir}/{name}", "GET /admin", "GET /{p}/admin"},
			reqs: []req{
				{"GET", "/files/..", 404, "", "", ""},
				{"GET", "/files/.", 404, "", "", ""},
				{"GET", "/files/../admin", 404, "", "", ""},
				{"GET", "/files/a/..", 404, "", "", ""},
				{"GET", "/files/./x", 404, "", "", ""},
				{"GET", "/../admin", 404, "", "", ""},
				{"GET", "/./admin", 404, "", "", ""},
				{"GET", "/admin/..", 404, "", "", ""},
				{"GET", "/x/../admin", 404, "", "", ""},
				{"GET", "/files/..a", 200, "GET /files/{name}", "name=..a", ""},
				{"GET", "/files/...", 200, "GET /files/{name}", "name=...", ""},
				{"GET", "/files/.env", 200, "GET /files/{name}", "name=.env", ""},
			},
		},
		{
			name:   "empty segments",
			routes: []string{"GET /files/{name}", "GET /files/{dir}/{name}", "GET /files/x/y"},
			reqs: []req{
				{"GET", "/files//x", 404, "", "", ""},
				{"GET", "/files/x//", 404, "", "", ""},
				{"GET", "//files/x", 404, "", "", ""},
				{"GET", "/files/", 404, "", "", ""},
				{"GET", "/files//", 404, "", "", ""},
				{"GET", "/files/x/y", 200, "GET /files/x/y", "", ""},
				{"GET", "/files/x//y", 404, "", "", ""},
			},
		},
		{
			name:   "unicode and percent-encoded-looking paths",
			routes: []string{"GET /café/{x}", "GET /日本/語", "GET /search/a+b", "GET /v1.2/pets~x", "GET /blobs/{id}"},
			reqs: []req{
				{"GET", "/café/1", 200, "GET /café/{x}", "x=1", ""},
				// Decoding is net/http's job; the router compares bytes.
				{"GET", "/caf%C3%A9/1", 404, "", "", ""},
				// NFD form of café: same text to a reader, other bytes.
				{"GET", "/cafe\u0301/1", 404, "", "", ""},
				{"GET", "/日本/語", 200, "GET /日本/語", "", ""},
				{"GET", "/%E6%97%A5%E6%9C%AC/%E8%AA%9E", 404, "", "", ""},
				{"GET", "/search/a+b", 200, "GET /search/a+b", "", ""},
				{"GET", "/search/a b", 404, "", "", ""},
				{"GET", "/v1.2/pets~x", 200, "GET /v1.2/pets~x", "", ""},
				{"GET", "/blobs/a%2Fb", 200, "GET /blobs/{id}", "id=a%2Fb", ""},
				{"GET", "/blobs/%2E%2E", 200, "GET /blobs/{id}", "id=%2E%2E", ""},
				{"GET", "/blobs/ü", 200, "GET /blobs/{id}", "id=ü", ""},
				{"GET", "/blobs/\x00", 200, "GET /blobs/{id}", "id=\x00", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.routes...)
			oracle := &naive[string]{entries: entries(t, tt.routes...)}
			for _, q := range tt.reqs {
				m, status, allow := r.Lookup(q.method, q.path)
				if status != q.status || m.Handler != q.handler || formatParams(m.Params) != q.params || allow != q.allow {
					t.Errorf("Lookup(%q, %q) = %q [%s] %d %q, want %q [%s] %d %q",
						q.method, q.path, m.Handler, formatParams(m.Params), status, allow,
						q.handler, q.params, q.status, q.allow)
				}
				nm, nstatus, nallow := oracle.Lookup(q.method, q.path)
				if nstatus != status || nm.Handler != m.Handler || !reflect.DeepEqual(nm.Params, m.Params) || nallow != allow {
					t.Errorf("Lookup(%q, %q): naive router disagrees: %q %v %d %q", q.method, q.path, nm.Handler, nm.Params, nstatus, nallow)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	tmpl := func(trailing bool, segs ...pathtemplate.Segment) pathtemplate.Template {
		return pathtemplate.Template{Segments: segs, TrailingSlash: trailing}
	}
	lit := func(s string) pathtemplate.Segment { return pathtemplate.Segment{Literal: s} }
	param := func(s string) pathtemplate.Segment { return pathtemplate.Segment{Param: s} }
	tests := []struct {
		name    string
		entries []Entry[string]
		wantErr []string // substrings; none means success
	}{
		{
			name:    "same key, other parameter name",
			entries: entries(t, "GET /orders/{id}", "POST /orders/{id}", "GET /orders/{orderId}"),
			wantErr: []string{"GET /orders/{id}", "GET /orders/{orderId}", "/orders/{}"},
		},
		{
			name:    "same literal path",
			entries: entries(t, "GET /", "PUT /a/b/", "PUT /a/b/"),
			wantErr: []string{"entries 1 and 2", "PUT /a/b/ and PUT /a/b/"},
		},
		{
			name:    "trailing slash and method make routes distinct",
			entries: entries(t, "GET /orders", "GET /orders/", "POST /orders", "GET /", "POST /", "GET /{a}", "GET /{a}/"),
		},
		{
			name:    "empty method",
			entries: []Entry[string]{{Method: "", Path: tmpl(false, lit("a"))}},
			wantErr: []string{"entry 0", `method ""`},
		},
		{
			name:    "method with a comma",
			entries: []Entry[string]{{Method: "GET,POST", Path: tmpl(false, lit("a"))}},
			wantErr: []string{`method "GET,POST"`},
		},
		{
			name:    "hand-built empty literal",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(false, lit("a"), lit(""))}},
			wantErr: []string{"not what Parse makes"},
		},
		{
			name:    "hand-built dot-dot literal",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(false, lit(".."), lit("admin"))}},
			wantErr: []string{`".." is not allowed`},
		},
		{
			name:    "hand-built literal with a slash",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(false, lit("a/b"))}},
			wantErr: []string{"not what Parse makes"},
		},
		{
			name:    "hand-built literal that looks like a parameter",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(false, lit("{id}"))}},
			wantErr: []string{"not what Parse makes"},
		},
		{
			name:    "hand-built segment with literal and parameter",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(false, pathtemplate.Segment{Literal: "a", Param: "b"})}},
			wantErr: []string{"not what Parse makes"},
		},
		{
			name:    "hand-built root with trailing slash",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(true)}},
			wantErr: []string{"empty segment"},
		},
		{
			name:    "hand-built valid template",
			entries: []Entry[string]{{Method: "GET", Path: tmpl(true, lit("a"), param("b"))}},
		},
		{
			name: "no entries",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.entries)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if r.Len() != len(tt.entries) {
					t.Errorf("Len() = %d, want %d", r.Len(), len(tt.entries))
				}
				for _, e := range tt.entries {
					if m, status, _ := r.Lookup(e.Method, example(e.Path)); status != 200 || m.Handler != e.Handler {
						t.Errorf("Lookup(%s %s) = %q %d", e.Method, example(e.Path), m.Handler, status)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// example writes a request path the template matches, with each parameter
// replaced by its own name.
func example(t pathtemplate.Template) string {
	return substitute(t, func(name string) string { return name })
}

func substitute(t pathtemplate.Template, value func(name string) string) string {
	if len(t.Segments) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteByte('/')
		if s.Param != "" {
			b.WriteString(value(s.Param))
		} else {
			b.WriteString(s.Literal)
		}
	}
	if t.TrailingSlash {
		b.WriteByte('/')
	}
	return b.String()
}

func TestManyRoutes(t *testing.T) {
	es, reqs := benchFixture(10000)
	r, err := New(es)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(es) {
		t.Fatalf("Len() = %d, want %d", r.Len(), len(es))
	}
	for _, e := range es {
		path := substitute(e.Path, func(name string) string { return "v-" + name })
		m, status, _ := r.Lookup(e.Method, path)
		if status != 200 || m.Handler != e.Handler {
			t.Fatalf("Lookup(%s %s) = %v %d, want %v", e.Method, path, m.Handler, status, e.Handler)
		}
		for i, name := range e.Path.Params() {
			if m.Params[i] != (Param{name, "v-" + name}) {
				t.Fatalf("Lookup(%s %s) params = %v", e.Method, path, m.Params)
			}
		}
	}
	// Compare with the naive router on hits and on near misses: the hit paths
	// with one segment changed, removed or added, under several methods.
	oracle := &naive[int]{entries: es}
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	check := func(method, path string) {
		m, status, allow := r.Lookup(method, path)
		nm, nstatus, nallow := oracle.Lookup(method, path)
		if status != nstatus || m.Handler != nm.Handler || !reflect.DeepEqual(m.Params, nm.Params) || allow != nallow {
			t.Fatalf("Lookup(%s %s) = %v %v %d %q, naive router says %v %v %d %q",
				method, path, m.Handler, m.Params, status, allow, nm.Handler, nm.Params, nstatus, nallow)
		}
	}
	for range 2000 {
		q := reqs[rng.IntN(len(reqs))]
		segs := strings.Split(q.path, "/")
		i := 1 + rng.IntN(len(segs)-1)
		switch rng.IntN(4) {
		case 0:
			segs[i] = []string{"", ".", "..", "orders", "items", "t00001", "x"}[rng.IntN(7)]
		case 1:
			segs = append(segs[:i], segs[i+1:]...)
		case 2:
			segs = append(segs[:i], append([]string{"orders"}, segs[i:]...)...)
		}
		check(methods[rng.IntN(len(methods))], strings.Join(segs, "/"))
	}
}

func TestAllocs(t *testing.T) {
	r := mustNew(t, "GET /orders", "POST /orders", "GET /orders/{id}/items/{item}", "GET /orders/latest", "PUT /orders/{id}")
	tests := []struct {
		method, path string
		allocs       float64
	}{
		{"GET", "/orders", 0},
		{"GET", "/orders/1/items/2", 1}, // the Params slice
		{"GET", "/nothing/here", 0},
		{"PUT", "/orders", 0}, // 405 with the Allow built in New
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, func() { r.Lookup(tt.method, tt.path) }); got != tt.allocs {
			t.Errorf("Lookup(%s %s) allocates %v times, want %v", tt.method, tt.path, got, tt.allocs)
		}
	}
}

func TestConcurrentLookup(t *testing.T) {
	es, reqs := benchFixture(100)
	r, err := New(es)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				q := reqs[(g*1000+i)%len(reqs)]
				if m, status, _ := r.Lookup(q.method, q.path); status != 200 || m.Handler != q.handler {
					t.Errorf("Lookup(%s %s) = %v %d, want %v", q.method, q.path, m.Handler, status, q.handler)
					return
				}
			}
		})
	}
	wg.Wait()
}

// fuzzRoutes overlap on purpose: literal and parameter siblings, trailing
// slashes, the root, and one key under several methods.
var fuzzRoutes = []string{
	"GET /",
	"GET /{p}",
	"POST /{p}/",
	"GET /a",
	"GET /a/",
	"GET /a/b/c",
	"GET /a/{x}/d",
	"PUT /a/{x}/c",
	"GET /{y}/b/{z}/e",
	"GET /orders/latest",
	"POST /orders/{id}",
	"DELETE /orders/{orderId}",
	"GET /orders/{id}/items/{item}",
	"GET /orders/{id}/items/",
	"GET /café/{x}",
	"GET /v1.2/pets~x/{id}",
}

func FuzzLookup(f *testing.F) {
	es := entries(f, fuzzRoutes...)
	for i := range es {
		es[i].Handler = fmt.Sprint(i)
	}
	r, err := New(es)
	if err != nil {
		f.Fatal(err)
	}
	oracle := &naive[string]{entries: es}
	for _, seed := range []string{"/", "", "//", "/a", "/a/", "/a/b/c", "/a/b/d", "/x/b/y/e", "/orders/latest",
		"/orders/1/items/2", "/orders/1/items/", "/../a", "/a/../d", "/a/./d", "/café/é", "/a//d", "*", "/a/b/c/", "/x/"} {
		for _, method := range []string{"GET", "POST", "DELETE", "HEAD"} {
			f.Add(method, seed)
		}
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		m, status, allow := r.Lookup(method, path)
		switch status {
		case 200:
			var i int
			fmt.Sscan(m.Handler, &i)
			e := es[i]
			if e.Method != method {
				t.Fatalf("Lookup(%q, %q) matched %s", method, path, fuzzRoutes[i])
			}
			names := e.Path.Params()
			if len(m.Params) != len(names) {
				t.Fatalf("Lookup(%q, %q) = %s with params %v", method, path, fuzzRoutes[i], m.Params)
			}
			values := map[string]string{}
			for j, p := range m.Params {
				if p.Name != names[j] || p.Value == "" || p.Value == "." || p.Value == ".." || strings.Contains(p.Value, "/") {
					t.Fatalf("Lookup(%q, %q) = %s with params %v", method, path, fuzzRoutes[i], m.Params)
				}
				values[p.Name] = p.Value
			}
			if back := substitute(e.Path, func(name string) string { return values[name] }); back != path {
				t.Fatalf("Lookup(%q, %q) = %s with params %v, which give back %q", method, path, fuzzRoutes[i], m.Params, back)
			}
			if allow != "" {
				t.Fatalf("Lookup(%q, %q) = 200 with Allow %q", method, path, allow)
			}
		case 405:
			if allow == "" || slices.Contains(strings.Split(allow, ", "), method) {
				t.Fatalf("Lookup(%q, %q) = 405 with Allow %q", method, path, allow)
			}
		case 404:
			if allow != "" {
				t.Fatalf("Lookup(%q, %q) = 404 with Allow %q", method, path, allow)
			}
		default:
			t.Fatalf("Lookup(%q, %q) status %d", method, path, status)
		}
		if status != 200 && (m.Handler != "" || m.Params != nil) {
			t.Fatalf("Lookup(%q, %q) = %d with match %+v", method, path, status, m)
		}
		nm, nstatus, nallow := oracle.Lookup(method, path)
		if status != nstatus || m.Handler != nm.Handler || !reflect.DeepEqual(m.Params, nm.Params) || allow != nallow {
			t.Fatalf("Lookup(%q, %q) = %q %v %d %q, naive router says %q %v %d %q",
				method, path, m.Handler, m.Params, status, allow, nm.Handler, nm.Params, nstatus, nallow)
		}
	})
}
