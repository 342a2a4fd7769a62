package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// cacheSnapshot has three open routes: a answers its version, b answers a
// variable and calls c, which answers its version.
func cacheSnapshot(gen int64, aVersion, cVersion string) *snapshot.Snapshot {
	s := newSnapshot(gen,
		openRoute("a", "GET", "/a", `{'version': '`+aVersion+`'}`),
		openRoute("b", "GET", "/b", `{'region': vars.region, 'c': steps.c}`,
			v1alpha1.Step{Name: "c", Call: &v1alpha1.CallOperation{AppAPI: "c", Input: `{}`}}),
		openRoute("c", "POST", "/c", `{'version': '`+cVersion+`'}`),
	)
	s.Credentials.Tokens = []snapshot.Token{{Name: "t", ID: "1", Hash: snapshot.HashToken("token-1")}}
	return s
}

// served are the endpoints of the gateway's current snapshot by AppAPI name.
func served(f *fixture, names ...string) map[string]*pipeline.Endpoint {
	out := map[string]*pipeline.Endpoint{}
	for _, n := range names {
		out[n] = f.gw.ServedEndpoint(n)
	}
	return out
}

func load(t *testing.T, f *fixture, s *snapshot.Snapshot) {
	t.Helper()
	if err := f.gw.Load(s); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

// TestReloadCompilesOnlyEditedRoutes: an edited route is compiled again
// and serves its new version; the others keep their compiled endpoint,
// and a call step reaches the edited target of the new snapshot.
func TestReloadCompilesOnlyEditedRoutes(t *testing.T) {
	f := newFixture(t, cacheSnapshot(1, "a1", "c1"))
	before := served(f, "a", "b", "c")

	load(t, f, cacheSnapshot(2, "a2", "c2"))
	after := served(f, "a", "b", "c")
	if after["a"] == before["a"] || after["c"] == before["c"] {
		t.Errorf("edited routes a and c were not compiled again")
	}
	if after["b"] != before["b"] {
		t.Errorf("unchanged route b was compiled again")
	}
	if got := f.do(t, "GET", "/a", nil, nil).wantOK(t)["version"]; got != "a2" {
		t.Errorf("GET /a answers version %v, want a2", got)
	}
	if got := f.do(t, "GET", "/b", nil, nil).wantOK(t)["c"]; got.(map[string]any)["version"] != "c2" {
		t.Errorf("GET /b calls c and gets %v, want version c2", got)
	}
	if got := f.gw.CachedRoutes(); got != 3 {
		t.Errorf("cached routes = %d, want 3", got)
	}
}

// TestReloadWithoutRouteChangesCompilesNothing: tokens, secret values and
// variables live in the runtime, so changing them reuses every compiled
// route and the new values are served.
func TestReloadWithoutRouteChangesCompilesNothing(t *testing.T) {
	f := newFixture(t, cacheSnapshot(1, "a1", "c1"))
	before := served(f, "a", "b", "c")

	s := cacheSnapshot(2, "a1", "c1")
	s.Credentials.Tokens = append(s.Credentials.Tokens, snapshot.Token{Name: "u", ID: "2", Hash: snapshot.HashToken("token-2")})
	s.Credentials.Secrets = map[string]string{"key": "value"}
	s.Variables = map[string]string{"region": "us-east"}
	load(t, f, s)
	after := served(f, "a", "b", "c")
	for name := range before {
		if after[name] != before[name] {
			t.Errorf("route %s was compiled again", name)
		}
	}
	if got := f.do(t, "GET", "/b", nil, nil).wantOK(t)["region"]; got != "us-east" {
		t.Errorf("GET /b answers region %v, want the new variable us-east", got)
	}
}

// TestReloadWithTheSameRoutesKeepsTheRouter: a snapshot reader returns the
// routes it returned last when no shard changed (a token or secret edit);
// the gateway then keeps its router and endpoints whole, and serves the
// rest of the new snapshot.
func TestReloadWithTheSameRoutesKeepsTheRouter(t *testing.T) {
	first := cacheSnapshot(1, "a1", "c1")
	f := newFixture(t, first)
	router := f.gw.ServedRouter()

	next := *first
	next.Generation = 2
	next.Variables = map[string]string{"region": "eu-west"}
	load(t, f, &next)
	if f.gw.ServedRouter() != router {
		t.Error("the router was built again for the same routes")
	}
	if got := f.do(t, "GET", "/b", nil, nil).wantOK(t)["region"]; got != "eu-west" {
		t.Errorf("GET /b answers region %v, want the new variable eu-west", got)
	}

	edited := cacheSnapshot(3, "a2", "c1")
	load(t, f, edited)
	if f.gw.ServedRouter() == router {
		t.Error("the router was kept for other routes")
	}
	if got := f.do(t, "GET", "/a", nil, nil).wantOK(t)["version"]; got != "a2" {
		t.Errorf("GET /a answers version %v, want a2", got)
	}
}

// TestReloadForgetsRemovedRoutes: a route the new snapshot does not have
// leaves the cache, and comes back compiled anew.
func TestReloadForgetsRemovedRoutes(t *testing.T) {
	f := newFixture(t, cacheSnapshot(1, "a1", "c1"))
	before := f.gw.ServedEndpoint("a")

	without := cacheSnapshot(2, "a1", "c1")
	without.Routes = slices.DeleteFunc(without.Routes, func(r snapshot.Route) bool { return r.Name == "a" })
	load(t, f, without)
	if got := f.gw.CachedRoutes(); got != 2 {
		t.Errorf("cached routes = %d, want 2", got)
	}
	f.do(t, "GET", "/a", nil, nil).wantProblem(t, http.StatusNotFound)

	third := cacheSnapshot(3, "a1", "c1")
	load(t, f, third)
	again := f.gw.ServedEndpoint("a")
	if again == nil || again == before {
		t.Errorf("route a came back as %p, want a new endpoint (the first was %p)", again, before)
	}
	if again != nil && again.Source == &third.Routes[0] {
		t.Errorf("the endpoint points into the snapshot's routes: reused later, it would keep them all alive")
	}
}

// TestReloadRecompilesWhatDidNotCompile: a route that failed to compile is
// not cached as a success, and its fixed version is served.
func TestReloadRecompilesWhatDidNotCompile(t *testing.T) {
	broken := openRoute("x", "GET", "/x", `{'a': 1 +}`)
	f := newFixture(t, newSnapshot(1, broken))
	f.do(t, "GET", "/x", nil, nil).wantProblem(t, http.StatusNotFound)
	if got := f.gw.CachedRoutes(); got != 0 {
		t.Errorf("cached routes = %d, want 0", got)
	}
	load(t, f, newSnapshot(2, openRoute("x", "GET", "/x", `{'a': 1}`, testutil.TransformStep("s", `1`))))
	if got := f.do(t, "GET", "/x", nil, nil).wantOK(t)["a"]; got != 1.0 {
		t.Errorf("GET /x answers %v, want 1", got)
	}
}
