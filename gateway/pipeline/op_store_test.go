package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// storeRuntime is a runtime whose store is a fresh SQLite file, scoped to
// namespace shop, Environment prod.
func storeRuntime(t *testing.T) *Runtime {
	t.Helper()
	s, err := datastore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rt := testRuntime()
	rt.Store, rt.Namespace, rt.Environment = s, "shop", "prod"
	return rt
}

func storeStep(name string, op v1alpha1.StoreOperation) v1alpha1.Step {
	if op.Collection == "" {
		op.Collection = "notes"
	}
	return v1alpha1.Step{Name: name, Store: &op}
}

func storeRequest(body map[string]any) *request {
	return &request{Method: "POST", Body: body}
}

// TestStoreOperations: each operation's output, in one pipeline.
func TestStoreOperations(t *testing.T) {
	rt := storeRuntime(t)
	e := compileEndpoint(t, "notes", []v1alpha1.Step{
		storeStep("a", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `{'id': 'n1', 'text': request.body.text, 'tags': ['x']}`}),
		storeStep("b", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `{'text': 'second'}`}),
		storeStep("got", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `'n1'`}),
		storeStep("put", v1alpha1.StoreOperation{Operation: v1alpha1.StorePut, ID: `'n1'`, Value: `{'text': 'replaced'}`, IfMatch: `1`}),
		storeStep("patched", v1alpha1.StoreOperation{Operation: v1alpha1.StorePatch, ID: `steps.b.id`, Value: `{'done': true}`}),
		storeStep("page", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery,
			Filter:  []v1alpha1.StoreFilter{{Field: "text", Op: "prefix", Value: `'re'`}},
			OrderBy: []v1alpha1.StoreOrder{{Field: "text", Direction: "desc"}}}),
		storeStep("gone", v1alpha1.StoreOperation{Operation: v1alpha1.StoreDelete, ID: `'n1'`, IfMatch: `'"2"'`}),
		storeStep("again", v1alpha1.StoreOperation{Operation: v1alpha1.StoreDelete, ID: `'n1'`}),
	}, body(`steps`))
	out := mustRun(t, e, rt, storeRequest(map[string]any{"text": "first"})).Body.(map[string]any)

	a := out["a"].(map[string]any)
	if a["id"] != "n1" || a["text"] != "first" || a["version"] != int64(1) && a["version"] != 1.0 {
		t.Errorf("insert: %v", a)
	}
	if got := out["got"].(map[string]any); got["text"] != "first" {
		t.Errorf("get: %v", got)
	}
	if put := out["put"].(map[string]any); put["text"] != "replaced" || put["tags"] != nil || fmt.Sprint(put["version"]) != "2" {
		t.Errorf("put: %v", put)
	}
	if p := out["patched"].(map[string]any); p["done"] != true || p["text"] != "second" {
		t.Errorf("patch: %v", p)
	}
	page := out["page"].(map[string]any)
	items := page["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["text"] != "replaced" || page["nextCursor"] != nil {
		t.Errorf("query: %v", page)
	}
	if g := out["gone"]; fmt.Sprint(g) != "map[deleted:true]" {
		t.Errorf("delete: %v", g)
	}
	if g := out["again"]; fmt.Sprint(g) != "map[deleted:false]" {
		t.Errorf("delete of a deleted record: %v", g)
	}
}

// TestStoreScope: records belong to their namespace, Environment and
// collection.
func TestStoreScope(t *testing.T) {
	rt := storeRuntime(t)
	insert := compileEndpoint(t, "insert", []v1alpha1.Step{
		storeStep("a", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `{'id': 'same'}`}),
	}, body(""))
	get := compileEndpoint(t, "get", []v1alpha1.Step{
		storeStep("a", v1alpha1.StoreOperation{Collection: "other", Operation: v1alpha1.StoreGet, ID: `'same'`}),
	}, body(""))
	mustRun(t, insert, rt, nil)
	runError(t, get, rt, nil, http.StatusNotFound)
	other := &Runtime{Store: rt.Store, Namespace: "shop", Environment: "staging"}
	mustRun(t, insert, other, nil) // no conflict: another Environment's record
	runError(t, insert, rt, nil, http.StatusConflict)
}

