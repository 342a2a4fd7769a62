package integration

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/config/crd"
	"github.com/appapi-dev/appapi/controllers"
	"github.com/appapi-dev/appapi/internal/crdschema"
)

// TestCRDSchemaAnswersAsTheAPIServer creates each manifest on a real
// kube-apiserver, as `kubectl apply` does (fieldValidation=Strict), and
// through internal/crdschema, which local mode uses: both must refuse it
// with the same message, or store the same object (defaults included).
func TestCRDSchemaAnswersAsTheAPIServer(t *testing.T) {
	cfg, _ := startControlPlane(t)
	k8s, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	const ns = "crdschema"
	mustCreate(t, k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	schemas := embeddedSchemas(t)

	for _, tc := range []struct{ name, manifest string }{
		{"valid AppAPI gets its defaults", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: defaults}
spec:
  environment: dev
  method: GET
  path: /orders/{id}
  query: [{name: limit}]
  steps:
  - {name: order, http: {url: "http://orders/{{ request.params.id }}"}}
status: {servedGeneration: 3}`},
		{"a step without an operation (CEL)", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: no-operation}
spec: {environment: dev, method: GET, path: /x, steps: [{name: a}]}`},
		{"a method outside the enum, which blocks the CEL rules", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: fetch}
spec: {environment: dev, method: FETCH, path: x}`},
		{"unknown fields", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: typo, labelz: {a: b}}
spec: {environment: dev, method: GET, path: /x, colour: blue, steps: [{name: a, onErorr: Continue, transform: {value: "1"}}]}`},
		{"two rules at once", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: two-rules}
spec:
  environment: dev
  method: GET
  path: /a/../b
  query: [{name: q, required: true, default: "1"}]`},
		{"a name that is not a subdomain", `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: Hello_World}
spec: {environment: dev, method: GET, path: /x}`},
		{"valid Environment gets its defaults", `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {variables: {a: b}}`},
		{"an Environment name that is not a label", `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: dev.example}
spec: {requestTimeout: 2h}`},
		{"a grace period that is not a duration", `
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: partner}
spec: {environment: dev, rotationGracePeriod: soon}`},
		{"an ApiToken without its environment", `
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: orphan}
spec: {expiresAt: "2030-01-01T00:00:00Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			viaServer, viaLocal := parseManifest(t, tc.manifest, ns), parseManifest(t, tc.manifest, ns)
			serverErr := k8s.Create(context.Background(), viaServer, client.FieldValidation(metav1.FieldValidationStrict))
			localErr := schemas.Create(viaLocal)
			t.Logf("API server: %v", serverErr)
			if !sameAnswer(serverErr, localErr) {
				t.Fatalf("messages differ:\nAPI server: %v\nlocal:      %v", serverErr, localErr)
			}
			if serverErr != nil {
				return
			}
			if diff := cmp.Diff(viaServer.Object["spec"], viaLocal.Object["spec"]); diff != "" {
				t.Errorf("stored spec differs (-API server +local):\n%s", diff)
			}
			if _, hasStatus := viaLocal.Object["status"]; hasStatus {
				t.Error("local kept the status, which a create request cannot set")
			}
		})
	}
}

// sameAnswer says whether two errors are the same answer: the same text,
// or, when the API server listed several CEL errors, which it does in map
// order, the same errors in another order.
func sameAnswer(server, local error) bool {
	if server == nil || local == nil {
		return server == local
	}
	if server.Error() == local.Error() {
		return true
	}
	var s, l apierrors.APIStatus
	if !errors.As(server, &s) || !errors.As(local, &l) || s.Status().Details == nil || l.Status().Details == nil {
		return false
	}
	causes := func(st metav1.Status) []string {
		var out []string
		for _, c := range st.Details.Causes {
			out = append(out, string(c.Type)+" "+c.Field+": "+c.Message)
		}
		slices.Sort(out)
		return out
	}
	sd, ld := s.Status().Details, l.Status().Details
	return sd.Group == ld.Group && sd.Kind == ld.Kind && sd.Name == ld.Name && slices.Equal(causes(s.Status()), causes(l.Status()))
}

func parseManifest(t *testing.T, manifest, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	return u
}

func embeddedSchemas(t *testing.T) *crdschema.Schemas {
	t.Helper()
	bases, err := fs.Sub(crd.Bases, "bases")
	if err != nil {
		t.Fatal(err)
	}
	s, err := crdschema.Load(bases)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
