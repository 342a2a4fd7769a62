package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// TestGolden translates each testdata/<case>/ directory. Its files 0.yaml,
// 1.yaml, ... are successive states of the cluster, each translated with the
// previous one's snapshot, as the controller does; golden.yaml holds the
// last snapshot and verdicts. Run `go test ./internal/translate -update` to
// rewrite the golden files, then read the diff.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			states, _ := filepath.Glob(filepath.Join(dir, "[0-9]*.yaml"))
			if len(states) == 0 {
				t.Fatalf("%s has no 0.yaml", dir)
			}
			tr := New(env)
			var seq snapshot.Sequencer
			var out *Output
			for _, state := range states {
				out, err = tr.Translate(readInput(t, state, seq.Last()))
				if err != nil {
					t.Fatalf("%s: %v", state, err)
				}
				if _, _, err := seq.Next(out.Snapshot); err != nil {
					t.Fatalf("%s: snapshot does not validate: %v", state, err)
				}
			}
			noCredentialsOutside(t, out)
			got := render(t, out)
			goldenPath := filepath.Join(dir, "golden.yaml")
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", goldenPath, diff)
			}
		})
	}
}

func TestTranslateIsIndependentOfListOrder(t *testing.T) {
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	in := readInput(t, "testdata/path-conflict/0.yaml", nil)
	a, err := New(env).Translate(in)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(in.AppAPIs)
	slices.Reverse(in.Tokens)
	b, err := New(env).Translate(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("reversing the input changed the output:\n%s", diff)
	}
}

// readInput reads one state. Objects get what the API server would give
// them: a UID (their name), generation 1 unless set, and the Environment's
// secrets resolve to "value-of-<name>", its PostgreSQL datastore's URL to
// fakePostgresURL with the Secret's name. Each ApiToken is published with
// the hash of its name.
func readInput(t *testing.T, path string, prev *snapshot.Snapshot) Input {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Previous: prev, SecretValues: map[string]string{}}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		var meta struct{ Kind string }
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Environment":
			in.Environment = &v1alpha1.Environment{}
			mustUnmarshal(t, raw, in.Environment)
			for _, s := range in.Environment.Spec.Secrets {
				in.SecretValues[s.Name] = "value-of-" + s.Name
			}
			if ds := in.Environment.Spec.Datastore; ds != nil && ds.Postgres != nil {
				in.DatastoreURL = fakePostgresURL(ds.Postgres.SecretKeyRef.Name)
			}
		case "AppAPI":
			var app v1alpha1.AppAPI
			mustUnmarshal(t, raw, &app)
			app.UID = types.UID(app.Name)
			if app.Generation == 0 {
				app.Generation = 1
			}
			in.AppAPIs = append(in.AppAPIs, app)
		case "ApiToken":
			var tok v1alpha1.ApiToken
			mustUnmarshal(t, raw, &tok)
			in.TokenNames = append(in.TokenNames, tok.Name)
			entry := snapshot.Token{Name: tok.Name, ID: tok.Name + "-id", Hash: snapshot.HashToken(tok.Name)}
			if tok.Spec.ExpiresAt != nil {
				entry.ExpiresAt = &tok.Spec.ExpiresAt.Time
			}
			in.Tokens = append(in.Tokens, entry)
		default:
			t.Fatalf("%s: unexpected kind %q", path, meta.Kind)
		}
	}
	if in.Environment == nil {
		t.Fatalf("%s has no Environment", path)
	}
	return in
}

// fakePostgresURL is the URL the golden files read from the Secret secret.
func fakePostgresURL(secret string) string {
	return "postgres://app:value-of-" + secret + "@db.shop.svc:5432/app?sslmode=require"
}

func mustUnmarshal(t *testing.T, raw []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
}

