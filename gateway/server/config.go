package server

import (
	"errors"
	"fmt"
	"sync"

	"github.com/appapi-dev/appapi/gateway/auth"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/openapi"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/router"
	"github.com/appapi-dev/appapi/gateway/upstream"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// config is one snapshot compiled for serving. It is immutable: a new
// snapshot builds a new config, and requests in flight finish on the old one.
type config struct {
	Snapshot *snapshot.Snapshot
	Router   *router.Router[*pipeline.Endpoint]
	Tokens   *auth.Set
	Runtime  *pipeline.Runtime
	// OpenAPI builds the document served at /openapi.json once, when it is
	// first asked for: at 10,000 routes building it costs most of a reload,
	// and most snapshots are never asked for it.
	OpenAPI func() ([]byte, error)
	// compiledRoutes are where Router and Runtime.Endpoints come from,
	// for the next snapshot to reuse.
	compiledRoutes *compiledRoutes
	// datastore is the Runtime's Store; nil when the snapshot names none.
	datastore *storeHandle
}

// compileConfig compiles the routes of a validated snapshot that prev, the
// config served before it (nil for none), did not compile. A route that
// does not compile (a gateway older than the manager, say) is left out and
// reported; the others are served.
func compileConfig(s *snapshot.Snapshot, prev *config, env *expr.Compiler, client *upstream.Client, observer pipeline.StepObserver, storeObserver pipeline.StoreObserver) (*config, []error) {
	routes, err := compileRoutes(s, prev, env)
	if err != nil {
		return nil, append(routes.problems, err)
	}
	return &config{
		Snapshot:       s,
		Router:         routes.router,
		Tokens:         auth.NewSet(s.Credentials.Tokens),
		OpenAPI:        sync.OnceValues(func() ([]byte, error) { return openapi.Build(s, "") }),
		compiledRoutes: routes,
		Runtime: &pipeline.Runtime{
			Vars: s.Variables, Secrets: s.Credentials.Secrets,
			HTTPClient: client, Endpoints: routes.endpoints, Observer: observer,
			Namespace: s.Namespace, Environment: s.Environment, StoreObserver: storeObserver,
		},
	}, routes.problems
}

// compiledRoutes are a snapshot's routes ready to serve.
type compiledRoutes struct {
	// of are the routes these were compiled from.
	of        []snapshot.Route
	router    *router.Router[*pipeline.Endpoint]
	endpoints map[string]*pipeline.Endpoint
	// byDigest are the endpoints by route digest, for the next snapshot
	// to reuse.
	byDigest routeCache
	// problems are the routes left out, reported at every load.
	problems []error
}

// compileRoutes compiles the routes of s that prev did not. When s has the
// very routes prev was compiled from, as after a token or secret change
// (the snapshot reader then returns the slice it returned last), prev's
// are taken whole: at 10,000 routes, building the router and digesting
// each route was most of such a reload.
func compileRoutes(s *snapshot.Snapshot, prev *config, env *expr.Compiler) (*compiledRoutes, error) {
	var reuse routeCache
	if prev != nil {
		if sameSlice(s.Routes, prev.compiledRoutes.of) {
			return prev.compiledRoutes, nil
		}
		reuse = prev.compiledRoutes.byDigest
	}
	out := &compiledRoutes{of: s.Routes, byDigest: make(routeCache, len(s.Routes)),
		endpoints: make(map[string]*pipeline.Endpoint, len(s.Routes))}
	entries := make([]router.Entry[*pipeline.Endpoint], 0, len(s.Routes))
	for i := range s.Routes {
		r := &s.Routes[i]
		endpoint, err := compileRoute(env, r, reuse, out.byDigest)
		if err != nil {
			out.problems = append(out.problems, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		out.endpoints[r.Name] = endpoint
		entries = append(entries, router.Entry[*pipeline.Endpoint]{Method: r.Method, Path: endpoint.Path, Handler: endpoint})
	}
	var err error
	if out.router, err = router.New(entries); err != nil {
		// Validate() refuses duplicate routes, so this is a bug.
		return out, err
	}
	return out, nil
}

// sameSlice says whether a and b are the same slice, not equal ones: the
// same array and length. Routes are never written once read.
func sameSlice(a, b []snapshot.Route) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

var errNoConfig = errors.New("no snapshot loaded yet")
