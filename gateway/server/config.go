package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/appapi-dev/appapi/gateway/auth"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/openapi"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/router"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// config is one snapshot compiled for serving. It is immutable: a new
// snapshot builds a new config, and requests in flight finish on the old one.
type config struct {
	Snapshot *snapshot.Snapshot
	Router   *router.Router[*pipeline.Endpoint]
	Tokens   *auth.Set
	Runtime  *pipeline.Runtime
	// OpenAPI is the document served at /openapi.json.
	OpenAPI []byte
}

// compileConfig compiles every route of a validated snapshot. A route that
// does not compile (a gateway older than the manager, say) is left out and
// reported; the others are served.
func compileConfig(s *snapshot.Snapshot, env *expr.Compiler, client *http.Client, observer pipeline.StepObserver) (*config, []error) {
	var problems []error
	endpoints := map[string]*pipeline.Endpoint{}
	var entries []router.Entry[*pipeline.Endpoint]
	for i := range s.Routes {
		r := &s.Routes[i]
		compiled, err := pipeline.Compile(env, r)
		if err != nil {
			problems = append(problems, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		endpoints[r.Name] = compiled
		entries = append(entries, router.Entry[*pipeline.Endpoint]{Method: r.Method, Path: compiled.Path, Handler: compiled})
	}
	rt, err := router.New(entries)
	if err != nil {
		// Validate() refuses duplicate routes, so this is a bug.
		return nil, append(problems, err)
	}
	doc, err := openapi.Build(s, "")
	if err != nil {
		problems = append(problems, fmt.Errorf("openapi: %w", err))
	}
	return &config{
		Snapshot: s,
		Router:   rt,
		Tokens:   auth.NewSet(s.Credentials.Tokens),
		OpenAPI:  doc,
		Runtime: &pipeline.Runtime{
			Vars: s.Variables, Secrets: s.Credentials.Secrets,
			HTTPClient: client, Endpoints: endpoints, Observer: observer,
		},
	}, problems
}

var errNoConfig = errors.New("no snapshot loaded yet")
