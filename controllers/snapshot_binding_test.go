package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/cluster"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/snapshot/store"
)

// forgedGeneration is far ahead of anything the manager publishes: a
// gateway that loaded it would refuse every correction of the manager.
const forgedGeneration = 1 << 40

// testGateway is a real gateway in cluster mode, fed by the real cluster
// source from the test API server, that remembers what it loaded and why
// it refused what it did not.
type testGateway struct {
	mu      sync.Mutex
	loaded  []*snapshot.Snapshot
	refused []string
}

func startTestGateway(t *testing.T, ns, env string) *testGateway {
	t.Helper()
	g := &testGateway{}
	log := slog.New(g)
	gw, err := server.New(log, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	src := &cluster.Source{Client: cs, Namespace: ns, Environment: env, Log: log, Load: func(s *snapshot.Snapshot) error {
		if err := gw.Load(s); err != nil {
			return err
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.loaded = append(g.loaded, s)
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = src.Run(ctx) }()
	return g
}

// waitLoaded waits for the gateway to serve generation gen.
func (g *testGateway) waitLoaded(t *testing.T, gen int64) *snapshot.Snapshot {
	t.Helper()
	var last *snapshot.Snapshot
	eventually(t, fmt.Sprintf("the gateway serves generation %d", gen), func() error {
		g.mu.Lock()
		defer g.mu.Unlock()
		if n := len(g.loaded); n > 0 {
			last = g.loaded[n-1]
		}
		if last == nil || last.Generation != gen {
			return fmt.Errorf("the gateway serves %v", last)
		}
		return nil
	})
	return last
}

// neverLoadedForged fails if the gateway ever loaded the forged snapshot.
func (g *testGateway) neverLoadedForged(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.loaded {
		if s.Generation == forgedGeneration || findRoute(s, "steal") != nil {
			t.Fatalf("the gateway loaded the forged index (generation %d)", s.Generation)
		}
	}
}

// The gateway's log: refusals are kept.
func (g *testGateway) Enabled(context.Context, slog.Level) bool { return true }
func (g *testGateway) WithAttrs([]slog.Attr) slog.Handler       { return g }
func (g *testGateway) WithGroup(string) slog.Handler            { return g }
func (g *testGateway) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			g.mu.Lock()
			g.refused = append(g.refused, a.Value.String())
			g.mu.Unlock()
		}
		return true
	})
	return nil
}

// forgeIndex publishes, as whoever may write ConfigMaps but not Secrets
// would, an index of its own over s's: valid shard digests, a route that
// returns the Environment's secret values, and a very high generation.
func forgeIndex(t *testing.T, ns string, s *snapshot.Snapshot) {
	t.Helper()
	forged := *s
	forged.Generation = forgedGeneration
	forged.Routes = append(slices.Clone(s.Routes), snapshot.Route{Name: "steal", Generation: 1, Method: "GET", Path: "/steal",
		Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}, Response: v1alpha1.Response{Body: "secrets"}})
	enc, err := snapshot.Encode(&forged)
	if err != nil {
		t.Fatal(err)
	}
	update := func(name string, mutate func(*corev1.ConfigMap)) {
		cm := &corev1.ConfigMap{}
		if err := get(t, ns, name, cm); err != nil {
			t.Fatal(err)
		}
		mutate(cm)
		if err := k8sClient.Update(context.Background(), cm); err != nil {
			t.Fatal(err)
		}
	}
	for i, data := range enc.Shards {
		update(snapshot.ShardName(s.Environment, i), func(cm *corev1.ConfigMap) { cm.BinaryData[snapshot.ShardKey] = data })
	}
	update(snapshot.IndexName(s.Environment), func(cm *corev1.ConfigMap) { cm.Data[snapshot.IndexKey] = string(enc.Index) })
}

// TestGatewayServesOnlyTheIndexTheCredentialsName publishes with the
// manager's store.Writer for an Environment the manager does not
// reconcile, so that nothing repairs the forged index while the gateway
// looks at it; TestForgedIndexIsNotServedAndTheManagerRepairsIt runs the
// same forgery against the manager.
func TestGatewayServesOnlyTheIndexTheCredentialsName(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	env := newEnvironment(ns, "solo")
	env.UID = "not-reconciled"
	w := snapshotWriter(k8sClient, env)
	publish := func(gen int64, path string) *snapshot.Snapshot {
		t.Helper()
		s := &snapshot.Snapshot{Header: snapshot.Header{Version: snapshot.Version, Namespace: ns, Environment: "solo", Generation: gen,
			Settings: snapshot.Settings{MaxRequestBytes: 1 << 20, RequestTimeout: snapshot.Duration(1e9)}},
			Routes:      []snapshot.Route{{Name: "hello", Generation: 1, Method: "GET", Path: path, Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}}},
			Credentials: snapshot.Credentials{Secrets: map[string]string{"apiKey": "s3cret-value"}}}
		enc, err := snapshot.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(ctx, enc); err != nil {
			t.Fatal(err)
		}
		return s
	}
	published := publish(3, "/hello")
	gw := startTestGateway(t, ns, "solo")
	gw.waitLoaded(t, 3)

	forgeIndex(t, ns, published)
	eventually(t, "the gateway refuses the forged index", func() error {
		gw.mu.Lock()
		defer gw.mu.Unlock()
		for _, msg := range gw.refused {
			if strings.Contains(msg, store.ErrNotBound.Error()) && strings.Contains(msg, fmt.Sprint(forgedGeneration)) {
				return nil
			}
		}
		return fmt.Errorf("refusals so far: %q", gw.refused)
	})
	gw.neverLoadedForged(t)

	// The next publish is served, and so is a restore to a lower
	// generation, which the credentials name.
	publish(4, "/hello/v4")
	if got := gw.waitLoaded(t, 4); got.Routes[0].Path != "/hello/v4" {
		t.Fatalf("serves path %s", got.Routes[0].Path)
	}
	publish(2, "/hello/restored")
	if got := gw.waitLoaded(t, 2); got.Routes[0].Path != "/hello/restored" {
		t.Fatalf("serves path %s", got.Routes[0].Path)
	}
	gw.neverLoadedForged(t)
	gw.mu.Lock()
	defer gw.mu.Unlock()
	noSecretsIn(t, "the gateway's log", gw.refused, "s3cret-value")
}

func TestForgedIndexIsNotServedAndTheManagerRepairsIt(t *testing.T) {
	ns := newNamespace(t)
	create(t, newEnvironment(ns, "prod"))
	create(t, newAppAPI(ns, "hello", "prod", "GET", "/hello", "{'v': 1}"))
	waitServed(t, ns, "prod", "hello", 1)
	published, err := readSnapshot(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	gw := startTestGateway(t, ns, "prod")
	gw.waitLoaded(t, published.Generation)

	forgeIndex(t, ns, published)
	// The manager puts its own index back; its next publish is served.
	updateAppAPI(t, ns, "hello", func(a *v1alpha1.AppAPI) { a.Spec.Steps[0].Transform.Value = "{'v': 2}" })
	waitServed(t, ns, "prod", "hello", 2)
	next, err := readSnapshot(ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if next.Generation >= forgedGeneration {
		t.Fatalf("the manager numbered on from the forged index: generation %d", next.Generation)
	}
	got := gw.waitLoaded(t, next.Generation)
	if r := findRoute(got, "hello"); r == nil || r.Generation != 2 {
		t.Fatalf("the gateway serves %+v, want hello's generation 2", r)
	}
	gw.neverLoadedForged(t)
}
