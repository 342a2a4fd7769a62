package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/gateway/server"
)

// TestPprofIsOptIn: the profiler is served on the admin port only when
// asked for.
func TestPprofIsOptIn(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		opts []server.AdminOption
		want int
	}{
		{"default", nil, http.StatusNotFound},
		{"WithPprof", []server.AdminOption{server.WithPprof()}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin := httptest.NewServer(f.gw.AdminHandler(tc.opts...))
			defer admin.Close()
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
				r := send(t, admin.Client(), "GET", admin.URL+path, nil, nil)
				if r.StatusCode != tc.want {
					t.Errorf("GET %s: %d, want %d", path, r.StatusCode, tc.want)
				}
			}
			if tc.want == http.StatusOK {
				if r := send(t, admin.Client(), "GET", admin.URL+"/debug/pprof/goroutine?debug=1", nil, nil); !strings.Contains(string(r.body), "goroutine profile:") {
					t.Errorf("goroutine profile: %.200s", r.body)
				}
			}
		})
	}
}
