package openapi

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

func TestServiceURL(t *testing.T) {
	if got, want := ServiceURL("shop", "prod"), "http://appapi-prod.shop.svc"; got != want {
		t.Errorf("ServiceURL = %q, want %q", got, want)
	}
}

func TestListenURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://localhost:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		"[::]:8080":      "http://localhost:8080",
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"gw.local:80":    "http://gw.local:80",
	} {
		if got, err := ListenURL(addr); err != nil || got != want {
			t.Errorf("ListenURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"8080", ":0", "localhost:", ""} {
		if got, err := ListenURL(addr); err == nil {
			t.Errorf("ListenURL(%q) = %q, want an error", addr, got)
		}
	}
}

func TestForwardedURL(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		tls    bool
		want   string // "" for not ok
	}{
		{"no headers", nil, false, ""},
		{"proto without host", http.Header{"X-Forwarded-Proto": {"https"}}, false, ""},
		{"host", http.Header{"X-Forwarded-Host": {"api.shop.test"}}, false, "http://api.shop.test"},
		{"host over TLS", http.Header{"X-Forwarded-Host": {"api.shop.test"}}, true, "https://api.shop.test"},
		{"host and proto", http.Header{"X-Forwarded-Host": {"api.shop.test:8443"}, "X-Forwarded-Proto": {"HTTPS"}}, false, "https://api.shop.test:8443"},
		{"lists: the client's first", http.Header{"X-Forwarded-Host": {"api.shop.test, internal.proxy"}, "X-Forwarded-Proto": {"https,http"}}, false, "https://api.shop.test"},
		{"unknown proto", http.Header{"X-Forwarded-Host": {"api.shop.test"}, "X-Forwarded-Proto": {"ftp"}}, false, "http://api.shop.test"},
		{"IPv6", http.Header{"X-Forwarded-Host": {"[2001:db8::1]:8080"}}, false, "http://[2001:db8::1]:8080"},
		{"path", http.Header{"X-Forwarded-Host": {"api.shop.test/evil"}}, false, ""},
		{"user", http.Header{"X-Forwarded-Host": {"me@api.shop.test"}}, false, ""},
		{"query", http.Header{"X-Forwarded-Host": {"api.shop.test?x=1"}}, false, ""},
		{"script", http.Header{"X-Forwarded-Host": {"<script>"}}, false, ""},
		{"bracketed non-address", http.Header{"X-Forwarded-Host": {"[<script>]"}}, false, ""},
		{"underscore", http.Header{"X-Forwarded-Host": {"gw_1.internal"}}, false, "http://gw_1.internal"},
		{"port only", http.Header{"X-Forwarded-Host": {":8080"}}, false, ""},
		{"bad port", http.Header{"X-Forwarded-Host": {"api.shop.test:http"}}, false, ""},
		{"empty first value", http.Header{"X-Forwarded-Host": {" , api.shop.test"}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/openapi.json", nil)
			r.Header = tt.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			got, ok := ForwardedURL(r)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("ForwardedURL = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestServerFor(t *testing.T) {
	s := &snapshot.Snapshot{Header: snapshot.Header{Namespace: "shop", Environment: "prod"}}
	plain := httptest.NewRequest("GET", "http://10.0.0.7:9901/openapi.json", nil)
	proxied := httptest.NewRequest("GET", "http://10.0.0.7:9901/openapi.json", nil)
	proxied.Header.Set("X-Forwarded-Host", "api.shop.test")
	proxied.Header.Set("X-Forwarded-Proto", "https")
	for _, tt := range []struct {
		name   string
		r      *http.Request
		apiURL string
		want   string
	}{
		{"cluster: the Service, not the admin Host", plain, "", "http://appapi-prod.shop.svc"},
		{"local: the listen address", plain, "http://localhost:8080", "http://localhost:8080"},
		{"a proxy's URL first, in cluster mode", proxied, "", "https://api.shop.test"},
		{"a proxy's URL first, in local mode", proxied, "http://localhost:8080", "https://api.shop.test"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ServerFor(tt.r, s, tt.apiURL)
			if got.URL != tt.want || got.Description == "" {
				t.Errorf("ServerFor = %+v, want URL %q and a description", got, tt.want)
			}
		})
	}
}

// WithServer on a document without server gives what Build gives with it,
// byte for byte: it drops none of Build's fields and keeps their order.
func TestWithServerIsBuild(t *testing.T) {
	for _, u := range []string{"http://appapi-prod.shop.svc", "https://api.shop.test/"} {
		want := build(t, testSnapshot(), u)
		got, err := WithServer(build(t, testSnapshot(), ""), Server{URL: u})
		if err != nil {
			t.Fatalf("WithServer(%q): %v", u, err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("WithServer(%q) differs from Build (-Build +WithServer):\n%s", u, diff)
		}
	}
}

func TestWithServer(t *testing.T) {
	// A server given to Build is replaced, not added to.
	b, err := WithServer(build(t, testSnapshot(), "http://old"), Server{URL: "https://api.shop.test", Description: "The shop."})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, b)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://api.shop.test" || doc.Servers[0].Description != "The shop." {
		t.Errorf("servers = %+v, want the one given", doc.Servers)
	}
	if doc.Paths.Value("/orders") == nil || doc.Components.Schemas["create-order-request"] == nil {
		t.Errorf("WithServer lost paths or components:\n%s", b)
	}
}

func TestWithServerErrors(t *testing.T) {
	good := build(t, testSnapshot(), "")
	for _, u := range []string{"", "/", "/api", "//gw:8080", "gw:8080", "ftp://gw", "http://gw/?q=1", "http://gw/#top", "http://gw/%zz"} {
		if _, err := WithServer(good, Server{URL: u}); err == nil {
			t.Errorf("WithServer with server URL %q succeeded", u)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	withTags := withField(doc, "tags", []any{})
	withoutPaths := withField(doc, "paths", nil)
	for name, d := range map[string][]byte{
		"not JSON":      []byte("{"),
		"unknown field": withTags,
		"no paths":      withoutPaths,
		"array":         []byte("[]"),
	} {
		if _, err := WithServer(d, Server{URL: "http://gw"}); err == nil || !strings.Contains(err.Error(), "not a document Build wrote") {
			t.Errorf("%s: WithServer error = %v, want it refused", name, err)
		}
	}
}

// withField is doc marshalled with field key set to v, or removed when v is nil.
func withField(doc map[string]any, key string, v any) []byte {
	d := maps.Clone(doc)
	if v == nil {
		delete(d, key)
	} else {
		d[key] = v
	}
	b, _ := json.Marshal(d)
	return b
}

func TestBuildRefusesRelativeServer(t *testing.T) {
	for _, u := range []string{"/", "/api", "gw"} {
		if _, err := Build(testSnapshot(), u); err == nil {
			t.Errorf("Build with server URL %q succeeded", u)
		}
	}
	// The trailing slash goes: paths start with one.
	if b := build(t, testSnapshot(), "http://gw/base/"); !bytes.Contains(b, []byte(`"url": "http://gw/base"`)) {
		t.Errorf("server URL kept its trailing slash:\n%s", b)
	}
}
