package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// contactRoutes are the AppAPIs of a contact list kept in the datastore:
// POST /contacts stores the body (201), GET /contacts lists a page (limit
// and cursor from the query), GET /contacts/{id} reads one, PATCH
// /contacts/{id} merges the body into one with the If-Match header's version.
func contactRoutes() []snapshot.Route {
	insert := openRoute("create", "POST", "/contacts", "steps.save",
		v1alpha1.Step{Name: "save", Store: &v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StoreInsert, Value: "request.body"}})
	insert.Response.Status = ptr(int32(http.StatusCreated))
	list := openRoute("list", "GET", "/contacts", "steps.page",
		v1alpha1.Step{Name: "page", Store: &v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StoreQuery,
			Filter:  []v1alpha1.StoreFilter{{Field: "topic", Op: "eq", Value: "request.query.topic"}},
			OrderBy: []v1alpha1.StoreOrder{{Field: "createdAt", Direction: "asc"}},
			Limit:   "request.query.limit", Cursor: "request.query.?cursor.orValue(null)"}})
	list.Query = []v1alpha1.QueryParameter{
		{Name: "topic", Type: v1alpha1.QueryString, Default: ptr("sales")},
		{Name: "limit", Type: v1alpha1.QueryInteger, Default: ptr("2")},
		{Name: "cursor", Type: v1alpha1.QueryString},
	}
	get := openRoute("read", "GET", "/contacts/{id}", "steps.one",
		v1alpha1.Step{Name: "one", Store: &v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StoreGet, ID: "request.params.id"}})
	patch := openRoute("update", "PATCH", "/contacts/{id}", "steps.merged",
		v1alpha1.Step{Name: "merged", Store: &v1alpha1.StoreOperation{Collection: "contacts", Operation: v1alpha1.StorePatch,
			ID: "request.params.id", Value: "request.body", IfMatch: "request.headers['if-match']"}})
	return []snapshot.Route{insert, list, get, patch}
}

// sqliteSnapshot is generation gen with routes and an SQLite datastore.
func sqliteSnapshot(gen int64, routes ...snapshot.Route) *snapshot.Snapshot {
	s := newSnapshot(gen, routes...)
	s.Datastore = &snapshot.Datastore{Kind: snapshot.DatastoreSQLite}
	return s
}

// newStoreFixture is a gateway whose SQLite file is in a fresh data directory.
func newStoreFixture(t *testing.T, snap *snapshot.Snapshot) (*fixture, string) {
	t.Helper()
	f := newFixture(t, nil)
	dir := filepath.Join(t.TempDir(), "data")
	f.gw.SetDataDir(dir)
	t.Cleanup(func() { _ = f.gw.Close(t.Context()) })
	if err := f.gw.Load(snap); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f, dir
}

func jsonBody(s string) (http.Header, *strings.Reader) {
	return http.Header{"Content-Type": {"application/json"}}, strings.NewReader(s)
}

