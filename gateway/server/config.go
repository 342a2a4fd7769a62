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
	// compiled are the endpoints of Router by route digest, for the next
	// snapshot to reuse.
	compiled routeCache
}

// compileConfig compiles the routes of a validated snapshot that prev, the
// config served before it (nil for none), did not compile. A route that
// does not compile (a gateway older than the manager, say) is left out and
// reported; the others are served.
func compileConfig(s *snapshot.Snapshot, prev *config, env *expr.Compiler, client *upstream.Client, observer pipeline.StepObserver) (*config, []error) {
	var problems []error
	var reuse routeCache
	if prev != nil {
		reuse = prev.compiled
	}
	compiled := make(routeCache, len(s.Routes))
	endpoints := make(map[string]*pipeline.Endpoint, len(s.Routes))
	entries := make([]router.Entry[*pipeline.Endpoint], 0, len(s.Routes))
	for i := range s.Routes {
		r := &s.Routes[i]
		endpoint, err := compileRoute(env, r, reuse, compiled)
		if err != nil {
			problems = append(problems, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		endpoints[r.Name] = endpoint
		entries = append(entries, router.Entry[*pipeline.Endpoint]{Method: r.Method, Path: endpoint.Path, Handler: endpoint})
	}
	rt, err := router.New(entries)
	if err != nil {
		// Validate() refuses duplicate routes, so this is a bug.
		return nil, append(problems, err)
	}
	return &config{
		Snapshot: s,
		Router:   rt,
		Tokens:   auth.NewSet(s.Credentials.Tokens),
		OpenAPI:  sync.OnceValues(func() ([]byte, error) { return openapi.Build(s, "") }),
		compiled: compiled,
		Runtime: &pipeline.Runtime{
			Vars: s.Variables, Secrets: s.Credentials.Secrets,
			HTTPClient: client, Endpoints: endpoints, Observer: observer,
		},
	}, problems
}

var errNoConfig = errors.New("no snapshot loaded yet")
