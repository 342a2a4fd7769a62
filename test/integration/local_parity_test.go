package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/controllers"
	"github.com/appapi-dev/appapi/gateway/cluster"
	"github.com/appapi-dev/appapi/gateway/local"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// tokensCase is an Environment whose tokens expire, have expired, and are
// rotated (rotate is "" or the rotate annotation's value) with a grace
// period that runs, or that their expiry cuts short.
func tokensCase(rotate string, soon time.Time) string {
	annotations := ""
	if rotate != "" {
		annotations = `, annotations: {appapi.dev/rotate: "` + rotate + `"}`
	}
	return `apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: keys, namespace: tokens}
spec: {variables: {stage: test}, requestTimeout: 5s}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: expiring, namespace: tokens}
spec: {environment: keys, expiresAt: "2030-01-01T00:00:00Z"}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: expired, namespace: tokens}
spec: {environment: keys, expiresAt: "2020-01-01T00:00:00Z"}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: rotated, namespace: tokens` + annotations + `}
spec: {environment: keys, rotationGracePeriod: 1h}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: capped, namespace: tokens` + annotations + `}
spec: {environment: keys, expiresAt: "` + soon.Format(time.RFC3339) + `", rotationGracePeriod: 8760h}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: whoami, namespace: tokens}
spec:
  environment: keys
  method: GET
  path: /whoami
  query: [{name: verbose, type: boolean, default: "false"}]
  authentication: {allowedTokens: [rotated, expiring]}
  steps:
  - {name: who, transform: {value: "{'name': token.name, 'stage': vars.stage}"}}
  response: {body: steps.who}
`
}

