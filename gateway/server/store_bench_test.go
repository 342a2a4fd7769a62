package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
	"github.com/appapi-dev/appapi/internal/testutil/postgres"
)

// TestMain stops the PostgreSQL server that BenchmarkStoreRequest starts,
// if it started one.
func TestMain(m *testing.M) { os.Exit(postgres.Main(m)) }

// storeBenchRecords are stored before get and query are measured.
const storeBenchRecords = 1000

// BenchmarkStoreRequest measures store steps through the whole gateway, one
// request at a time over a kept-alive loopback connection, on each backend:
// insert (POST a JSON record), get (by id) and query (the first 20 records
// whose status is "open"). transform is an endpoint without a datastore
// step, served by the same gateway in the same run: the baseline the
// others are read against.
func BenchmarkStoreRequest(b *testing.B) {
	for _, backend := range []struct {
		name string
		use  func(*testing.B, *snapshot.Snapshot, *server.Gateway)
	}{
		{"sqlite", func(b *testing.B, s *snapshot.Snapshot, gw *server.Gateway) {
			s.Datastore = &snapshot.Datastore{Kind: snapshot.DatastoreSQLite}
			gw.SetDataDir(b.TempDir())
		}},
		{"postgres", func(b *testing.B, s *snapshot.Snapshot, _ *server.Gateway) {
			s.Datastore = &snapshot.Datastore{Kind: snapshot.DatastorePostgres}
			s.Credentials.DatastoreURL = postgres.NewDatabase(b)
		}},
	} {
		b.Run(backend.name, func(b *testing.B) {
			gw, err := server.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), metrics.New())
			if err != nil {
				b.Fatal(err)
			}
			snap := storeBenchSnapshot()
			backend.use(b, snap, gw)
			if err := gw.Load(snap); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			do := func(b *testing.B, method, path, body string, want int) {
				var r io.Reader
				if body != "" {
					r = strings.NewReader(body)
				}
				req, err := http.NewRequest(method, srv.URL+path, r)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				text, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != want {
					b.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, text, want)
				}
			}
			record := func(i int) string {
				status := "closed"
				if i%2 == 0 {
					status = "open"
				}
				return fmt.Sprintf(`{"id": "rec-%06d", "status": %q, "title": "Record %d", "tags": ["a", "b"], "amount": %d}`, i, status, i, i)
			}
			for i := range storeBenchRecords {
				do(b, "POST", "/records", record(i), 201)
			}

			next := storeBenchRecords
			for _, op := range []struct {
				name string
				run  func(b *testing.B, i int)
			}{
				{"transform", func(b *testing.B, i int) { do(b, "GET", fmt.Sprintf("/echo/rec-%06d", i%storeBenchRecords), "", 200) }},
				{"insert", func(b *testing.B, _ int) { next++; do(b, "POST", "/records", record(next), 201) }},
				{"get", func(b *testing.B, i int) {
					do(b, "GET", fmt.Sprintf("/records/rec-%06d", i%storeBenchRecords), "", 200)
				}},
				{"query", func(b *testing.B, _ int) { do(b, "GET", "/records?status=open", "", 200) }},
			} {
				b.Run(op.name, func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						op.run(b, i)
						i++
					}
				})
			}
		})
	}
}

// storeBenchSnapshot serves the endpoints BenchmarkStoreRequest calls.
func storeBenchSnapshot() *snapshot.Snapshot {
	store := func(name string, op v1alpha1.StoreOperation) v1alpha1.Step {
		op.Collection = "records"
		return v1alpha1.Step{Name: name, Store: &op}
	}
	inserted := openRoute("insert", "POST", "/records", `steps.saved`,
		store("saved", v1alpha1.StoreOperation{Operation: v1alpha1.StoreInsert, Value: `request.body`}))
	inserted.Response.Status = ptr(int32(201))
	return newSnapshot(1,
		openRoute("echo", "GET", "/echo/{id}", `steps.echo`, testutil.TransformStep("echo", `{'id': request.params.id, 'status': 'open'}`)),
		inserted,
		openRoute("get", "GET", "/records/{id}", `steps.found`,
			store("found", v1alpha1.StoreOperation{Operation: v1alpha1.StoreGet, ID: `request.params.id`})),
		openRoute("query", "GET", "/records", `steps.page`,
			store("page", v1alpha1.StoreOperation{Operation: v1alpha1.StoreQuery, Limit: `20`,
				Filter: []v1alpha1.StoreFilter{{Field: "status", Op: "eq", Value: `request.query.status`}}})),
	)
}
