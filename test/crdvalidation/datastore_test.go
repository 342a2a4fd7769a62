package crdvalidation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// Messages of the datastore rules.
const (
	exactlyOneDatastore = "datastore: set exactly one of sqlite or postgres"
	storeValue          = "store: value is required by insert, put and patch, and allowed only there"
	storeID             = "store: id is required by get, put, patch and delete, and allowed only there"
	storeIfMatch        = "store: ifMatch is allowed only with put, patch and delete"
	storeQueryOnly      = "store: filter, orderBy, limit and cursor are allowed only with query"
	collectionPattern   = "collection may hold only letters, digits, _ and -"
	fieldPathPattern    = "field must be a dotted path such as status or address.city: no empty name before, between or after the dots"
)

func TestEnvironmentDatastore(t *testing.T) {
	ns := newNamespace(t)
	sqlite := func(storage string, class *string) *v1alpha1.DatastoreSpec {
		ds := &v1alpha1.DatastoreSpec{SQLite: &v1alpha1.SQLiteDatastore{StorageClassName: class}}
		if storage != "" {
			ds.SQLite.Storage = new(resource.MustParse(storage))
		}
		return ds
	}
	postgres := &v1alpha1.DatastoreSpec{Postgres: &v1alpha1.PostgresDatastore{SecretKeyRef: v1alpha1.SecretKeyReference{Name: "shop-db", Key: "url"}}}

	cases := []struct {
		desc       string
		datastore  *v1alpha1.DatastoreSpec
		unset      []string
		wantErrors []string
	}{
		{desc: "sqlite with the default size", datastore: sqlite("", nil)},
		{desc: "sqlite with a size and a class", datastore: sqlite("20Gi", new("fast-ssd"))},
		{desc: "postgres", datastore: postgres},
		{desc: "neither", datastore: &v1alpha1.DatastoreSpec{},
			wantErrors: []string{"spec.datastore:", exactlyOneDatastore}},
		{desc: "both", datastore: &v1alpha1.DatastoreSpec{SQLite: sqlite("", nil).SQLite, Postgres: postgres.Postgres},
			wantErrors: []string{"spec.datastore:", exactlyOneDatastore}},
		{desc: "postgres without secretKeyRef", datastore: postgres, unset: []string{"spec.datastore.postgres.secretKeyRef"},
			wantErrors: []string{"spec.datastore.postgres.secretKeyRef: Required value"}},
		{desc: "postgres secretKeyRef without a key", datastore: postgres, unset: []string{"spec.datastore.postgres.secretKeyRef.key"},
			wantErrors: []string{"spec.datastore.postgres.secretKeyRef.key: Required value"}},
		{desc: "sqlite storageClassName too long", datastore: sqlite("", new(strings.Repeat("a", 254))),
			wantErrors: []string{"spec.datastore.sqlite.storageClassName:", "may not be more than 253"}},
	}
	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			e := baseEnvironment(ns, caseName(i))
			e.Spec.Datastore = tc.datastore
			checkErrors(t, create(t.Context(), e, tc.unset), tc.wantErrors)
		})
	}
}

// TestEnvironmentDatastoreSize: storage is a positive Kubernetes quantity.
func TestEnvironmentDatastoreSize(t *testing.T) {
	ns := newNamespace(t)
	for i, tc := range []struct {
		storage    any
		wantErrors []string
	}{
		{storage: "512Mi"},
		{storage: 1073741824},
		{storage: "0", wantErrors: []string{"spec.datastore.sqlite.storage:", "storage must be a positive size such as 512Mi or 1Gi"}},
		{storage: "-1Gi", wantErrors: []string{"spec.datastore.sqlite.storage:", "storage must be a positive size such as 512Mi or 1Gi"}},
		{storage: "2GB-ish", wantErrors: []string{"spec.datastore.sqlite.storage:", "storage must be a positive size such as 512Mi or 1Gi"}},
	} {
		t.Run(fmt.Sprint(tc.storage), func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Environment",
				"metadata": map[string]any{"name": caseName(i), "namespace": ns},
				"spec":     map[string]any{"datastore": map[string]any{"sqlite": map[string]any{"storage": tc.storage}}},
			}}
			checkErrors(t, k8sClient.Create(t.Context(), u), tc.wantErrors)
		})
	}
}

