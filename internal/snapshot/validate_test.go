package snapshot

import (
	"strings"
	"testing"
)

// TestValidateDatastore: the credentials hold a PostgreSQL URL exactly when
// the datastore is PostgreSQL, and no message quotes any part of it.
func TestValidateDatastore(t *testing.T) {
	const password = "pa55-word-not-in-errors"
	tests := []struct {
		name    string
		store   *Datastore
		url     string
		wantErr string
	}{
		{name: "none"},
		{name: "sqlite", store: &Datastore{Kind: DatastoreSQLite}},
		{name: "postgres", store: &Datastore{Kind: DatastorePostgres}, url: "postgres://app:" + password + "@db.shop.svc:5432/app?sslmode=require"},
		{name: "postgresql scheme, upper case", store: &Datastore{Kind: DatastorePostgres}, url: "POSTGRESQL://app:" + password + "@db/app"},
		{name: "several hosts", store: &Datastore{Kind: DatastorePostgres}, url: "postgres://app:" + password + "@db-0:26257,db-1:26257/app"},
		{name: "unix socket, no host", store: &Datastore{Kind: DatastorePostgres}, url: "postgres:///app?host=/run/postgresql"},
		{name: "postgres without a URL", store: &Datastore{Kind: DatastorePostgres},
			wantErr: "credentials.datastoreURL: is empty"},
		{name: "key=value DSN", store: &Datastore{Kind: DatastorePostgres}, url: "host=db user=app password=" + password,
			wantErr: "credentials.datastoreURL: is not a postgres:// or postgresql:// URL"},
		{name: "another scheme", store: &Datastore{Kind: DatastorePostgres}, url: password + "://db/app",
			wantErr: "credentials.datastoreURL: is not a postgres:// or postgresql:// URL"},
		{name: "does not parse", store: &Datastore{Kind: DatastorePostgres}, url: "postgres://app:" + password + "@db:port/app",
			wantErr: "credentials.datastoreURL: is not a postgres:// or postgresql:// URL"},
		{name: "sqlite with a URL", store: &Datastore{Kind: DatastoreSQLite}, url: "postgres://app:" + password + "@db/app",
			wantErr: "credentials.datastoreURL is set but the datastore is sqlite"},
		{name: "a URL without a datastore", url: "postgres://app:" + password + "@db/app",
			wantErr: "credentials.datastoreURL is set but the snapshot has no datastore"},
		{name: "unknown kind", store: &Datastore{Kind: "mysql"},
			wantErr: `datastore.kind "mysql" is not sqlite or postgres`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSnapshot()
			s.Datastore, s.Credentials.DatastoreURL = tt.store, tt.url
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("Validate() quotes the URL's password: %v", err)
			}
		})
	}
}
