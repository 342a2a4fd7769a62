// Package storetest is the behaviour suite every datastore backend passes:
// the record model, writes, concurrency, queries and paging, scoping and
// bound parameters. sqlite_test.go and postgres_test.go run it, so both
// backends are held to the same expectations, including the order of
// values of mixed types.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/appapi-dev/appapi/gateway/datastore"
)

// Run runs the suite. open returns a Store on a new, empty database, and
// closes it when the test ends.
func Run(t *testing.T, open func(t *testing.T) datastore.Store) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, datastore.Store)
	}{
		{"InsertSetsTheStoreFields", testInsertSetsTheStoreFields},
		{"InsertKeepsTheValuesID", testInsertKeepsTheValuesID},
		{"InsertRefuses", testInsertRefuses},
		{"GetReturnsWhatInsertReturned", testGetReturnsWhatInsertReturned},
		{"Put", testPut},
		{"Patch", testPatch},
		{"Delete", testDelete},
		{"ConcurrentPatchesLoseNoUpdate", testConcurrentPatchesLoseNoUpdate},
		{"ConcurrentIfMatchOneWins", testConcurrentIfMatchOneWins},
		{"Filters", testFilters},
		{"FilterRefusals", testFilterRefusals},
		{"Limits", testLimits},
		{"DefaultOrderIsCreatedAt", testDefaultOrderIsCreatedAt},
		{"OrderOfMixedTypes", testOrderOfMixedTypes},
		{"OrderByTwoKeys", testOrderByTwoKeys},
		{"StringsOrderByBytes", testStringsOrderByBytes},
		{"PagingVisitsEveryRecordOnce", testPagingVisitsEveryRecordOnce},
		{"PagingStableWhileRecordsAreAdded", testPagingStableWhileRecordsAreAdded},
		{"CursorIsTamperEvident", testCursorIsTamperEvident},
		{"ScopesAreIsolated", testScopesAreIsolated},
		{"NamesAndValuesAreBoundLiterally", testNamesAndValuesAreBoundLiterally},
		{"Ping", func(t *testing.T, s datastore.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// RunReplicas runs the tests of several gateways sharing one database.
// replicas opens n Stores on one new database, at the same time (as
// gateways starting together do), and closes them when the test ends.
func RunReplicas(t *testing.T, replicas func(t *testing.T, n int) []datastore.Store) {
	t.Run("ConcurrentFirstStartsAndSharedData", func(t *testing.T) {
		stores := replicas(t, 4)
		ctx := context.Background()
		for i, s := range stores {
			if _, err := s.Insert(ctx, scope, map[string]any{"id": fmt.Sprintf("from-%d", i)}); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
		for i, s := range stores {
			if got := ids(t, query(t, s, datastore.Query{OrderBy: byID}).Items); len(got) != len(stores) {
				t.Errorf("replica %d sees %v", i, got)
			}
		}
	})
	t.Run("CursorWorksOnAnotherReplica", func(t *testing.T) {
		stores := replicas(t, 2)
		insertN(t, stores[0], 5)
		first := query(t, stores[0], datastore.Query{Limit: 2})
		second := query(t, stores[1], datastore.Query{Limit: 10, Cursor: first.NextCursor})
		if got := len(first.Items) + len(second.Items); got != 5 {
			t.Errorf("two pages on two replicas hold %d records, want 5", got)
		}
	})
	t.Run("ConcurrentPatchesOnTwoReplicas", func(t *testing.T) {
		stores := replicas(t, 2)
		ctx := context.Background()
		mustInsert(t, stores[0], map[string]any{"id": "c", "count": 0})
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { incrementUntilDone(t, stores[i%2], "c") })
		}
		wg.Wait()
		rec, err := stores[1].Get(ctx, scope, "c")
		if err != nil {
			t.Fatal(err)
		}
		if rec["count"] != int64(20) || rec["version"] != int64(21) {
			t.Errorf("after 20 increments on two replicas: count %v, version %v; want 20 and 21", rec["count"], rec["version"])
		}
	})
}

var (
	scope = datastore.Scope{Namespace: "team-a", Environment: "prod", Collection: "contacts"}
	byID  = []datastore.Order{{Path: []string{"id"}}}
	stamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

func ptr(v int64) *int64 { return &v }

func mustInsert(t *testing.T, s datastore.Store, value map[string]any) datastore.Record {
	t.Helper()
	rec, err := s.Insert(context.Background(), scope, value)
	if err != nil {
		t.Fatalf("insert %v: %v", value, err)
	}
	return rec
}

func insertN(t *testing.T, s datastore.Store, n int) {
	t.Helper()
	for i := range n {
		mustInsert(t, s, map[string]any{"id": fmt.Sprintf("r%03d", i), "n": i})
	}
}

func query(t *testing.T, s datastore.Store, q datastore.Query) datastore.Page {
	t.Helper()
	page, err := s.Query(context.Background(), scope, q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return page
}

func ids(t *testing.T, items []datastore.Record) []string {
	t.Helper()
	out := []string{}
	for _, rec := range items {
		out = append(out, rec["id"].(string))
	}
	return out
}

// all reads every page of q and returns the ids in order.
func all(t *testing.T, s datastore.Store, q datastore.Query) []string {
	t.Helper()
	return allIn(t, s, scope, q)
}

func allIn(t *testing.T, s datastore.Store, sc datastore.Scope, q datastore.Query) []string {
	t.Helper()
	var out []string
	for range 1000 {
		page, err := s.Query(context.Background(), sc, q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		out = append(out, ids(t, page.Items)...)
		if page.NextCursor == "" {
			return out
		}
		q.Cursor = page.NextCursor
	}
	t.Fatal("more than 1000 pages")
	return nil
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testInsertSetsTheStoreFields(t *testing.T, s datastore.Store) {
	value := map[string]any{"name": "Ada", "age": int64(36), "score": 9.5, "tags": []any{"x"}, "address": map[string]any{"city": "London"},
		"version": int64(99), "createdAt": "yesterday", "updatedAt": false}
	rec := mustInsert(t, s, value)
	id, err := uuid.Parse(fmt.Sprint(rec["id"]))
	if err != nil || id.Version() != 7 {
		t.Errorf("id %v is not a UUIDv7", rec["id"])
	}
	if rec["version"] != int64(1) {
		t.Errorf("version %v, want 1", rec["version"])
	}
	for _, f := range []string{"createdAt", "updatedAt"} {
		if s, _ := rec[f].(string); !stamp.MatchString(s) {
			t.Errorf("%s %q is not RFC 3339 UTC with microseconds", f, rec[f])
		}
	}
	if rec["createdAt"] != rec["updatedAt"] {
		t.Errorf("createdAt %v and updatedAt %v differ on insert", rec["createdAt"], rec["updatedAt"])
	}
	created, _ := time.Parse(time.RFC3339Nano, rec["createdAt"].(string))
	if d := time.Since(created); d < -time.Minute || d > time.Hour {
		t.Errorf("createdAt %v is not now", created)
	}
	want := map[string]any{"name": "Ada", "age": int64(36), "score": 9.5, "tags": []any{"x"}, "address": map[string]any{"city": "London"},
		"id": rec["id"], "version": int64(1), "createdAt": rec["createdAt"], "updatedAt": rec["updatedAt"]}
	if diff := cmp.Diff(want, map[string]any(rec)); diff != "" {
		t.Errorf("inserted record (-want +got):\n%s", diff)
	}
	if value["version"] != int64(99) || value["id"] != nil {
		t.Errorf("insert modified the caller's value: %v", value)
	}
	second := mustInsert(t, s, map[string]any{})
	if second["id"] == rec["id"] {
		t.Error("two inserts got one id")
	}
}

func testInsertKeepsTheValuesID(t *testing.T, s datastore.Store) {
	rec := mustInsert(t, s, map[string]any{"id": "contact-1", "name": "Ada"})
	if rec["id"] != "contact-1" {
		t.Errorf("id %v, want contact-1", rec["id"])
	}
	_, err := s.Insert(context.Background(), scope, map[string]any{"id": "contact-1", "name": "Grace"})
	wantErr(t, "a duplicate id", err, datastore.ErrConflict)
	got, err := s.Get(context.Background(), scope, "contact-1")
	if err != nil || got["name"] != "Ada" {
		t.Errorf("after a refused duplicate: %v, %v; want the first record", got, err)
	}
}

func testInsertRefuses(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		what  string
		value map[string]any
		want  error
	}{
		{"a number id", map[string]any{"id": 7}, datastore.ErrInvalid},
		{"an empty id", map[string]any{"id": ""}, datastore.ErrInvalid},
		{"a null id", map[string]any{"id": nil}, datastore.ErrInvalid},
		{"an id over 256 bytes", map[string]any{"id": strings.Repeat("x", 257)}, datastore.ErrInvalid},
		{"NUL in a string", map[string]any{"a": "x\x00y"}, datastore.ErrInvalid},
		{"a record over 1 MiB", map[string]any{"a": strings.Repeat("x", datastore.MaxRecordBytes)}, datastore.ErrTooLarge},
	} {
		_, err := s.Insert(ctx, scope, tc.value)
		wantErr(t, tc.what, err, tc.want)
	}
	_, err := s.Insert(ctx, datastore.Scope{Namespace: "a", Environment: "b"}, map[string]any{})
	wantErr(t, "no collection", err, datastore.ErrInvalid)
	_, err = s.Insert(ctx, datastore.Scope{Namespace: "a", Environment: "b", Collection: strings.Repeat("c", 64)}, map[string]any{})
	wantErr(t, "a 64-character collection", err, datastore.ErrInvalid)
	if _, err := s.Insert(ctx, scope, map[string]any{"a": strings.Repeat("x", datastore.MaxRecordBytes-200)}); err != nil {
		t.Errorf("a record just under 1 MiB: %v", err)
	}
	if page := query(t, s, datastore.Query{}); len(page.Items) != 1 {
		t.Errorf("%d records stored, want only the one under 1 MiB", len(page.Items))
	}
}

func testGetReturnsWhatInsertReturned(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	rec := mustInsert(t, s, map[string]any{"n": int64(9007199254740993), "f": 0.1, "big": 1e21, "neg": -3, "s": "<&>é", "b": true, "z": nil, "deep": map[string]any{"a": []any{int64(1), map[string]any{"b": nil}}}})
	got, err := s.Get(ctx, scope, rec["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("get differs from insert (-insert +get):\n%s", diff)
	}
	if got["n"] != int64(9007199254740993) || got["f"] != 0.1 || got["neg"] != int64(-3) {
		t.Errorf("numbers: %#v %#v %#v; want exact int64, float64, int64", got["n"], got["f"], got["neg"])
	}
	_, err = s.Get(ctx, scope, "missing")
	wantErr(t, "a missing id", err, datastore.ErrNotFound)
	_, err = s.Get(ctx, scope, "")
	wantErr(t, "an empty id", err, datastore.ErrNotFound)
}

func testPut(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	old := mustInsert(t, s, map[string]any{"id": "p", "name": "Ada", "email": "ada@example.com"})
	rec, err := s.Put(ctx, scope, "p", map[string]any{"name": "Ada Lovelace", "version": 50, "createdAt": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "p", "name": "Ada Lovelace", "version": int64(2), "createdAt": old["createdAt"], "updatedAt": rec["updatedAt"]}
	if diff := cmp.Diff(want, map[string]any(rec)); diff != "" {
		t.Errorf("put (-want +got):\n%s", diff)
	}
	if rec["updatedAt"].(string) < old["updatedAt"].(string) {
		t.Errorf("updatedAt went back: %v then %v", old["updatedAt"], rec["updatedAt"])
	}
	if got, _ := s.Get(ctx, scope, "p"); !cmp.Equal(got, rec) {
		t.Errorf("get after put: %v, want %v", got, rec)
	}
	_, err = s.Put(ctx, scope, "p", map[string]any{"name": "x"}, ptr(1))
	wantErr(t, "put with an old ifMatch", err, datastore.ErrVersionMismatch)
	if rec, err = s.Put(ctx, scope, "p", map[string]any{"id": "p", "name": "y"}, ptr(2)); err != nil || rec["version"] != int64(3) {
		t.Errorf("put with the current ifMatch and the same id: %v, %v", rec, err)
	}
	_, err = s.Put(ctx, scope, "p", map[string]any{"id": "q"}, nil)
	wantErr(t, "put with another id", err, datastore.ErrInvalid)
	_, err = s.Put(ctx, scope, "missing", map[string]any{}, nil)
	wantErr(t, "put of a missing record", err, datastore.ErrNotFound)
	_, err = s.Put(ctx, scope, "missing", map[string]any{}, ptr(1))
	wantErr(t, "put of a missing record with ifMatch", err, datastore.ErrNotFound)
	_, err = s.Put(ctx, scope, "p", map[string]any{"a": strings.Repeat("x", datastore.MaxRecordBytes)}, nil)
	wantErr(t, "put over 1 MiB", err, datastore.ErrTooLarge)
}

func testPatch(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	mustInsert(t, s, map[string]any{"id": "m", "name": "Ada", "address": map[string]any{"city": "London", "zip": "N1"}, "tags": []any{"a", "b"}, "big": int64(9007199254740993)})
	rec, err := s.Patch(ctx, scope, "m", map[string]any{"address": map[string]any{"zip": nil, "street": "Main"}, "tags": []any{"c"}, "name": nil, "new": 1.5}, ptr(1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "m", "address": map[string]any{"city": "London", "street": "Main"}, "tags": []any{"c"}, "new": 1.5, "big": int64(9007199254740993),
		"version": int64(2), "createdAt": rec["createdAt"], "updatedAt": rec["updatedAt"]}
	if diff := cmp.Diff(want, map[string]any(rec)); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
	_, err = s.Patch(ctx, scope, "m", map[string]any{"x": 1}, ptr(1))
	wantErr(t, "patch with an old ifMatch", err, datastore.ErrVersionMismatch)
	_, err = s.Patch(ctx, scope, "m", map[string]any{"id": nil}, nil)
	wantErr(t, "patch removing the id", err, datastore.ErrInvalid)
	if rec, err = s.Patch(ctx, scope, "m", map[string]any{"version": 7, "createdAt": nil}, nil); err != nil || rec["version"] != int64(3) || rec["createdAt"] != want["createdAt"] {
		t.Errorf("a patch of the store's fields changes nothing of them: %v, %v", rec, err)
	}
	_, err = s.Patch(ctx, scope, "missing", map[string]any{}, nil)
	wantErr(t, "patch of a missing record", err, datastore.ErrNotFound)
	_, err = s.Patch(ctx, scope, "m", map[string]any{"a": strings.Repeat("x", datastore.MaxRecordBytes)}, nil)
	wantErr(t, "patch over 1 MiB", err, datastore.ErrTooLarge)
}

func testDelete(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	mustInsert(t, s, map[string]any{"id": "d"})
	mustInsert(t, s, map[string]any{"id": "e"})
	deleted, err := s.Delete(ctx, scope, "d", ptr(2))
	wantErr(t, "delete with another version", err, datastore.ErrVersionMismatch)
	if deleted {
		t.Error("a refused delete said deleted")
	}
	if _, err := s.Get(ctx, scope, "d"); err != nil {
		t.Errorf("the record is gone after a refused delete: %v", err)
	}
	if deleted, err := s.Delete(ctx, scope, "d", ptr(1)); !deleted || err != nil {
		t.Errorf("delete with the current version: %v, %v", deleted, err)
	}
	if deleted, err := s.Delete(ctx, scope, "d", nil); deleted || err != nil {
		t.Errorf("delete of a missing record: %v, %v; want false, nil", deleted, err)
	}
	if deleted, err := s.Delete(ctx, scope, "d", ptr(1)); deleted || err != nil {
		t.Errorf("delete of a missing record with ifMatch: %v, %v; want false, nil", deleted, err)
	}
	if deleted, err := s.Delete(ctx, scope, "e", nil); !deleted || err != nil {
		t.Errorf("delete without ifMatch: %v, %v", deleted, err)
	}
	_, err = s.Get(ctx, scope, "e")
	wantErr(t, "get after delete", err, datastore.ErrNotFound)
}

// incrementUntilDone reads the record and patches count+1 with ifMatch,
// again whenever another write came first.
func incrementUntilDone(t *testing.T, s datastore.Store, id string) {
	ctx := context.Background()
	for {
		rec, err := s.Get(ctx, scope, id)
		if err != nil {
			t.Error(err)
			return
		}
		version := rec["version"].(int64)
		_, err = s.Patch(ctx, scope, id, map[string]any{"count": rec["count"].(int64) + 1}, &version)
		if errors.Is(err, datastore.ErrVersionMismatch) {
			continue
		}
		if err != nil {
			t.Error(err)
		}
		return
	}
}

func testConcurrentPatchesLoseNoUpdate(t *testing.T, s datastore.Store) {
	mustInsert(t, s, map[string]any{"id": "counter", "count": 0})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { incrementUntilDone(t, s, "counter") })
	}
	wg.Wait()
	rec, err := s.Get(context.Background(), scope, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if rec["count"] != int64(50) || rec["version"] != int64(51) {
		t.Errorf("after 50 concurrent increments: count %v, version %v; want 50 and 51", rec["count"], rec["version"])
	}
}

func testConcurrentIfMatchOneWins(t *testing.T, s datastore.Store) {
	mustInsert(t, s, map[string]any{"id": "race"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, mismatches := 0, 0
	for i := range 50 {
		wg.Go(func() {
			_, err := s.Patch(context.Background(), scope, "race", map[string]any{"winner": i}, ptr(1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, datastore.ErrVersionMismatch):
				mismatches++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || mismatches != 49 {
		t.Errorf("50 patches with ifMatch 1: %d succeeded and %d mismatched; want 1 and 49", wins, mismatches)
	}
	if rec, _ := s.Get(context.Background(), scope, "race"); rec["version"] != int64(2) {
		t.Errorf("version %v, want 2", rec["version"])
	}
}

func filterIDs(t *testing.T, s datastore.Store, filters ...datastore.Filter) []string {
	t.Helper()
	got := all(t, s, datastore.Query{Filters: filters, OrderBy: byID})
	if got == nil {
		got = []string{}
	}
	return got
}

func f(path string, op datastore.FilterOp, value any) datastore.Filter {
	return datastore.Filter{Path: strings.Split(path, "."), Op: op, Value: value}
}

func testFilters(t *testing.T, s datastore.Store) {
	for _, v := range []map[string]any{
		{"id": "a", "age": 30, "name": "Ada", "active": true, "address": map[string]any{"city": "London"}, "tags": []any{"x"}},
		{"id": "b", "age": 41.5, "name": "Bob", "active": false, "address": map[string]any{"city": "Paris"}},
		{"id": "c", "age": "30", "name": "ada", "address": map[string]any{"city": "London"}},
		{"id": "d", "age": nil, "name": "Adam", "address": "London"},
		{"id": "e", "name": "A%d_", "age": int64(7)},
	} {
		mustInsert(t, s, v)
	}
	for _, tc := range []struct {
		filters []datastore.Filter
		want    []string
	}{
		{[]datastore.Filter{f("age", datastore.OpEq, 30)}, []string{"a"}},
		{[]datastore.Filter{f("age", datastore.OpEq, 30.0)}, []string{"a"}},
		{[]datastore.Filter{f("age", datastore.OpEq, "30")}, []string{"c"}},
		{[]datastore.Filter{f("age", datastore.OpEq, nil)}, []string{"d"}},
		{[]datastore.Filter{f("missing", datastore.OpEq, nil)}, []string{"a", "b", "c", "d", "e"}},
		{[]datastore.Filter{f("age", datastore.OpNe, 30)}, []string{"b", "c", "d", "e"}},
		{[]datastore.Filter{f("active", datastore.OpNe, true)}, []string{"b", "c", "d", "e"}},
		{[]datastore.Filter{f("age", datastore.OpLt, 30)}, []string{"e"}},
		{[]datastore.Filter{f("age", datastore.OpLte, 30)}, []string{"a", "e"}},
		{[]datastore.Filter{f("age", datastore.OpGt, 30)}, []string{"b"}},
		{[]datastore.Filter{f("age", datastore.OpGte, 7)}, []string{"a", "b", "e"}},
		{[]datastore.Filter{f("age", datastore.OpGte, "")}, []string{"c"}},
		{[]datastore.Filter{f("active", datastore.OpEq, false)}, []string{"b"}},
		{[]datastore.Filter{f("active", datastore.OpGt, false)}, []string{"a"}},
		{[]datastore.Filter{f("address.city", datastore.OpEq, "London")}, []string{"a", "c"}},
		{[]datastore.Filter{f("address", datastore.OpEq, "London")}, []string{"d"}},
		{[]datastore.Filter{f("tags", datastore.OpEq, "x")}, []string{}},
		{[]datastore.Filter{f("name", datastore.OpIn, []any{"Ada", "Bob", 30})}, []string{"a", "b"}},
		{[]datastore.Filter{f("name", datastore.OpIn, []string{"ada"})}, []string{"c"}},
		{[]datastore.Filter{f("age", datastore.OpIn, []any{30, "30", nil})}, []string{"a", "c", "d"}},
		{[]datastore.Filter{f("name", datastore.OpIn, []any{})}, []string{}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "Ad")}, []string{"a", "d"}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "")}, []string{"a", "b", "c", "d", "e"}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "A%")}, []string{"e"}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "A_")}, []string{}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "A%d_")}, []string{"e"}},
		{[]datastore.Filter{f("name", datastore.OpPrefix, "A%d_x")}, []string{}},
		{[]datastore.Filter{f("age", datastore.OpPrefix, "3")}, []string{"c"}},
		{[]datastore.Filter{f("address.city", datastore.OpEq, "London"), f("name", datastore.OpPrefix, "A")}, []string{"a"}},
		{[]datastore.Filter{f("id", datastore.OpGt, "b")}, []string{"c", "d", "e"}},
		{[]datastore.Filter{f("id", datastore.OpIn, []any{"a", "e", 1})}, []string{"a", "e"}},
		{[]datastore.Filter{f("version", datastore.OpEq, 1)}, []string{"a", "b", "c", "d", "e"}},
		{[]datastore.Filter{f("version", datastore.OpEq, "1")}, []string{}},
		{[]datastore.Filter{f("createdAt", datastore.OpGt, "2000-01-01")}, []string{"a", "b", "c", "d", "e"}},
		{[]datastore.Filter{f("createdAt", datastore.OpLt, "2000-01-01")}, []string{}},
	} {
		if got := filterIDs(t, s, tc.filters...); !slices.Equal(got, tc.want) {
			t.Errorf("filter %v: %v, want %v", tc.filters, got, tc.want)
		}
	}
}

func testFilterRefusals(t *testing.T, s datastore.Store) {
	mustInsert(t, s, map[string]any{"a": 1})
	for _, tc := range []struct {
		what   string
		filter datastore.Filter
	}{
		{"an unknown op", f("a", "like", "x")},
		{"in with a string", f("a", datastore.OpIn, "x")},
		{"in with an object", f("a", datastore.OpIn, []any{map[string]any{}})},
		{"in with 101 values", f("a", datastore.OpIn, make([]any, 101))},
		{"prefix with a number", f("a", datastore.OpPrefix, 1)},
		{"lt with null", f("a", datastore.OpLt, nil)},
		{"eq with a list", f("a", datastore.OpEq, []any{1})},
		{"eq with an object", f("a", datastore.OpEq, map[string]any{})},
		{"an empty path", datastore.Filter{Op: datastore.OpEq, Value: 1}},
		{"an empty segment", datastore.Filter{Path: []string{"a", ""}, Op: datastore.OpEq, Value: 1}},
		{"NUL in a value", f("a", datastore.OpEq, "\x00")},
	} {
		_, err := s.Query(context.Background(), scope, datastore.Query{Filters: []datastore.Filter{tc.filter}})
		wantErr(t, tc.what, err, datastore.ErrInvalid)
	}
	_, err := s.Query(context.Background(), scope, datastore.Query{OrderBy: []datastore.Order{{}}})
	wantErr(t, "an order without a path", err, datastore.ErrInvalid)
	_, err = s.Query(context.Background(), scope, datastore.Query{OrderBy: make([]datastore.Order, datastore.MaxOrderKeys+1)})
	wantErr(t, "too many order keys", err, datastore.ErrInvalid)
}

func testLimits(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	if page := query(t, s, datastore.Query{}); page.Items == nil || len(page.Items) != 0 || page.NextCursor != "" {
		t.Errorf("an empty collection: %#v, want no items and no cursor", page)
	}
	insertN(t, s, 51)
	if page := query(t, s, datastore.Query{}); len(page.Items) != datastore.DefaultLimit || page.NextCursor == "" {
		t.Errorf("default limit: %d items, cursor %q; want 50 and a cursor", len(page.Items), page.NextCursor)
	}
	if page := query(t, s, datastore.Query{Limit: datastore.MaxLimit}); len(page.Items) != 51 || page.NextCursor != "" {
		t.Errorf("limit 1000: %d items, cursor %q; want 51 and none", len(page.Items), page.NextCursor)
	}
	if page := query(t, s, datastore.Query{Limit: 51}); len(page.Items) != 51 || page.NextCursor != "" {
		t.Errorf("a limit equal to the count: %d items, cursor %q; want 51 and none", len(page.Items), page.NextCursor)
	}
	for _, limit := range []int{-1, datastore.MaxLimit + 1} {
		_, err := s.Query(ctx, scope, datastore.Query{Limit: limit})
		wantErr(t, fmt.Sprintf("limit %d", limit), err, datastore.ErrInvalid)
	}
}

func testDefaultOrderIsCreatedAt(t *testing.T, s datastore.Store) {
	var want []string
	for i := range 12 {
		id := fmt.Sprintf("%c", 'z'-i) // ids in the reverse of insertion order
		mustInsert(t, s, map[string]any{"id": id})
		want = append(want, id)
	}
	if got := all(t, s, datastore.Query{Limit: 5}); !slices.Equal(got, want) {
		t.Errorf("default order: %v, want insertion order %v", got, want)
	}
	slices.Reverse(want)
	if got := all(t, s, datastore.Query{Limit: 5, OrderBy: []datastore.Order{{Path: []string{"createdAt"}, Descending: true}}}); !slices.Equal(got, want) {
		t.Errorf("createdAt desc: %v, want %v", got, want)
	}
}

// The one order of mixed types both backends produce: missing and null,
// booleans, numbers, strings, arrays, objects; ties broken by id.
func testOrderOfMixedTypes(t *testing.T, s datastore.Store) {
	values := map[string]any{
		"n1": nil, "b1": false, "b2": true, "i1": -1, "i2": 2.5, "i3": 10, "i4": int64(9007199254740993),
		"s1": "", "s2": "10", "s3": "A", "s4": "a", "a1": []any{9}, "a2": []any{}, "o1": map[string]any{"x": 1}, "o2": map[string]any{},
	}
	for id, v := range values {
		mustInsert(t, s, map[string]any{"id": id, "v": v})
	}
	mustInsert(t, s, map[string]any{"id": "m1"}) // no v
	want := []string{"m1", "n1", "b1", "b2", "i1", "i2", "i3", "i4", "s1", "s2", "s3", "s4", "a1", "a2", "o1", "o2"}
	asc := []datastore.Order{{Path: []string{"v"}}}
	for _, limit := range []int{1, 3, 100} {
		if got := all(t, s, datastore.Query{OrderBy: asc, Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("v asc, limit %d:\n got %v\nwant %v", limit, got, want)
		}
	}
	// Descending reverses the types and values; id still breaks ties ascending.
	wantDesc := []string{"o1", "o2", "a1", "a2", "s4", "s3", "s2", "s1", "i4", "i3", "i2", "i1", "b2", "b1", "m1", "n1"}
	desc := []datastore.Order{{Path: []string{"v"}, Descending: true}}
	for _, limit := range []int{1, 4, 100} {
		if got := all(t, s, datastore.Query{OrderBy: desc, Limit: limit}); !slices.Equal(got, wantDesc) {
			t.Errorf("v desc, limit %d:\n got %v\nwant %v", limit, got, wantDesc)
		}
	}
}

func testOrderByTwoKeys(t *testing.T, s datastore.Store) {
	for i, v := range []struct {
		city string
		age  int
	}{{"Paris", 30}, {"London", 20}, {"Paris", 40}, {"London", 50}, {"Berlin", 30}, {"Paris", 30}} {
		mustInsert(t, s, map[string]any{"id": fmt.Sprint(i), "address": map[string]any{"city": v.city}, "age": v.age})
	}
	order := []datastore.Order{{Path: []string{"address", "city"}}, {Path: []string{"age"}, Descending: true}}
	want := []string{"4", "3", "1", "2", "0", "5"}
	for _, limit := range []int{1, 2, 10} {
		if got := all(t, s, datastore.Query{OrderBy: order, Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("city asc, age desc, limit %d: %v, want %v", limit, got, want)
		}
	}
	byIDDesc := []datastore.Order{{Path: []string{"id"}, Descending: true}}
	if got := all(t, s, datastore.Query{OrderBy: byIDDesc, Limit: 4}); !slices.Equal(got, []string{"5", "4", "3", "2", "1", "0"}) {
		t.Errorf("id desc: %v", got)
	}
}

func testStringsOrderByBytes(t *testing.T, s datastore.Store) {
	for id, v := range map[string]string{"1": "é", "2": "z", "3": "Z", "4": "a", "5": "ab", "6": "a b", "7": "日本", "8": "\U0001F600"} {
		mustInsert(t, s, map[string]any{"id": id, "v": v})
	}
	// UTF-8 byte order: Z < a < "a b" < ab < z < é < 日本 < 😀.
	want := []string{"3", "4", "6", "5", "2", "1", "7", "8"}
	if got := all(t, s, datastore.Query{OrderBy: []datastore.Order{{Path: []string{"v"}}}}); !slices.Equal(got, want) {
		t.Errorf("byte order: %v, want %v", got, want)
	}
	if got := filterIDs(t, s, f("v", datastore.OpGt, "z")); !slices.Equal(got, []string{"1", "7", "8"}) {
		t.Errorf("v > z: %v, want the non-ASCII strings", got)
	}
}

func testPagingVisitsEveryRecordOnce(t *testing.T, s datastore.Store) {
	insertN(t, s, 23)
	for _, order := range [][]datastore.Order{nil, byID, {{Path: []string{"n"}, Descending: true}}, {{Path: []string{"missing"}}}} {
		got := all(t, s, datastore.Query{OrderBy: order, Limit: 4})
		sorted := slices.Sorted(slices.Values(got))
		if len(got) != 23 || len(slices.Compact(sorted)) != 23 {
			t.Errorf("order %v: paging visited %d records (%v), want each of 23 once", order, len(got), got)
		}
	}
}

func testPagingStableWhileRecordsAreAdded(t *testing.T, s datastore.Store) {
	insertN(t, s, 30)
	for _, order := range [][]datastore.Order{nil, {{Path: []string{"createdAt"}, Descending: true}}, {{Path: []string{"n"}}}} {
		seen := map[string]int{}
		q := datastore.Query{OrderBy: order, Limit: 7}
		for page := 0; ; page++ {
			p := query(t, s, q)
			for _, id := range ids(t, p.Items) {
				seen[id]++
			}
			if p.NextCursor == "" {
				break
			}
			for i := range 3 { // records added between pages, before and after the cursor
				mustInsert(t, s, map[string]any{"id": fmt.Sprintf("new-%v-%d-%d", order, page, i), "n": -1 - page*3 - i})
			}
			q.Cursor = p.NextCursor
		}
		for i := range 30 {
			if id := fmt.Sprintf("r%03d", i); seen[id] != 1 {
				t.Errorf("order %v: record %s seen %d times, want once", order, id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("order %v: %s seen %d times", order, id, n)
			}
		}
	}
}

func testCursorIsTamperEvident(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	insertN(t, s, 5)
	q := datastore.Query{Filters: []datastore.Filter{f("n", datastore.OpGte, 0)}, Limit: 2}
	cursor := query(t, s, q).NextCursor
	if cursor == "" {
		t.Fatal("no cursor")
	}
	flipped := []byte(cursor)
	flipped[3] ^= 1
	for what, tc := range map[string]datastore.Query{
		"a changed cursor":       {Filters: q.Filters, Limit: 2, Cursor: string(flipped)},
		"a truncated cursor":     {Filters: q.Filters, Limit: 2, Cursor: cursor[:len(cursor)-2]},
		"garbage":                {Filters: q.Filters, Limit: 2, Cursor: "not-a-cursor"},
		"another filter value":   {Filters: []datastore.Filter{f("n", datastore.OpGte, 1)}, Limit: 2, Cursor: cursor},
		"no filter":              {Limit: 2, Cursor: cursor},
		"another order":          {Filters: q.Filters, OrderBy: byID, Limit: 2, Cursor: cursor},
		"another sort direction": {Filters: q.Filters, OrderBy: []datastore.Order{{Path: []string{"createdAt"}, Descending: true}}, Limit: 2, Cursor: cursor},
	} {
		_, err := s.Query(ctx, scope, tc)
		wantErr(t, what, err, datastore.ErrInvalid)
	}
	other := scope
	other.Collection = "other"
	_, err := s.Query(ctx, other, datastore.Query{Filters: q.Filters, Limit: 2, Cursor: cursor})
	wantErr(t, "a cursor of another collection", err, datastore.ErrInvalid)
	if page, err := s.Query(ctx, scope, datastore.Query{Filters: q.Filters, Limit: 10, Cursor: cursor}); err != nil || len(page.Items) != 3 {
		t.Errorf("the same query with another limit continues: %d items, %v", len(page.Items), err)
	}
}

func testScopesAreIsolated(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	scopes := []datastore.Scope{
		{Namespace: "a", Environment: "prod", Collection: "c"},
		{Namespace: "b", Environment: "prod", Collection: "c"},
		{Namespace: "a", Environment: "staging", Collection: "c"},
		{Namespace: "a", Environment: "prod", Collection: "d"},
		{Namespace: "a", Environment: "pro", Collection: "dc"},
	}
	for i, sc := range scopes {
		if _, err := s.Insert(ctx, sc, map[string]any{"id": "same", "owner": i}); err != nil {
			t.Fatalf("insert into %+v: %v", sc, err)
		}
	}
	for i, sc := range scopes {
		rec, err := s.Get(ctx, sc, "same")
		if err != nil || rec["owner"] != int64(i) {
			t.Errorf("get in %+v: %v, %v; want owner %d", sc, rec, err, i)
		}
		page, err := s.Query(ctx, sc, datastore.Query{})
		if err != nil || len(page.Items) != 1 || page.Items[0]["owner"] != int64(i) {
			t.Errorf("query in %+v: %v, %v", sc, page.Items, err)
		}
	}
	if _, err := s.Patch(ctx, scopes[0], "same", map[string]any{"patched": true}, ptr(1)); err != nil {
		t.Fatal(err)
	}
	if deleted, err := s.Delete(ctx, scopes[1], "same", nil); !deleted || err != nil {
		t.Fatal(deleted, err)
	}
	for i, sc := range scopes[2:] {
		rec, err := s.Get(ctx, sc, "same")
		if err != nil || rec["patched"] != nil || rec["version"] != int64(1) {
			t.Errorf("scope %d was touched by another's patch or delete: %v, %v", i+2, rec, err)
		}
	}
	if _, err := s.Get(ctx, datastore.Scope{Namespace: "a", Environment: "prod", Collection: "e"}, "same"); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("another collection: %v, want not found", err)
	}
}

func testNamesAndValuesAreBoundLiterally(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	nasty := []string{`it's`, `a"b`, `x'); DROP TABLE appapi_records; --`, `;`, `--`, `/*`, `100%`, `a_b`, `%`, `_`, `SELECT`, `$1`, `?`, `\`, `$.a`, `a.b`, `[0]`, `{}`, `0`}
	sc := datastore.Scope{Namespace: `ns'--`, Environment: `env";`, Collection: `c'; DROP TABLE appapi_records; --`}
	for i, name := range nasty {
		value := map[string]any{"id": name, name: name, "nested": map[string]any{name: map[string]any{name: i}}}
		if _, err := s.Insert(ctx, sc, value); err != nil {
			t.Fatalf("insert %q: %v", name, err)
		}
	}
	for i, name := range nasty {
		rec, err := s.Get(ctx, sc, name)
		if err != nil || rec[name] != name {
			t.Errorf("get %q: %v, %v", name, rec, err)
			continue
		}
		page, err := s.Query(ctx, sc, datastore.Query{Filters: []datastore.Filter{{Path: []string{name}, Op: datastore.OpEq, Value: name}}})
		if err != nil || !slices.Equal(ids(t, page.Items), []string{name}) {
			t.Errorf("eq on field %q: %v, %v", name, ids(t, page.Items), err)
		}
		page, err = s.Query(ctx, sc, datastore.Query{Filters: []datastore.Filter{{Path: []string{"nested", name, name}, Op: datastore.OpEq, Value: i}}})
		if err != nil || !slices.Equal(ids(t, page.Items), []string{name}) {
			t.Errorf("eq on nested.%q.%q: %v, %v", name, name, ids(t, page.Items), err)
		}
		page, err = s.Query(ctx, sc, datastore.Query{Filters: []datastore.Filter{{Path: []string{"id"}, Op: datastore.OpPrefix, Value: name}}, OrderBy: byID})
		var want []string
		for _, other := range nasty {
			if strings.HasPrefix(other, name) {
				want = append(want, other)
			}
		}
		slices.Sort(want)
		if err != nil || !slices.Equal(ids(t, page.Items), want) {
			t.Errorf("prefix %q: %v, %v; want %v", name, ids(t, page.Items), err, want)
		}
		if _, err := s.Patch(ctx, sc, name, map[string]any{name: nil}, nil); err != nil {
			t.Errorf("patch %q: %v", name, err)
		}
	}
	if got := allIn(t, s, sc, datastore.Query{OrderBy: []datastore.Order{{Path: []string{`x'); DROP TABLE appapi_records; --`}}}, Limit: 3}); len(got) != len(nasty) {
		t.Errorf("order by a nasty field: %d records, want %d", len(got), len(nasty))
	}
	if _, err := s.Get(ctx, scope, "x"); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("the records table is not intact: %v", err)
	}
}
