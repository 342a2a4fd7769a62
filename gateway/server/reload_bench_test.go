package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// reloadRoutes is the size of the Environment the reload benchmarks serve.
const reloadRoutes = 10_000

// reloadRoute is the i-th transform-only route; version changes its
// expression, as an edit of the AppAPI would.
func reloadRoute(i, version int) snapshot.Route {
	name := fmt.Sprintf("app-%05d", i)
	return snapshot.Route{
		Name: name, Generation: int64(version), Method: "GET", Path: "/" + name + "/orders/{orderId}",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"bench"}},
		Steps: []v1alpha1.Step{testutil.TransformStep("order", fmt.Sprintf(
			`{'id': request.params.orderId, 'caller': token.name, 'region': vars.region, 'version': %d}`, version))},
		Response: v1alpha1.Response{Body: `steps.order`},
	}
}

// reloadSnapshot is an Environment of reloadRoutes routes and one token.
func reloadSnapshot() *snapshot.Snapshot {
	routes := make([]snapshot.Route, reloadRoutes)
	for i := range routes {
		routes[i] = reloadRoute(i, 1)
	}
	s := newSnapshot(1, routes...)
	s.Credentials.Tokens = []snapshot.Token{{Name: "bench", ID: "1", Hash: snapshot.HashToken("token-1")}}
	return s
}

// BenchmarkReload loads a snapshot of 10,000 routes into a gateway: first
// into an empty one, then, into a gateway serving it, the same snapshot
// with one route edited or with one token added. Each iteration of the
// last two alternates between two snapshots, so that every load has the
// same change to apply, with a higher generation.
func BenchmarkReload(b *testing.B) {
	base := reloadSnapshot()
	edited := *base
	edited.Routes = slices.Clone(base.Routes)
	edited.Routes[reloadRoutes/2] = reloadRoute(reloadRoutes/2, 2)
	tokenAdded := *base
	tokenAdded.Credentials.Tokens = append(slices.Clone(base.Credentials.Tokens),
		snapshot.Token{Name: "bench", ID: "2", Hash: snapshot.HashToken("token-2")})

	newGateway := func(b *testing.B) *server.Gateway {
		gw, err := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New())
		if err != nil {
			b.Fatal(err)
		}
		return gw
	}
	load := func(b *testing.B, gw *server.Gateway, s *snapshot.Snapshot, gen int64) {
		next := *s
		next.Generation = gen
		if err := gw.Load(&next); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		gen := int64(0)
		for b.Loop() {
			gen++
			load(b, newGateway(b), base, gen)
		}
	})
	for _, bb := range []struct {
		name   string
		change *snapshot.Snapshot
	}{
		{"one-route-edited", &edited},
		{"token-added", &tokenAdded},
	} {
		b.Run(bb.name, func(b *testing.B) {
			gw := newGateway(b)
			gen := int64(1)
			load(b, gw, base, gen)
			b.ReportAllocs()
			for b.Loop() {
				gen++
				s := base
				if gen%2 == 0 {
					s = bb.change
				}
				load(b, gw, s, gen)
			}
		})
	}
}
