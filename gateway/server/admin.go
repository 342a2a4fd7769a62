package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the admin port: probes, metrics and the OpenAPI
// document, and the profiler with WithPprof. It is a separate listener so
// that no App API path can shadow these, and so that it can stay off the
// public Service.
func (g *Gateway) AdminHandler(opts ...AdminOption) http.Handler {
	var o adminOptions
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.serveReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.json", g.serveOpenAPI(o))
	if o.pprof {
		// Registered by hand: importing net/http/pprof adds these to
		// http.DefaultServeMux only, which nothing serves.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// WithPprof serves net/http/pprof under /debug/pprof/. It is off unless
// asked for: a profile shows the gateway's code paths and the command line,
// and taking one costs CPU while it runs.
func WithPprof() AdminOption {
	return func(o *adminOptions) {
		o.pprof = true
	}
}