// TestStoreFailures: what a caller is told, by status, title and detail.
func TestStoreFailures(t *testing.T) {
	rt := storeRuntime(t)
	seed := compileEndpoint(t, "seed", []v1alpha1.Step{
		storeStep("a", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `{'id': 'n1', 'n': 1}`}),
	}, body(""))
	mustRun(t, seed, rt, nil)
	for _, tc := range []struct {
		name   string
		op     v1alpha1.StoreOperation
		body   map[string]any
		status int
		title  string
		detail string
	}{
		{"duplicate id", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `{'id': 'n1'}`},
			nil, 409, TitleRecordExists, "collection notes already has a record with this id"},
		{"missing record", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `'nope'`},
			nil, 404, TitleRecordNotFound, "collection notes has no record with this id"},
		{"stale version", v1alpha1.StoreOperation{Operation: v1alpha1.StorePatch, ID: `'n1'`, Value: `{}`, IfMatch: `7`},
			nil, 412, TitleVersionMismatch, "has another version than ifMatch"},
		{"value not a map", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `request.body.items`},
			map[string]any{"items": []any{1.0}}, 422, TitleInvalidStoreRequest, "store.value must be a map (a JSON object), got list"},
		{"id not a string", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `request.body.id`},
			map[string]any{"id": 5.0}, 422, TitleInvalidStoreRequest, "store.id must be a non-empty string, got double"},
		{"ifMatch not a number", v1alpha1.StoreOperation{Operation: v1alpha1.StoreDelete, ID: `'n1'`, IfMatch: `request.body.v`},
			map[string]any{"v": "W/\"abc\""}, 422, TitleInvalidStoreRequest, "store.ifMatch must be the record's version"},
		{"in needs a list", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery,
			Filter: []v1alpha1.StoreFilter{{Field: "n", Op: "in", Value: `request.body.n`}}},
			map[string]any{"n": 1.0}, 422, TitleInvalidStoreRequest, "store.filter[0].value (field n, op in) must be a list, got double"},
		{"prefix needs a string", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery,
			Filter: []v1alpha1.StoreFilter{{Field: "a.b", Op: "prefix", Value: `1`}}},
			nil, 422, TitleInvalidStoreRequest, "store.filter[0].value (field a.b, op prefix) must be a string, got int"},
		{"limit out of range", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery, Limit: `1001`},
			nil, 422, TitleInvalidStoreRequest, "store.limit must be a whole number from 1 to 1000, got int"},
		{"cursor not a string", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery, Cursor: `1`},
			nil, 422, TitleInvalidStoreRequest, "store.cursor must be a string"},
		{"tampered cursor", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery, Cursor: `'not-a-cursor'`},
			nil, 422, TitleInvalidStoreRequest, "collection notes: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := compileEndpoint(t, "fail", []v1alpha1.Step{storeStep("s", tc.op)}, body(""))
			err := runError(t, e, rt, storeRequest(tc.body), tc.status)
			if err.Title != tc.title || !strings.Contains(err.Detail, tc.detail) || err.Step != "s" {
				t.Errorf("got %q %q (step %q); want %q containing %q", err.Title, err.Detail, err.Step, tc.title, tc.detail)
			}
		})
	}
}

// TestStoreOnErrorContinue: a missing record with onError Continue is an
// {"error": ...} output that later steps can test.
func TestStoreOnErrorContinue(t *testing.T) {
	rt := storeRuntime(t)
	get := storeStep("found", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `'nope'`})
	get.OnError = v1alpha1.OnErrorContinue
	e := compileEndpoint(t, "lookup", []v1alpha1.Step{get}, body(`has(steps.found.error) ? steps.found.error : 'found'`))
	if got := mustRun(t, e, rt, nil).Body; got != "Record not found: collection notes has no record with this id" {
		t.Errorf("body %v", got)
	}
}