// TestStoreStepsOverHTTP: a contact list served over HTTP keeps what it is
// sent, pages through it, and answers a missing record and a stale version
// with problems.
func TestStoreStepsOverHTTP(t *testing.T) {
	f, _ := newStoreFixture(t, sqliteSnapshot(1, contactRoutes()...))

	var ids []string
	for i, topic := range []string{"sales", "support", "sales", "sales"} {
		h, b := jsonBody(fmt.Sprintf(`{"name": "person %d", "topic": %q}`, i, topic))
		r := f.do(t, "POST", "/contacts", h, b)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("POST /contacts: %d %s", r.StatusCode, r.body)
		}
		rec := r.json(t).(map[string]any)
		if rec["version"] != 1.0 || rec["id"] == "" || rec["createdAt"] == nil || rec["name"] != fmt.Sprintf("person %d", i) {
			t.Fatalf("inserted record %v", rec)
		}
		ids = append(ids, rec["id"].(string))
	}

	got := f.do(t, "GET", "/contacts/"+ids[1], nil, nil).wantOK(t)
	if got["topic"] != "support" || got["id"] != ids[1] {
		t.Errorf("GET by id: %v", got)
	}
	p := f.do(t, "GET", "/contacts/no-such-id", nil, nil).wantProblem(t, http.StatusNotFound)
	if p.Title != "Record not found" || !strings.Contains(p.Detail, "step one: collection contacts has no record with this id") {
		t.Errorf("missing record: %+v", p)
	}

	// Three sales contacts, two a page: two pages, the second without a nextCursor.
	first := f.do(t, "GET", "/contacts?topic=sales", nil, nil).wantOK(t)
	cursor, _ := first["nextCursor"].(string)
	if names := itemNames(first); fmt.Sprint(names) != "[person 0 person 2]" || cursor == "" {
		t.Fatalf("first page: %v, nextCursor %v", names, first["nextCursor"])
	}
	second := f.do(t, "GET", "/contacts?topic=sales&cursor="+cursor, nil, nil).wantOK(t)
	if names := itemNames(second); fmt.Sprint(names) != "[person 3]" || second["nextCursor"] != nil {
		t.Errorf("second page: %v, nextCursor %v", names, second["nextCursor"])
	}
	p = f.do(t, "GET", "/contacts?limit=5000", nil, nil).wantProblem(t, http.StatusUnprocessableEntity)
	if p.Title != "Invalid store request" || !strings.Contains(p.Detail, "store.limit must be a whole number from 1 to 1000") {
		t.Errorf("limit above the maximum: %+v", p)
	}

	// If-Match carries the version last read: the current one wins once,
	// the same version again is stale.
	h, b := jsonBody(`{"topic": "partners"}`)
	h.Set("If-Match", `"1"`)
	patched := f.do(t, "PATCH", "/contacts/"+ids[0], h, b).wantOK(t)
	if patched["version"] != 2.0 || patched["topic"] != "partners" || patched["name"] != "person 0" {
		t.Errorf("patched: %v", patched)
	}
	h, b = jsonBody(`{"topic": "lost update"}`)
	h.Set("If-Match", "1")
	p = f.do(t, "PATCH", "/contacts/"+ids[0], h, b).wantProblem(t, http.StatusPreconditionFailed)
	if p.Title != "Version mismatch" {
		t.Errorf("stale If-Match: %+v", p)
	}
	if got := f.do(t, "GET", "/contacts/"+ids[0], nil, nil).wantOK(t); got["topic"] != "partners" || got["version"] != 2.0 {
		t.Errorf("after the stale patch: %v", got)
	}

	for outcome, want := range map[string]float64{"ok": 4 + 2 + 2 + 1, "not_found": 1, "precondition_failed": 1} {
		n := 0.0
		for _, op := range []string{"insert", "get", "query", "patch"} {
			n += f.counterValue(t, "appapi_gateway_store_operations_total", map[string]string{"collection": "contacts", "operation": op, "outcome": outcome})
		}
		if n != want {
			t.Errorf("store operations with outcome %s: %v, want %v", outcome, n, want)
		}
	}
}

