package server

import "github.com/appapi-dev/appapi/gateway/pipeline"

// ServedEndpoint is the compiled endpoint that serves the AppAPI name, or
// nil, for tests that check which routes a load compiled again.
func (g *Gateway) ServedEndpoint(name string) *pipeline.Endpoint {
	cfg := g.current.Load()
	if cfg == nil {
		return nil
	}
	return cfg.Runtime.Endpoints[name]
}

// CachedRoutes is the number of compiled routes the served config keeps for
// the next load.
func (g *Gateway) CachedRoutes() int {
	cfg := g.current.Load()
	if cfg == nil {
		return 0
	}
	return len(cfg.compiledRoutes.byDigest)
}

// ServedRouter is the served config's router, for tests that check a load
// kept it.
func (g *Gateway) ServedRouter() any {
	cfg := g.current.Load()
	if cfg == nil {
		return nil
	}
	return cfg.Router
}
