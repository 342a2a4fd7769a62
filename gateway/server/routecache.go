package server

import (
	"crypto/sha256"
	"encoding/json"

	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// routeDigest identifies a route by its content: the SHA-256 of its JSON,
// as the translator's compile cache does.
type routeDigest [sha256.Size]byte

// routeCache holds the compiled routes of one config by digest, so that the
// next snapshot compiles only the routes that changed: compiling 10,000
// routes takes seconds, and one edit or a new token changes at most one.
// An Endpoint depends on its route and the gateway's expr.Compiler alone;
// what changes with a snapshot without its routes (variables, secrets, the
// endpoints a call step reaches, observers) is in the pipeline.Runtime. A
// routeCache is never written once its config is served.
type routeCache map[routeDigest]*pipeline.Endpoint

// compileRoute returns the endpoint of r from prev, or compiles it, and
// records it in next. A route that does not compile is not recorded, and is
// reported again at every load.
func compileRoute(env *expr.Compiler, r *snapshot.Route, prev, next routeCache) (*pipeline.Endpoint, error) {
	text, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	key := routeDigest(sha256.Sum256(text))
	if e, ok := prev[key]; ok {
		next[key] = e
		return e, nil
	}
	// The endpoint keeps its own copy of the route: pointing into the
	// snapshot's slice would keep every route of this snapshot alive for as
	// long as any later config reuses the endpoint.
	own := *r
	e, err := pipeline.Compile(env, &own)
	if err != nil {
		return nil, err
	}
	next[key] = e
	return e, nil
}
