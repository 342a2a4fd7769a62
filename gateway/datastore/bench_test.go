package datastore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/internal/testutil/postgres"
)

var benchScope = datastore.Scope{Namespace: "bench", Environment: "prod", Collection: "contacts"}

// onBothBackends runs bench against SQLite and PostgreSQL, each with
// records already stored.
func onBothBackends(b *testing.B, records int, bench func(b *testing.B, s datastore.Store)) {
	for _, backend := range []struct {
		name string
		open func(b *testing.B) datastore.Store
	}{
		{"sqlite", func(b *testing.B) datastore.Store { return openSQLite(b, filepath.Join(b.TempDir(), "data.db")) }},
		{"postgres", func(b *testing.B) datastore.Store { return openPostgres(b, postgres.NewDatabase(b)) }},
	} {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b)
			for i := range records {
				if _, err := s.Insert(context.Background(), benchScope, contact(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			bench(b, s)
		})
	}
}

func contact(i int) map[string]any {
	return map[string]any{"id": fmt.Sprintf("c%06d", i), "name": fmt.Sprintf("Person %d", i), "email": fmt.Sprintf("p%d@example.com", i),
		"status": []string{"new", "read", "done"}[i%3], "message": "Hello, I would like to know more about your product.", "score": i % 100}
}

func BenchmarkInsert(b *testing.B) {
	onBothBackends(b, 0, func(b *testing.B, s datastore.Store) {
		i := 0
		for b.Loop() {
			if _, err := s.Insert(context.Background(), benchScope, contact(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkGet(b *testing.B) {
	onBothBackends(b, 1000, func(b *testing.B, s datastore.Store) {
		i := 0
		for b.Loop() {
			if _, err := s.Get(context.Background(), benchScope, fmt.Sprintf("c%06d", i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkQuery reads the first page of 50 of a filtered collection of
// 1000 records (one in three matches), in the default order.
func BenchmarkQuery(b *testing.B) {
	onBothBackends(b, 1000, func(b *testing.B, s datastore.Store) {
		q := datastore.Query{Filters: []datastore.Filter{{Path: []string{"status"}, Op: datastore.OpEq, Value: "new"}}}
		for b.Loop() {
			page, err := s.Query(context.Background(), benchScope, q)
			if err != nil || len(page.Items) != datastore.DefaultLimit {
				b.Fatal(len(page.Items), err)
			}
		}
	})
}
