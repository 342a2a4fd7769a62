package server

import (
	"net/http"

	"github.com/appapi-dev/appapi/gateway/openapi"
)

// AdminOption configures AdminHandler.
type AdminOption func(*adminOptions)

type adminOptions struct {
	// apiListen is the address the App APIs listen on, or "" for the
	// Environment's Service.
	apiListen string
	// pprof serves net/http/pprof (WithPprof).
	pprof bool
}

// WithAPIListen says that the App APIs are served at addr, the --listen
// address, so that /openapi.json names it as the server (see
// openapi.ListenURL). Local mode needs it; in cluster mode the server is the
// Environment's Service. An address that ListenURL cannot name, such as
// one of port 0, is logged and ignored.
func WithAPIListen(addr string) AdminOption {
	return func(o *adminOptions) {
		o.apiListen = addr
	}
}

// serveOpenAPI serves the document of the current snapshot with the server
// that fits the request (see openapi.ServerFor).
func (g *Gateway) serveOpenAPI(o adminOptions) http.HandlerFunc {
	apiURL := ""
	if o.apiListen != "" {
		u, err := openapi.ListenURL(o.apiListen)
		if err != nil {
			g.log.Warn("/openapi.json names the Environment's Service as the server", "error", err.Error())
		}
		apiURL = u
	}
	return func(w http.ResponseWriter, r *http.Request) {
		cfg := g.current.Load()
		if cfg == nil {
			http.Error(w, errNoConfig.Error(), http.StatusServiceUnavailable)
			return
		}
		built, err := cfg.OpenAPI()
		if err == nil {
			built, err = openapi.WithServer(built, openapi.ServerFor(r, cfg.Snapshot, apiURL))
		}
		if err != nil {
			// Build fails only on a route that did not compile either,
			// which Load reported; WithServer only on a bug.
			g.log.Error("/openapi.json", "error", err.Error())
			http.Error(w, "the OpenAPI document could not be written", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(built)
	}
}
