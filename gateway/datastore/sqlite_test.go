package datastore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/datastore/storetest"
)

func openSQLite(t testing.TB, path string) datastore.Store {
	return openStore(t, datastore.OpenSQLite, path)
}

// opener opens a store on one backend: OpenSQLite or OpenPostgres.
type opener func(context.Context, string) (datastore.Store, error)

// openStore opens a store with open at location, to be closed when t ends.
func openStore(t testing.TB, open opener, location string) datastore.Store {
	t.Helper()
	s, err := open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, s)
	return s
}

// openConcurrently opens n stores at location at once, as n gateways
// starting together on one new database do.
func openConcurrently(t testing.TB, open opener, location string, n int) []datastore.Store {
	t.Helper()
	stores := make([]datastore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = open(context.Background(), location) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d of %d opening at once: %v", i, n, err)
		}
		closeAtEnd(t, stores[i])
	}
	return stores
}

func closeAtEnd(t testing.TB, s datastore.Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) datastore.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "data.db"))
	})
}

func TestSQLiteReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T, n int) []datastore.Store {
		return openConcurrently(t, datastore.OpenSQLite, filepath.Join(t.TempDir(), "data.db"), n)
	})
}

func TestSQLiteFileIsPrivateAndKeepsRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := datastore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sc := datastore.Scope{Namespace: "n", Environment: "e", Collection: "c"}
	if _, err := s.Insert(ctx, sc, map[string]any{"id": "kept"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Insert(ctx, sc, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.Query(ctx, sc, datastore.Query{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	// SQLite gives the WAL and shared-memory files the database's mode.
	for _, file := range []string{path + "-wal", path + "-shm"} {
		if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 600", filepath.Base(file), info, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("the database file has mode %o, want 600", perm)
	}
	// Reopened (a restart, and a schema already in place): the records and
	// the cursor key are still there.
	s = openSQLite(t, path)
	if _, err := s.Get(ctx, sc, "kept"); err != nil {
		t.Errorf("after reopening: %v", err)
	}
	next, err := s.Query(ctx, sc, datastore.Query{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(next.Items) != 2 {
		t.Errorf("a cursor from before the restart: %d items, %v", len(next.Items), err)
	}
}

func TestOpenSQLiteInAMissingDirectoryFails(t *testing.T) {
	_, err := datastore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "missing", "data.db"))
	if !errors.Is(err, datastore.ErrUnavailable) {
		t.Errorf("error %v, want ErrUnavailable", err)
	}
}