// TestLocalModePublishesWhatTheControllersPublish applies the same
// manifests to a real API server with the controllers running and to local
// mode, and compares the snapshot a cluster-mode gateway loads with local
// mode's: routes (with the CRD defaults),
// settings, variables, secret values, and token names and expiries, which
// must be equal but for token hashes and IDs, generation numbers and UIDs.
func TestLocalModePublishesWhatTheControllersPublish(t *testing.T) {
	cfg, _ := startControlPlane(t)
	ctx := t.Context()
	startControllers(ctx, t, cfg)
	k8s, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("examples", func(t *testing.T) {
		examples := filepath.Join("..", "..", "examples")
		applyDir(t, k8s, examples)
		for _, env := range []string{"demo", "dev", "prod"} {
			res := loadLocal(t, &local.Loader{Dir: examples, StateDir: t.TempDir(), Environment: env, Out: io.Discard})
			if len(res.Warnings) != 0 {
				t.Errorf("%s: local mode warns %q; want no warning", env, res.Warnings)
			}
			sameSnapshots(t, followEnvironment(ctx, t, cfg, metav1.NamespaceDefault, env), res.Snapshot)
		}
	})

	t.Run("rotated and expiring tokens", func(t *testing.T) {
		mustCreate(t, k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tokens"}})
		soon := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		dir := t.TempDir()
		write := func(rotate string) {
			if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte(tokensCase(rotate, soon)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("")
		applyDir(t, k8s, dir)
		loader := &local.Loader{Dir: dir, StateDir: t.TempDir(), Out: io.Discard}
		keys := followEnvironment(ctx, t, cfg, "tokens", "keys")
		sameSnapshots(t, keys, loadLocal(t, loader).Snapshot)

		for _, name := range []string{"rotated", "capped"} {
			tok := &v1alpha1.ApiToken{}
			if err := k8s.Get(ctx, types.NamespacedName{Namespace: "tokens", Name: name}, tok); err != nil {
				t.Fatal(err)
			}
			patch := client.MergeFrom(tok.DeepCopy())
			tok.Annotations = map[string]string{v1alpha1.RotateAnnotation: "1"}
			if err := k8s.Patch(ctx, tok, patch); err != nil {
				t.Fatal(err)
			}
		}
		// Local mode rotates at the moment the controller did, which the
		// end of the grace period it published tells.
		var rotatedAt time.Time
		poll(t, "the controller rotates", func() error {
			s, err := keys.snapshot()
			if err != nil {
				return err
			}
			for _, tok := range s.Credentials.Tokens {
				if tok.Name == "rotated" && tok.ExpiresAt != nil {
					rotatedAt = tok.ExpiresAt.Add(-time.Hour)
					return nil
				}
			}
			return errors.New("no rotated-out token yet")
		})
		write("1")
		loader.Now = func() time.Time { return rotatedAt }
		sameSnapshots(t, keys, loadLocal(t, loader).Snapshot)
	})
}

// startControllers runs the controllers, as TestGatewayInClusterMode does
// in the same process: controller names are checked to be unique per
// process, unless told not to.
func startControllers(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: controllers.NewScheme(), Cache: controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{GatewayImage: "example.com/gateway:test"}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
}

func loadLocal(t *testing.T, l *local.Loader) *local.Result {
	t.Helper()
	res, err := l.Load()
	if err != nil {
		t.Fatalf("local mode: %v", err)
	}
	return res
}

// applyDir creates every object of the YAML files under dir, in the
// default namespace unless they name one, as kubectl apply -R -f would.
func applyDir(t *testing.T, k8s client.Client, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if u.GetNamespace() == "" {
				u.SetNamespace(metav1.NamespaceDefault)
			}
			if err := k8s.Create(context.Background(), u, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// clusterGateway is what a cluster-mode gateway of one Environment loads,
// read by the gateway's own code (gateway/cluster).
type clusterGateway struct {
	mu   sync.Mutex
	last *snapshot.Snapshot
}

func followEnvironment(ctx context.Context, t *testing.T, cfg *rest.Config, ns, env string) *clusterGateway {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &clusterGateway{}
	src := &cluster.Source{Client: cs, Namespace: ns, Environment: env, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Load: func(s *snapshot.Snapshot) error {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.last = s
			return nil
		}}
	go func() { _ = src.Run(ctx) }()
	return g
}

func (g *clusterGateway) snapshot() (*snapshot.Snapshot, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		return nil, errors.New("no snapshot loaded yet")
	}
	return g.last, nil
}

// sameSnapshots waits until the cluster's snapshot equals want, local
// mode's, apart from what is per process.
func sameSnapshots(t *testing.T, g *clusterGateway, want *snapshot.Snapshot) {
	t.Helper()
	poll(t, "the controller publishes what local mode serves for "+want.Environment, func() error {
		got, err := g.snapshot()
		if err != nil {
			return err
		}
		return compareSnapshots(got, want)
	})
	t.Logf("%s: the same %d routes, %d tokens and %d secrets", want.Environment, len(want.Routes), len(want.Credentials.Tokens), len(want.Credentials.Secrets))
}

// tokenView is a published token but for its hash and ID, which are per mint.
type tokenView struct {
	Name      string
	ExpiresAt *time.Time
}

// comparable is what two publishers of the same manifests must agree on.
type comparable struct {
	Namespace, Environment string
	Settings               snapshot.Settings
	Variables              map[string]string
	Routes                 []snapshot.Route
	Tokens                 []tokenView
	SecretNames            []string
}

func view(s *snapshot.Snapshot) comparable {
	c := comparable{Namespace: s.Namespace, Environment: s.Environment, Settings: s.Settings, Variables: s.Variables,
		SecretNames: slices.Sorted(maps.Keys(s.Credentials.Secrets))}
	for _, r := range s.Routes {
		r.UID, r.Generation = "", 0
		c.Routes = append(c.Routes, r)
	}
	for _, tok := range s.Credentials.Tokens {
		c.Tokens = append(c.Tokens, tokenView{Name: tok.Name, ExpiresAt: tok.ExpiresAt})
	}
	// Tokens are sorted by name, then by their random IDs.
	slices.SortFunc(c.Tokens, func(a, b tokenView) int {
		if n := strings.Compare(a.Name, b.Name); n != 0 {
			return n
		}
		return strings.Compare(expiry(a), expiry(b))
	})
	return c
}

func expiry(t tokenView) string {
	if t.ExpiresAt == nil {
		return ""
	}
	return t.ExpiresAt.UTC().Format(time.RFC3339Nano)
}

// compareSnapshots says how got differs from want. Secret values are
// compared, never shown.
func compareSnapshots(got, want *snapshot.Snapshot) error {
	if len(want.Routes) == 0 || len(want.Credentials.Tokens) == 0 {
		return fmt.Errorf("local mode's snapshot of %s has no routes or no tokens, which would prove little", want.Environment)
	}
	if diff := cmp.Diff(view(want), view(got)); diff != "" {
		return fmt.Errorf("snapshots differ (-local +controller):\n%s", diff)
	}
	if !maps.Equal(want.Credentials.Secrets, got.Credentials.Secrets) {
		return fmt.Errorf("the values of secrets %v differ", view(want).SecretNames)
	}
	return nil
}
