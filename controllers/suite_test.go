package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// The suite runs the real controllers in a manager against a real
// kube-apiserver and etcd. Tests assert through k8sClient, which reads the
// API server directly rather than the manager's cache.
var k8sClient client.Client

// testConfig reaches the same API server, for clients other than
// controller-runtime's, such as a gateway's.
var testConfig *rest.Config

// waitTimeout is generous: the machines that run the tests are shared and
// noisy, and a slow pass must not fail. How fast changes propagate is
// logged here and measured by benchmarks.
const waitTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	assets, err := testutil.EnvtestAssets("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest (run `make envtest` first): %v\n", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()
	testConfig = cfg

	scheme := NewScheme()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Setup(ctx, mgr, Options{GatewayImage: testGatewayImage}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return m.Run()
}

const testGatewayImage = "example.com/appapi-gateway:test"

// zapLevel keeps the controllers' logs quiet unless APPAPI_TEST_LOG is set.
func zapLevel() zapcore.Level {
	if os.Getenv("APPAPI_TEST_LOG") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// newNamespace creates a namespace of the test's own, so tests cannot see
// each other's objects.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually waits for check to pass, up to waitTimeout.
func eventually(t *testing.T, what string, check func() error) time.Duration {
	t.Helper()
	return testutil.Eventually(t, waitTimeout, what, check)
}

func get(t *testing.T, ns, name string, obj client.Object) error {
	t.Helper()
	return k8sClient.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, obj)
}

// readSnapshot reads the published snapshot the way a gateway does.
func readSnapshot(ns, env string) (*snapshot.Snapshot, error) {
	return snapshotReader(k8sClient, ns, env).Read(context.Background())
}

func findRoute(s *snapshot.Snapshot, name string) *snapshot.Route {
	for i := range s.Routes {
		if s.Routes[i].Name == name {
			return &s.Routes[i]
		}
	}
	return nil
}

// condition returns the condition of the given type, or an error saying it is missing.
func condition(conds []metav1.Condition, typ string) (metav1.Condition, error) {
	for _, c := range conds {
		if c.Type == typ {
			return c, nil
		}
	}
	return metav1.Condition{}, fmt.Errorf("no %s condition in %v", typ, conds)
}

// wantCondition checks a condition's status and reason and that it was
// written for the object's current generation.
func wantCondition(obj client.Object, conds []metav1.Condition, typ string, want metav1.ConditionStatus, reason string) error {
	c, err := condition(conds, typ)
	if err != nil {
		return err
	}
	if c.Status != want || c.Reason != reason || c.ObservedGeneration != obj.GetGeneration() {
		return fmt.Errorf("%s = %s/%s for generation %d (%q), want %s/%s for generation %d",
			typ, c.Status, c.Reason, c.ObservedGeneration, c.Message, want, reason, obj.GetGeneration())
	}
	return nil
}

// kstatus computes what Flux and Argo CD's kstatus-based health checks see.
func kstatus(obj runtime.Object) (status.Status, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", err
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	if err != nil {
		return "", err
	}
	return res.Status, nil
}

func newEnvironment(ns, name string) *v1alpha1.Environment {
	return &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func newToken(ns, name, env string) *v1alpha1.ApiToken {
	return &v1alpha1.ApiToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ApiTokenSpec{Environment: env}}
}

func newAppAPI(ns, name, env, method, path, body string) *v1alpha1.AppAPI {
	return &v1alpha1.AppAPI{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.AppAPISpec{Environment: env, Method: method, Path: path,
			Steps:    []v1alpha1.Step{{Name: "answer", Transform: &v1alpha1.TransformOperation{Value: body}}},
			Response: v1alpha1.Response{Body: "steps.answer"}}}
}

// noSecretsIn fails when any text holds one of the secrets.
func noSecretsIn(t *testing.T, where string, texts []string, secrets ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s holds a secret value", where)
			}
		}
	}
}