// TestStoreWithoutDatastore: a store step where the runtime has no store
// (local mode, or a gateway given no datastore) answers 503 saying why.
func TestStoreWithoutDatastore(t *testing.T) {
	e := compileEndpoint(t, "none", []v1alpha1.Step{
		storeStep("s", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `'x'`}),
	}, body(""))
	err := runError(t, e, testRuntime(), nil, http.StatusServiceUnavailable)
	if err.Title != TitleNoDatastore || !strings.Contains(err.Detail, "set its spec.datastore") || err.RetryAfter != 0 {
		t.Errorf("%+v", err)
	}
}

// TestStoreCompileErrors: fields an operation needs, and expressions, are
// checked when the AppAPI is compiled.
func TestStoreCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		op   v1alpha1.StoreOperation
		want string
	}{
		{v1alpha1.StoreOperation{Collection: "c", Operation: v1alpha1.StoreGet}, "spec.steps[0].store.id: get requires id"},
		{v1alpha1.StoreOperation{Collection: "c", Operation: v1alpha1.StorePut, ID: "'x'"}, "spec.steps[0].store.value: put requires value"},
		{v1alpha1.StoreOperation{Collection: "c", Operation: "upsert"}, `spec.steps[0].store.operation: "upsert" is not insert, get, query, put, patch or delete`},
		{v1alpha1.StoreOperation{Collection: "c", Operation: v1alpha1.StoreQuery,
			Filter: []v1alpha1.StoreFilter{{Field: "a", Op: "eq", Value: "steps.later"}}}, "spec.steps[0].store.filter[0].value: reads steps.later"},
		{v1alpha1.StoreOperation{Collection: "c", Operation: v1alpha1.StoreQuery, Limit: "1 +"}, "spec.steps[0].store.limit: invalid expression"},
	} {
		_, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: "c", Method: "GET", Path: "/c",
			Steps: []v1alpha1.Step{{Name: "s", Store: &tc.op}}})
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.op, err, tc.want)
		}
	}
}

// TestStoreFailureHidesInternals: an error the datastore package does not
// define is a 500 that does not repeat the driver's text; one it does keeps
// its meaning, with Retry-After when the database is unreachable.
func TestStoreFailureHidesInternals(t *testing.T) {
	op := &storeOp{collection: "notes", operation: v1alpha1.StoreGet}
	ctx := context.Background()
	internal := errors.New(`pq: connection to "db.internal:5432" user=app password=hunter2 failed`)
	e := op.failure(ctx, internal).(*RunError)
	if e.Status != 500 || e.Title != TitleDatastoreFailed || strings.Contains(e.Error(), "hunter2") || strings.Contains(e.Error(), "db.internal") {
		t.Errorf("an unknown error: %+v", e)
	}
	e = op.failure(ctx, fmt.Errorf("%w: dial tcp db.internal:5432: refused", datastore.ErrUnavailable)).(*RunError)
	if e.Status != 503 || e.RetryAfter != 5*time.Second || strings.Contains(e.Detail, "db.internal") {
		t.Errorf("unavailable: %+v", e)
	}
	e = op.failure(ctx, fmt.Errorf("%w: %w", datastore.ErrTooLarge, errors.New("2000000 bytes"))).(*RunError)
	if e.Status != 413 || e.Title != TitleRecordTooLarge {
		t.Errorf("too large: %+v", e)
	}
	for err, want := range map[error]string{
		nil: "ok", datastore.ErrNotFound: "not_found", datastore.ErrConflict: "conflict",
		datastore.ErrVersionMismatch: "precondition_failed", fmt.Errorf("x: %w", datastore.ErrInvalid): "invalid",
		datastore.ErrTooLarge: "too_large", datastore.ErrUnavailable: "unavailable", internal: "error",
	} {
		if got := storeOutcome(err); got != want {
			t.Errorf("storeOutcome(%v) = %q, want %q", err, got, want)
		}
	}
}