// noCredentialsOutside fails when a secret value or the datastore's URL is
// in what is published outside the credentials Secret: the snapshot's
// header and routes (in ConfigMaps) and the verdicts (in AppAPI status).
func noCredentialsOutside(t *testing.T, out *Output) {
	t.Helper()
	public, err := json.Marshal(struct {
		Snapshot *snapshot.Snapshot
		AppAPIs  map[string]Verdict
	}{out.Snapshot, out.AppAPIs})
	if err != nil {
		t.Fatal(err)
	}
	values := slices.Collect(maps.Values(out.Snapshot.Credentials.Secrets))
	values = append(values, out.Snapshot.Credentials.DatastoreURL)
	for _, v := range values {
		if v != "" && bytes.Contains(public, []byte(v)) {
			t.Errorf("a credential is published outside the credentials: %s", public)
		}
	}
}

// render writes the output as YAML, credentials included: the golden files
// hold fake values only.
func render(t *testing.T, out *Output) []byte {
	t.Helper()
	type rendered struct {
		Snapshot    *snapshot.Snapshot   `json:"snapshot"`
		Credentials snapshot.Credentials `json:"credentials"`
		AppAPIs     map[string]Verdict   `json:"appAPIs"`
	}
	j, err := json.Marshal(rendered{Snapshot: out.Snapshot, Credentials: out.Snapshot.Credentials, AppAPIs: out.AppAPIs})
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# Generated by `go test ./internal/translate -update`; review the diff.\n"), y...)
}

// TestStoreStepNeedsAUsableDatastore: a store step is refused while the
// Environment has no datastore the gateway can open, the message says why,
// and the same AppAPI is accepted as soon as the Environment has one.
func TestStoreStepNeedsAUsableDatastore(t *testing.T) {
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	in := readInput(t, "testdata/no-datastore/0.yaml", nil)
	tr := New(env)
	verdict := func(in Input) Verdict {
		t.Helper()
		out, err := tr.Translate(in)
		if err != nil {
			t.Fatal(err)
		}
		return out.AppAPIs["add-contact"]
	}

	// PostgreSQL named, but its URL could not be read.
	in.Environment.Spec.Datastore = &v1alpha1.DatastoreSpec{Postgres: &v1alpha1.PostgresDatastore{
		SecretKeyRef: v1alpha1.SecretKeyReference{Name: "shop-db", Key: "url"}}}
	v := verdict(in)
	if v.Accepted || v.Reason != v1alpha1.ReasonNoDatastore ||
		!strings.Contains(v.Message, `spec.steps[1].store: step "saved" is a store step, but the URL of environment "prod"'s PostgreSQL datastore (key "url" of Secret "shop-db") cannot be used`) {
		t.Errorf("verdict without a URL = %+v, want NoDatastore naming the Secret", v)
	}

	// With the URL, the check passes; the verdict is then the compiler's.
	in.DatastoreURL = fakePostgresURL("shop-db")
	if v := verdict(in); v.Reason == v1alpha1.ReasonNoDatastore {
		t.Errorf("verdict with a PostgreSQL URL = %+v, want no NoDatastore", v)
	}
	in.Environment.Spec.Datastore, in.DatastoreURL = &v1alpha1.DatastoreSpec{SQLite: &v1alpha1.SQLiteDatastore{}}, ""
	if v := verdict(in); v.Reason == v1alpha1.ReasonNoDatastore {
		t.Errorf("verdict with SQLite = %+v, want no NoDatastore", v)
	}
}

// TestDatastoreURLOnlyForPostgres: a URL handed in for an Environment that
// does not name PostgreSQL is not published.
func TestDatastoreURLOnlyForPostgres(t *testing.T) {
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	in := readInput(t, "testdata/datastore-sqlite/0.yaml", nil)
	in.DatastoreURL = fakePostgresURL("stale")
	out, err := New(env).Translate(in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Snapshot.Credentials.DatastoreURL != "" || out.Snapshot.Datastore == nil || out.Snapshot.Datastore.Kind != snapshot.DatastoreSQLite {
		t.Errorf("datastore %+v with a URL %v, want sqlite without one", out.Snapshot.Datastore, out.Snapshot.Credentials.DatastoreURL != "")
	}
}
