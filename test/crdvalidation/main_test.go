// Package crdvalidation checks the validation and defaulting that the API
// server applies to the appapi.dev CRDs: OpenAPI schema constraints and CEL
// (x-kubernetes-validations) rules, as generated into config/crd/bases from
// the markers in api/v1alpha1. Every case sends one object to a real
// kube-apiserver, as one kubectl apply would, and checks its answer.
//
// Run with KUBEBUILDER_ASSETS pointing at a directory holding kube-apiserver,
// etcd and kubectl (the Makefile exports it); without it the tests use
// bin/k8s at the root of the repository, so they also run from an IDE.
package crdvalidation

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// Messages that several kinds share.
const (
	// durationFormat is the message of the rule every Duration field has.
	durationFormat = "must be a duration such as 500ms, 30s or 1m30s"
	// nameNotLabel is the message of the metadata.name rule of Environment and ApiToken.
	nameNotLabel = "metadata.name must be a DNS-1123 label"
	// identifierPattern ends the error of a name that expressions use:
	// Environment secrets, step names and jwt keys.
	identifierPattern = "should match '^[A-Za-z_][A-Za-z0-9_]*$'"
)

var (
	scheme    = runtime.NewScheme()
	k8sClient client.Client
	// kubectl is the real kubectl v1.37.2 of bin/k8s, configured for the test API server.
	kubectl interface {
		Run(args ...string) (stdout, stderr io.Reader, err error)
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// envtest logs through controller-runtime's logger; discarding it keeps
	// the output to test results and avoids the "SetLogger was never called"
	// warning.
	logf.SetLogger(logr.Discard())

	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintf(os.Stderr, "crdvalidation: building the scheme: %v\n", err)
			return 1
		}
	}

	// The working directory of `go test` is this package's directory.
	assets, err := testutil.EnvtestAssets("../..")
	if err != nil {
		fmt.Fprintf(os.Stderr, "crdvalidation: %v\n", err)
		return 1
	}

	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{"../../config/crd/bases"},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "crdvalidation: starting envtest with the binaries in %s: %v\n", assets, err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "crdvalidation: stopping envtest: %v\n", err)
		}
	}()

	kubectl = testEnv.ControlPlane.KubeCtl()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "crdvalidation: creating the client: %v\n", err)
		return 1
	}
	return m.Run()
}

// newNamespace creates a namespace of its own for one test, so that its
// objects cannot collide with another test's. envtest runs no namespace
// controller, so the namespace is left behind and goes with the control plane.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "crdvalidation-"}}
	if err := k8sClient.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	return ns.Name
}

// create sends obj to the API server as a create request. Fields named in
// unset (dotted paths such as "spec.environment") are removed from the
// request, which the Go types cannot express for a field without omitempty:
// that is how a case leaves out a required field.
func create(ctx context.Context, obj client.Object, unset []string) error {
	if len(unset) == 0 {
		return k8sClient.Create(ctx, obj)
	}
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	for _, path := range unset {
		unstructured.RemoveNestedField(u.Object, strings.Split(path, ".")...)
	}
	return k8sClient.Create(ctx, u)
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// applyYAML creates the object written in manifest in namespace ns, exactly
// as written: nothing is added by Go types, so fields left out stay out.
func applyYAML(t *testing.T, ns, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatalf("parsing the manifest: %v", err)
	}
	u.SetNamespace(ns)
	if err := k8sClient.Create(t.Context(), u); err != nil {
		t.Fatalf("creating %s %q: %v", u.GetKind(), u.GetName(), err)
	}
	return u
}

// checkErrors asserts that err is the API server refusing the object with a
// message containing every one of wantErrors, or that err is nil when
// wantErrors is empty.
func checkErrors(t *testing.T, err error, wantErrors []string) {
	t.Helper()
	if len(wantErrors) == 0 {
		if err != nil {
			t.Fatalf("want the object accepted, got: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want the object refused with %q, but it was accepted", wantErrors)
	}
	t.Logf("refused: %v", err)
	if !apierrors.IsInvalid(err) {
		t.Errorf("want an Invalid (422) error, got %T: %v", err, err)
	}
	for _, want := range wantErrors {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// caseName is the name of the object of the i-th case of a table.
func caseName(i int) string { return fmt.Sprintf("case-%d", i) }