func itemNames(page map[string]any) []string {
	var names []string
	items, _ := page["items"].([]any)
	for _, it := range items {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	return names
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestPostgresUnreachable: with the database down, store steps answer 503
// with Retry-After, the other AppAPIs serve, /readyz fails but passes
// without its datastore check, and the URL's password is nowhere.
func TestPostgresUnreachable(t *testing.T) {
	const password = "pa55-w0rd-never-shown"
	s := newSnapshot(1, append(contactRoutes(), openRoute("ping", "GET", "/ping", "{'pong': true}"))...)
	s.Datastore = &snapshot.Datastore{Kind: snapshot.DatastorePostgres}
	s.Credentials.DatastoreURL = "postgres://app:" + password + "@" + closedPort(t) + "/records?connect_timeout=5"
	f := newFixture(t, nil)
	t.Cleanup(func() { _ = f.gw.Close(t.Context()) })
	if err := f.gw.Load(s); err != nil {
		t.Fatalf("Load: %v", err)
	}

	h, b := jsonBody(`{"name": "someone"}`)
	r := f.do(t, "POST", "/contacts", h, b)
	p := r.wantProblem(t, http.StatusServiceUnavailable)
	if p.Title != "Datastore unavailable" || r.Header.Get("Retry-After") != "5" {
		t.Errorf("store step: %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
	}
	if got := f.do(t, "GET", "/ping", nil, nil).wantOK(t); got["pong"] != true {
		t.Errorf("transform-only AppAPI: %v", got)
	}

	admin := httptest.NewServer(f.gw.AdminHandler())
	t.Cleanup(admin.Close)
	ready := send(t, admin.Client(), "GET", admin.URL+"/readyz", nil, nil)
	if ready.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(string(ready.body), "[+]snapshot ok\n[-]datastore failed: postgres unreachable\n") {
		t.Errorf("/readyz: %d %s", ready.StatusCode, ready.body)
	}
	if r := send(t, admin.Client(), "GET", admin.URL+"/readyz?exclude=datastore", nil, nil); r.StatusCode != http.StatusOK || string(r.body) != "ok\n" {
		t.Errorf("/readyz?exclude=datastore: %d %s", r.StatusCode, r.body)
	}
	if r := send(t, admin.Client(), "GET", admin.URL+"/readyz?exclude=datastore&verbose", nil, nil); r.StatusCode != http.StatusOK ||
		!strings.Contains(string(r.body), "[+]snapshot ok\n[+]datastore excluded: ok\n") {
		t.Errorf("/readyz?exclude=datastore&verbose: %d %s", r.StatusCode, r.body)
	}

	if !strings.Contains(f.log.String(), `"title":"Datastore unavailable"`) {
		t.Errorf("the log does not say why the store step failed:\n%s", f.log.String())
	}
	for where, text := range map[string]string{"the log": f.log.String(), "the problem": string(r.body), "/readyz": string(ready.body)} {
		if strings.Contains(text, password) || strings.Contains(text, "postgres://") {
			t.Errorf("%s holds the datastore URL or its password:\n%s", where, text)
		}
	}
}

// TestSQLiteDirectoryIsPrivate: the data directory is created for the
// gateway alone.
func TestSQLiteDirectoryIsPrivate(t *testing.T) {
	_, dir := newStoreFixture(t, sqliteSnapshot(1, contactRoutes()...))
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, %v; want mode 0700", info, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data.db")); err != nil {
		t.Errorf("data.db: %v", err)
	}
}

// TestStoreSurvivesReloadAndClosesAtShutdown: a new snapshot naming the
// same datastore keeps it open and its records; Close closes it, after
// which store steps answer 503 and nothing else changes.
func TestStoreSurvivesReloadAndClosesAtShutdown(t *testing.T) {
	f := newFixture(t, nil)
	dir := t.TempDir()
	f.gw.SetDataDir(dir)
	closed := make(chan string, 2)
	f.gw.CountCloses(closed)
	if err := f.gw.Load(sqliteSnapshot(1, contactRoutes()...)); err != nil {
		t.Fatal(err)
	}
	h, b := jsonBody(`{"id": "c1", "name": "kept"}`)
	if r := f.do(t, "POST", "/contacts", h, b); r.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.StatusCode, r.body)
	}
	if err := f.gw.Load(sqliteSnapshot(2, append(contactRoutes(), openRoute("ping", "GET", "/ping", "{'pong': true}"))...)); err != nil {
		t.Fatal(err)
	}
	if got := f.do(t, "GET", "/contacts/c1", nil, nil).wantOK(t); got["name"] != "kept" {
		t.Errorf("after a reload: %v", got)
	}
	select {
	case where := <-closed:
		t.Fatalf("a reload naming the same datastore closed %s", where)
	default:
	}

	if err := f.gw.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if where := <-closed; where != filepath.Join(dir, "data.db") {
		t.Errorf("closed %s, want the SQLite file", where)
	}
	f.do(t, "GET", "/contacts/c1", nil, nil).wantProblem(t, http.StatusServiceUnavailable)
	f.do(t, "GET", "/ping", nil, nil).wantOK(t)

	// Closed means released: another gateway opens the same file and reads the record.
	g := newFixture(t, nil)
	g.gw.SetDataDir(dir)
	t.Cleanup(func() { _ = g.gw.Close(t.Context()) })
	if err := g.gw.Load(sqliteSnapshot(1, contactRoutes()...)); err != nil {
		t.Fatal(err)
	}
	if got := g.do(t, "GET", "/contacts/c1", nil, nil).wantOK(t); got["name"] != "kept" {
		t.Errorf("reopened: %v", got)
	}
}

