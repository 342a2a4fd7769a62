package local

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// notesAPIs store a note and read it back.
const notesAPIs = `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: note-create}
spec:
  environment: dev
  method: POST
  path: /notes
  authentication: {mode: None}
  steps:
  - name: saved
    store: {collection: notes, operation: insert, value: request.body}
  response: {status: 201, body: steps.saved}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: note-read}
spec:
  environment: dev
  method: GET
  path: /notes/{id}
  authentication: {mode: None}
  steps:
  - name: note
    store: {collection: notes, operation: get, id: request.params.id}
  response: {body: steps.note}
`

// withDatastore adds spec.datastore to the dev Environment of envFile.
func withDatastore(datastore string) string {
	return strings.Replace(envFile, "spec:\n  variables:", "spec:\n  datastore: "+datastore+"\n  variables:", 1)
}

// serveLocal is one run of a local-mode gateway: it loads dir with a new
// Loader (as a restarted process does) and serves it with its SQLite file
// in state, as cmd/gateway does in local mode.
func serveLocal(t *testing.T, dir, state string) (*server.Gateway, *httptest.Server) {
	t.Helper()
	res := load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	gw, err := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	gw.SetDataDir(state)
	if err := gw.Load(res.Snapshot); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return gw, srv
}

// TestLocalSQLiteSurvivesRestart: an Environment with spec.datastore.sqlite
// keeps its records in <state-dir>/data.db, and a restarted gateway serves
// them.
func TestLocalSQLiteSurvivesRestart(t *testing.T) {
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	writeFile(t, dir, "env.yaml", withDatastore("{sqlite: {}}"))
	writeFile(t, dir, "notes.yaml", notesAPIs)

	gw, srv := serveLocal(t, dir, state)
	resp, err := srv.Client().Post(srv.URL+"/notes", "application/json", strings.NewReader(`{"id": "n1", "text": "kept"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /notes: %d", resp.StatusCode)
	}
	if err := gw.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := os.Stat(filepath.Join(state, "data.db")); err != nil {
		t.Fatalf("the SQLite file: %v", err)
	}

	gw, srv = serveLocal(t, dir, state)
	t.Cleanup(func() { _ = gw.Close(t.Context()) })
	resp, err = srv.Client().Get(srv.URL + "/notes/n1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var note map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&note); err != nil || resp.StatusCode != http.StatusOK || note["text"] != "kept" {
		t.Errorf("after a restart: %d %v %v", resp.StatusCode, note, err)
	}
}

// TestLocalWithoutDatastore: as in a cluster, an Environment without
// spec.datastore refuses store steps (NoDatastore), with a warning at the
// AppAPI's file and line, and serves the rest.
func TestLocalWithoutDatastore(t *testing.T) {
	dir, state := setup(t)
	writeFile(t, dir, "notes.yaml", notesAPIs)
	res := load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	if v := res.Verdicts["note-create"]; v.Accepted || v.Reason != v1alpha1.ReasonNoDatastore {
		t.Errorf("note-create: %+v; want refused with NoDatastore", v)
	}
	warningWith(t, res, `notes.yaml:1: AppAPI "note-create" is refused (NoDatastore)`)
	if res.Snapshot.Datastore != nil {
		t.Errorf("snapshot datastore %+v; want none", res.Snapshot.Datastore)
	}
	if names := routeNames(res.Snapshot); !strings.Contains(strings.Join(names, " "), "hello") {
		t.Errorf("routes %v; want hello still served", names)
	}
}

// TestLocalPostgresURLFromSecret: spec.datastore.postgres takes its URL
// from a Secret of the directory, with the consent label, into the
// credentials only; no warning repeats it.
func TestLocalPostgresURLFromSecret(t *testing.T) {
	const url = "postgres://app:local-pa55@127.0.0.1:5432/notes"
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	writeFile(t, dir, "env.yaml", withDatastore("{postgres: {secretKeyRef: {name: db, key: url}}}")+
		"---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, labels: {appapi.dev/environment-secret: \"true\"}}\nstringData:\n  url: "+url+"\n")
	writeFile(t, dir, "notes.yaml", notesAPIs)
	res := load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	if d := res.Snapshot.Datastore; d == nil || d.Kind != snapshot.DatastorePostgres || res.Snapshot.Credentials.DatastoreURL != url {
		t.Fatalf("datastore %+v; want postgres with the Secret's URL in the credentials", d)
	}
	if v := res.Verdicts["note-create"]; !v.Accepted {
		t.Errorf("note-create: %+v", v)
	}

	// Without the consent label there is no URL: store steps are refused, and the warning says why without the URL.
	writeFile(t, dir, "env.yaml", withDatastore("{postgres: {secretKeyRef: {name: db, key: url}}}")+
		"---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  url: "+url+"\n")
	res = load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	if v := res.Verdicts["note-create"]; v.Accepted || v.Reason != v1alpha1.ReasonNoDatastore {
		t.Errorf("note-create without consent: %+v", v)
	}
	warningWith(t, res, "spec.datastore.postgres.secretKeyRef", "SecretNotAllowed")
	for _, w := range res.Warnings {
		if strings.Contains(w, "local-pa55") {
			t.Errorf("a warning holds the URL's password: %s", w)
		}
	}
}
