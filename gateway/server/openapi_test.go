package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/gateway/server"
)

// openAPIServers fetches /openapi.json from a gateway's admin handler built
// with opts and returns its servers.
func openAPIServers(t *testing.T, gw *server.Gateway, header http.Header, opts ...server.AdminOption) []map[string]string {
	t.Helper()
	admin := httptest.NewServer(gw.AdminHandler(opts...))
	t.Cleanup(admin.Close)
	r := send(t, admin.Client(), "GET", admin.URL+"/openapi.json", header, nil)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json = %d %q: %s", r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
	var doc struct {
		Servers []map[string]string `json:"servers"`
		Paths   map[string]any      `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if doc.Paths["/gen"] == nil {
		t.Errorf("the document has no /gen path: %s", r.body)
	}
	return doc.Servers
}

func serverURLs(servers []map[string]string) []string {
	var urls []string
	for _, s := range servers {
		urls = append(urls, s["url"])
	}
	return urls
}

// The document names where the App APIs are, never the admin port it is
// fetched from.
func TestOpenAPIServers(t *testing.T) {
	f := newFixture(t, genSnapshot(1))
	proxied := http.Header{"X-Forwarded-Host": {"api.shop.test"}, "X-Forwarded-Proto": {"https"}}
	for _, tt := range []struct {
		name   string
		header http.Header
		opts   []server.AdminOption
		want   string
	}{
		{"cluster mode: the Environment's Service", nil, nil, "http://appapi-prod.shop.svc"},
		{"local mode: the listen address", nil, []server.AdminOption{server.WithAPIListen(":8080")}, "http://localhost:8080"},
		{"behind a proxy, cluster mode", proxied, nil, "https://api.shop.test"},
		{"behind a proxy, local mode", proxied, []server.AdminOption{server.WithAPIListen("127.0.0.1:8080")}, "https://api.shop.test"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			servers := openAPIServers(t, f.gw, tt.header, tt.opts...)
			if got := serverURLs(servers); len(got) != 1 || got[0] != tt.want {
				t.Errorf("servers = %v, want [%s]", got, tt.want)
			}
			if len(servers) == 1 && servers[0]["description"] == "" {
				t.Errorf("server %v has no description", servers[0])
			}
		})
	}
}

// A listen address without a fixed port cannot be named: the Service is, and
// the log says why.
func TestOpenAPIServersUnusableListen(t *testing.T) {
	f := newFixture(t, genSnapshot(1))
	servers := openAPIServers(t, f.gw, nil, server.WithAPIListen(":0"))
	if got := serverURLs(servers); len(got) != 1 || got[0] != "http://appapi-prod.shop.svc" {
		t.Errorf("servers = %v, want the Service", got)
	}
	if !strings.Contains(f.log.String(), `no fixed port`) {
		t.Errorf("the log does not say why the listen address is not used:\n%s", f.log.String())
	}
}