func TestEnvironmentDatastoreDefaults(t *testing.T) {
	ns := newNamespace(t)
	u := applyYAML(t, ns, `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata:
  name: sqlite
spec:
  datastore:
    sqlite: {}
`)
	var got v1alpha1.Environment
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatalf("reading the Environment back: %v", err)
	}
	if s := got.Spec.Datastore.SQLite.Storage; s == nil || s.String() != "1Gi" {
		t.Errorf("spec.datastore.sqlite.storage = %v, want 1Gi", deref(s))
	}
	if c := got.Spec.Datastore.SQLite.StorageClassName; c != nil {
		t.Errorf("spec.datastore.sqlite.storageClassName = %q, want it unset (the cluster's default class)", *c)
	}
}

func storeStep(name string, op v1alpha1.StoreOperation) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Store: &op}
}

func TestStoreStep(t *testing.T) {
	ns := newNamespace(t)
	query := v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StoreQuery,
		Filter:  []v1alpha1.StoreFilter{{Field: "address.city", Op: "eq", Value: "request.query.city"}, {Field: "status", Op: "in", Value: "['new', 'open']"}},
		OrderBy: []v1alpha1.StoreOrder{{Field: "createdAt", Direction: "desc"}},
		Limit:   "20", Cursor: "request.query.cursor"}

	cases := []struct {
		desc       string
		op         v1alpha1.StoreOperation
		wantErrors []string
	}{
		// Each operation with the fields it takes.
		{desc: "insert", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "insert", Value: "request.body"}},
		{desc: "get", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "get", ID: "request.params.orderId"}},
		{desc: "query with every field", op: query},
		{desc: "query with none", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query"}},
		{desc: "put with ifMatch", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "put", ID: "'a'", Value: "request.body", IfMatch: "1"}},
		{desc: "patch", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "patch", ID: "'a'", Value: "request.body"}},
		{desc: "delete with ifMatch", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "delete", ID: "'a'", IfMatch: "int(request.headers['if-match'])"}},
		{desc: "collection of 63 characters with _ and -", op: v1alpha1.StoreOperation{Collection: "a_b-" + strings.Repeat("c", 59), Operation: "get", ID: "'a'"}},

		// Fields an operation needs or does not take.
		{desc: "insert without value", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "insert"},
			wantErrors: []string{"spec.steps[0].store:", storeValue}},
		{desc: "put without value", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "put", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store:", storeValue}},
		{desc: "get with value", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "get", ID: "'a'", Value: "request.body"},
			wantErrors: []string{"spec.steps[0].store:", storeValue}},
		{desc: "get without id", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "get"},
			wantErrors: []string{"spec.steps[0].store:", storeID}},
		{desc: "patch without id", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "patch", Value: "request.body"},
			wantErrors: []string{"spec.steps[0].store:", storeID}},
		{desc: "insert with id", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "insert", Value: "request.body", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store:", storeID}},
		{desc: "query with id", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store:", storeID}},
		{desc: "get with ifMatch", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "get", ID: "'a'", IfMatch: "1"},
			wantErrors: []string{"spec.steps[0].store:", storeIfMatch}},
		{desc: "insert with ifMatch", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "insert", Value: "request.body", IfMatch: "1"},
			wantErrors: []string{"spec.steps[0].store:", storeIfMatch}},
		{desc: "get with a filter", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "get", ID: "'a'", Filter: query.Filter},
			wantErrors: []string{"spec.steps[0].store:", storeQueryOnly}},
		{desc: "delete with a limit", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "delete", ID: "'a'", Limit: "1"},
			wantErrors: []string{"spec.steps[0].store:", storeQueryOnly}},
		{desc: "insert with orderBy", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "insert", Value: "{}", OrderBy: query.OrderBy},
			wantErrors: []string{"spec.steps[0].store:", storeQueryOnly}},
		{desc: "patch with a cursor", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "patch", ID: "'a'", Value: "{}", Cursor: "''"},
			wantErrors: []string{"spec.steps[0].store:", storeQueryOnly}},

		// Names, paths and enums.
		{desc: "operation not in the enum", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "upsert", Value: "{}"},
			wantErrors: []string{"spec.steps[0].store.operation:", unsupportedValue, `"insert", "get", "query", "put", "patch", "delete"`}},
		{desc: "empty operation", op: v1alpha1.StoreOperation{Collection: "contacts", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store.operation:", unsupportedValue, `"insert", "get", "query", "put", "patch", "delete"`}},
		{desc: "collection with a dot", op: v1alpha1.StoreOperation{Collection: "shop.contacts", Operation: "get", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store.collection:", collectionPattern}},
		{desc: "collection with a quote and a semicolon", op: v1alpha1.StoreOperation{Collection: "x';drop", Operation: "get", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store.collection:", collectionPattern}},
		{desc: "collection of 64 characters", op: v1alpha1.StoreOperation{Collection: strings.Repeat("c", 64), Operation: "get", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store.collection:", "may not be more than 63"}},
		{desc: "empty collection", op: v1alpha1.StoreOperation{Operation: "get", ID: "'a'"},
			wantErrors: []string{"spec.steps[0].store.collection:", "should be at least 1 chars long"}},
		{desc: "filter op not in the enum", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: []v1alpha1.StoreFilter{{Field: "status", Op: "like", Value: "'a%'"}}},
			wantErrors: []string{"spec.steps[0].store.filter[0].op:", unsupportedValue, `"eq", "ne", "lt", "lte", "gt", "gte", "in", "prefix"`}},
		{desc: "filter field with an empty segment", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: []v1alpha1.StoreFilter{{Field: "address..city", Op: "eq", Value: "'x'"}}},
			wantErrors: []string{"spec.steps[0].store.filter[0].field:", fieldPathPattern}},
		{desc: "filter field ending with a dot", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: []v1alpha1.StoreFilter{{Field: "address.", Op: "eq", Value: "'x'"}}},
			wantErrors: []string{"spec.steps[0].store.filter[0].field:", fieldPathPattern}},
		{desc: "filter field with quotes and SQL, taken literally", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: []v1alpha1.StoreFilter{{Field: `it's; DROP TABLE--`, Op: "eq", Value: "'x'"}}}},
		{desc: "filter without a value", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: []v1alpha1.StoreFilter{{Field: "status", Op: "eq"}}},
			wantErrors: []string{"spec.steps[0].store.filter[0].value:", "should be at least 1 chars long"}},
		{desc: "orderBy field starting with a dot", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			OrderBy: []v1alpha1.StoreOrder{{Field: ".createdAt"}}},
			wantErrors: []string{"spec.steps[0].store.orderBy[0].field:", fieldPathPattern}},
		{desc: "orderBy direction not in the enum", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			OrderBy: []v1alpha1.StoreOrder{{Field: "createdAt", Direction: "descending"}}},
			wantErrors: []string{"spec.steps[0].store.orderBy[0].direction:", unsupportedValue, `"asc", "desc"`}},
		{desc: "17 filters", op: v1alpha1.StoreOperation{Collection: "contacts", Operation: "query",
			Filter: func() []v1alpha1.StoreFilter {
				var fs []v1alpha1.StoreFilter
				for range 17 {
					fs = append(fs, v1alpha1.StoreFilter{Field: "status", Op: "eq", Value: "'x'"})
				}
				return fs
			}()},
			wantErrors: []string{"spec.steps[0].store.filter:", "must have at most 16 items"}},
	}
	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			a := baseAppAPI(ns, caseName(i))
			a.Spec.Steps = []v1alpha1.Step{storeStep("records", tc.op)}
			checkErrors(t, create(t.Context(), a, nil), tc.wantErrors)
		})
	}
}

// TestStoreStepWithAnotherOperation: store counts as the step's one operation.
func TestStoreStepWithAnotherOperation(t *testing.T) {
	ns := newNamespace(t)
	a := baseAppAPI(ns, "two-operations")
	step := storeStep("records", v1alpha1.StoreOperation{Collection: "contacts", Operation: "get", ID: "'a'"})
	step.Transform = &v1alpha1.TransformOperation{Value: "1"}
	a.Spec.Steps = []v1alpha1.Step{step}
	checkErrors(t, create(t.Context(), a, nil), []string{"spec.steps[0]:", exactlyOneOp})
}

func TestStoreStepDefaults(t *testing.T) {
	ns := newNamespace(t)
	u := applyYAML(t, ns, `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata:
  name: list
spec:
  environment: prod
  method: GET
  path: /contacts
  steps:
  - name: page
    store:
      collection: contacts
      operation: query
      orderBy: [{field: name}]
`)
	var got v1alpha1.AppAPI
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatalf("reading the AppAPI back: %v", err)
	}
	if d := got.Spec.Steps[0].Store.OrderBy[0].Direction; d != "asc" {
		t.Errorf("spec.steps[0].store.orderBy[0].direction = %q, want asc", d)
	}
}