// TestSwapWaitsForRequestsInFlight: a snapshot naming another datastore
// swaps it in for new requests, while a request that started before keeps
// the old one until it finishes; the old one is closed then.
func TestSwapWaitsForRequestsInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(upstream.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before upstream.Close, which waits for the handler
	slow := openRoute("slow", "POST", "/slow", "steps.save",
		v1alpha1.Step{Name: "wait", HTTP: &v1alpha1.HTTPOperation{URL: upstream.URL}},
		v1alpha1.Step{Name: "save", Store: &v1alpha1.StoreOperation{Collection: "slow", Operation: v1alpha1.StoreInsert, Value: "{'id': 'late'}"}})
	get := openRoute("read", "GET", "/slow/{id}", "steps.one",
		v1alpha1.Step{Name: "one", Store: &v1alpha1.StoreOperation{Collection: "slow", Operation: v1alpha1.StoreGet, ID: "request.params.id"}})
	f := newFixture(t, nil)
	dir := t.TempDir()
	f.gw.SetDataDir(dir)
	closed := make(chan string, 2)
	f.gw.CountCloses(closed)
	t.Cleanup(func() { _ = f.gw.Close(t.Context()) })
	if err := f.gw.Load(sqliteSnapshot(1, slow, get)); err != nil {
		t.Fatal(err)
	}

	done := make(chan reply, 1)
	go func() { done <- f.do(t, "POST", "/slow", nil, nil) }()
	<-arrived
	pg := newSnapshot(2, slow, get)
	pg.Datastore = &snapshot.Datastore{Kind: snapshot.DatastorePostgres}
	pg.Credentials.DatastoreURL = "postgres://app:secret@" + closedPort(t) + "/records"
	if err := f.gw.Load(pg); err != nil {
		t.Fatal(err)
	}
	f.do(t, "GET", "/slow/late", nil, nil).wantProblem(t, http.StatusServiceUnavailable)
	select {
	case <-closed:
		t.Fatal("the SQLite file was closed while a request that started with it was running")
	default:
	}
	unblock()
	if r := <-done; r.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight during the swap: %d %s", r.StatusCode, r.body)
	}
	if where := <-closed; where != filepath.Join(dir, "data.db") {
		t.Errorf("closed %s, want the SQLite file", where)
	}

	// It stored into the SQLite file, which is closed now: another gateway opens it.
	g := newFixture(t, nil)
	g.gw.SetDataDir(dir)
	t.Cleanup(func() { _ = g.gw.Close(t.Context()) })
	if err := g.gw.Load(sqliteSnapshot(1, slow, get)); err != nil {
		t.Fatal(err)
	}
	if got := g.do(t, "GET", "/slow/late", nil, nil).wantOK(t); got["id"] != "late" {
		t.Errorf("the record stored during the swap: %v", got)
	}
}

// TestDatastoreOpenRetried: a datastore that cannot be opened (here, its
// directory is a file) leaves the snapshot served, store steps answering
// 503 and /readyz failing, and opens on its own once the cause is gone.
func TestDatastoreOpenRetried(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(blocked, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil)
	f.gw.SetDataDir(blocked)
	t.Cleanup(func() { _ = f.gw.Close(t.Context()) })
	if err := f.gw.Load(sqliteSnapshot(1, append(contactRoutes(), openRoute("ping", "GET", "/ping", "{'pong': true}"))...)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := f.do(t, "GET", "/contacts/c1", nil, nil)
	if p := r.wantProblem(t, http.StatusServiceUnavailable); p.Title != "Datastore unavailable" || r.Header.Get("Retry-After") != "5" {
		t.Errorf("store step: %+v, Retry-After %q", p, r.Header.Get("Retry-After"))
	}
	f.do(t, "GET", "/ping", nil, nil).wantOK(t)
	admin := httptest.NewServer(f.gw.AdminHandler())
	t.Cleanup(admin.Close)
	if r := send(t, admin.Client(), "GET", admin.URL+"/readyz", nil, nil); r.StatusCode != 503 || !strings.Contains(string(r.body), "[-]datastore failed: sqlite not open\n") {
		t.Errorf("/readyz: %d %s", r.StatusCode, r.body)
	}
	if !strings.Contains(f.log.String(), "datastore not open; store steps answer 503 until it is; retrying") {
		t.Errorf("the log does not say the datastore is retried:\n%s", f.log.String())
	}

	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the datastore opens once its directory can be made", func() error {
		if r := send(t, admin.Client(), "GET", admin.URL+"/readyz", nil, nil); r.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d %s", r.StatusCode, r.body)
		}
		return nil
	})
	h, b := jsonBody(`{"id": "c1", "name": "late"}`)
	if r := f.do(t, "POST", "/contacts", h, b); r.StatusCode != http.StatusCreated {
		t.Errorf("POST after the datastore opened: %d %s", r.StatusCode, r.body)
	}
}
