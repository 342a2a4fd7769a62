package datastore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/datastore/storetest"
	"github.com/appapi-dev/appapi/internal/testutil"
	"github.com/appapi-dev/appapi/internal/testutil/postgres"
)

func TestMain(m *testing.M) { os.Exit(postgres.Main(m)) }

func openPostgres(t testing.TB, url string) datastore.Store {
	return openStore(t, datastore.OpenPostgres, url)
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) datastore.Store {
		return openPostgres(t, postgres.NewDatabase(t))
	})
}

func TestPostgresReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T, n int) []datastore.Store {
		stores := openConcurrently(t, datastore.OpenPostgres, postgres.NewDatabase(t), n)
		for i, s := range stores {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("replica %d after a concurrent first start: %v", i, err)
			}
		}
		return stores
	})
}

// An unreachable server: Ping and operations fail with ErrUnavailable, and
// no message holds the URL or its password.
func TestPostgresUnavailableHidesTheURL(t *testing.T) {
	ctx := context.Background()
	url := "postgres://appuser:s3cret-pw@" + testutil.UnusedAddr(t) + "/appdb?sslmode=disable"
	s := openPostgres(t, url)
	sc := datastore.Scope{Namespace: "n", Environment: "e", Collection: "c"}
	_, insertErr := s.Insert(ctx, sc, map[string]any{})
	_, queryErr := s.Query(ctx, sc, datastore.Query{})
	for what, err := range map[string]error{"ping": s.Ping(ctx), "insert": insertErr, "query": queryErr} {
		if !errors.Is(err, datastore.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", what, err)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret-pw") || strings.Contains(msg, "appuser") || strings.Contains(msg, "127.0.0.1") {
			t.Errorf("%s: the error names the URL: %s", what, msg)
		}
	}
	_, err := datastore.OpenPostgres(ctx, "postgres://appuser:s3cret-pw@host:notaport/db")
	if !errors.Is(err, datastore.ErrInvalid) || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("a URL that does not parse: %v, want ErrInvalid without the URL", err)
	}
}

// A store opened before its database exists recovers once it does,
// creating the schema then.
func TestPostgresStoreRecoversWhenTheDatabaseAppears(t *testing.T) {
	ctx := context.Background()
	url, create := postgres.LaterDatabase(t)
	s := openPostgres(t, url)
	if err := s.Ping(ctx); !errors.Is(err, datastore.ErrUnavailable) {
		t.Fatalf("ping of a missing database: %v, want ErrUnavailable", err)
	}
	create()
	testutil.Eventually(t, time.Minute, "ping once the database exists", func() error { return s.Ping(ctx) })
	sc := datastore.Scope{Namespace: "n", Environment: "e", Collection: "c"}
	if _, err := s.Insert(ctx, sc, map[string]any{"id": "x"}); err != nil {
		t.Fatalf("insert once the database exists: %v", err)
	}
}
