package crdschema

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/config/crd"
)

func load(t *testing.T) *Schemas {
	t.Helper()
	bases, err := fs.Sub(crd.Bases, "bases")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(bases)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace("default")
	return u
}

// The messages are the real API server's, as test/integration checks.
func TestCreateRefusesAsTheAPIServer(t *testing.T) {
	s := load(t)
	for _, tc := range []struct{ manifest, want string }{
		{
			`{apiVersion: appapi.dev/v1alpha1, kind: AppAPI, metadata: {name: foo}, spec: {environment: dev, method: GET, path: /x, steps: [{name: a}]}}`,
			`AppAPI.appapi.dev "foo" is invalid: spec.steps[0]: Invalid value: each step must set exactly one operation: http, transform, respond, validate, jwt, call, wait, xmlToJson or store`,
		},
		{
			`{apiVersion: appapi.dev/v1alpha1, kind: AppAPI, metadata: {name: foo}, spec: {environment: dev, method: GET, path: /x, colour: blue, steps: [{name: a, onErorr: x}]}}`,
			`AppAPI in version "v1alpha1" cannot be handled as a AppAPI: strict decoding error: unknown field "spec.colour", unknown field "spec.steps[0].onErorr"`,
		},
		{
			`{apiVersion: appapi.dev/v1alpha1, kind: AppAPI, metadata: {name: foo}, spec: {environment: dev, method: FETCH, path: x}}`,
			`AppAPI.appapi.dev "foo" is invalid: [spec.method: Unsupported value: "FETCH": supported values: "GET", "POST", "PUT", "PATCH", "DELETE", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]`,
		},
		{
			// Sorted by field, where the API server's order varies.
			`{apiVersion: appapi.dev/v1alpha1, kind: AppAPI, metadata: {name: foo}, spec: {environment: dev, method: GET, path: /a/../b, query: [{name: q, required: true, default: "1"}]}}`,
			`AppAPI.appapi.dev "foo" is invalid: [spec.path: Invalid value: "/a/../b": path segments cannot be . or .., spec.query[0]: Invalid value: a required parameter cannot have a default]`,
		},
		{
			`{apiVersion: appapi.dev/v1alpha1, kind: ApiToken, metadata: {name: partner}, spec: {environment: dev, rotationGracePeriod: soon}}`,
			`ApiToken.appapi.dev "partner" is invalid: spec.rotationGracePeriod: Invalid value: "soon": must be a duration such as 500ms, 30s or 1m30s`,
		},
		{
			`{apiVersion: appapi.dev/v1alpha1, kind: AppApi, metadata: {name: foo}, spec: {}}`,
			`no matches for kind "AppApi" in version "appapi.dev/v1alpha1"`,
		},
	} {
		err := s.Create(object(t, tc.manifest))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Create(%s):\n got %v\nwant %s", tc.manifest, err, tc.want)
		}
	}
	var noKind *meta.NoKindMatchError
	if err := s.Create(object(t, `{apiVersion: appapi.dev/v2, kind: AppAPI, metadata: {name: foo}}`)); !errors.As(err, &noKind) {
		t.Errorf("an unknown version: %v; want a NoKindMatchError", err)
	}
}

func TestCreateDefaults(t *testing.T) {
	s := load(t)
	u := object(t, `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: foo, creationTimestamp: "2026-01-02T03:04:05Z"}
spec:
  environment: dev
  method: GET
  path: /x
  query: [{name: q}]
  steps: [{name: a, http: {url: "http://x"}}]
status: {servedGeneration: 2}
`)
	if err := s.Create(u); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"environment": "dev", "method": "GET", "path": "/x",
		"authentication": map[string]any{"mode": "Token"},
		"query":          []any{map[string]any{"name": "q", "type": "string"}},
		"steps":          []any{map[string]any{"name": "a", "onError": "Fail", "http": map[string]any{"method": "GET", "url": "http://x"}}},
	}
	if diff := cmp.Diff(want, u.Object["spec"]); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if _, ok := u.Object["status"]; ok || u.GetGeneration() != 1 {
		t.Errorf("status %v, generation %d; want no status, generation 1", u.Object["status"], u.GetGeneration())
	}
	if ts := u.GetCreationTimestamp(); ts.IsZero() {
		t.Error("the manifest's creationTimestamp was dropped")
	}
}

func TestLoadRefusesWhatIsNotACRD(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"empty":     {},
		"not a CRD": {"x.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")}},
		"not YAML":  {"x.yaml": {Data: []byte("{")}},
	} {
		if _, err := Load(files); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
	if kinds := load(t).Kinds(); len(kinds) != 3 || kinds[0].Kind != "ApiToken" {
		t.Errorf("Kinds() = %v; want ApiToken, AppAPI, Environment", kinds)
	}
}
