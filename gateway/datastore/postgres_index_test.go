package datastore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/internal/testutil/postgres"
)

// The default order pages along the (scope, created_at, id) index, and eq
// filters on strings use the GIN index, once a collection is large enough
// for the planner to prefer them.
func TestPostgresQueriesUseTheIndexes(t *testing.T) {
	ctx := context.Background()
	store, err := OpenPostgres(ctx, postgres.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := store.(*sqlStore)
	sc := Scope{Namespace: "n", Environment: "e", Collection: "c"}
	for i := range 3000 {
		if _, err := s.Insert(ctx, sc, map[string]any{"status": fmt.Sprintf("s%d", i%500), "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	pool := s.b.(*pgBackend).pool
	// VACUUM moves new entries from the GIN index's pending list into the
	// index proper, as autovacuum does on a live database.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE appapi_records"); err != nil {
		t.Fatal(err)
	}
	plan := func(q Query, cursor []any) string {
		t.Helper()
		cq, err := checkQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		sql, args := selectPage(s.b, sc, cq, components(s.b, cq.order), cursor)
		rows, err := pool.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n")
	}
	if p := plan(Query{}, []any{"2000-01-01T00:00:00.000000Z", "x"}); !strings.Contains(p, "appapi_records_created") {
		t.Errorf("the default order's next page does not use appapi_records_created:\n%s", p)
	}
	if p := plan(Query{Filters: []Filter{{Path: []string{"status"}, Op: OpEq, Value: "s7"}}}, nil); !strings.Contains(p, "appapi_records_doc") {
		t.Errorf("an eq filter on a string does not use appapi_records_doc:\n%s", p)
	}
}
