package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// TestGolden translates each testdata/<case>/ directory. Its files 0.yaml,
// 1.yaml, ... are successive states of the cluster, each translated with the
// previous one's snapshot, as the controller does; golden.yaml holds the
// last snapshot and verdicts. Run `go test ./gateway/translate -update` to
// rewrite the golden files, then read the diff.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	env, err := expr.NewEnv()
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
			var prev *snapshot.Snapshot
			var out *Output
			for _, state := range states {
				out, err = tr.Translate(readInput(t, state, prev))
				if err != nil {
					t.Fatalf("%s: %v", state, err)
				}
				out.Snapshot.Generation++
				if err := out.Snapshot.Validate(); err != nil {
					t.Fatalf("%s: snapshot does not validate: %v", state, err)
				}
				prev = out.Snapshot
			}
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
	env, err := expr.NewEnv()
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
// secrets resolve to "value-of-<name>". Each ApiToken is published with the
// hash of its name.
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

func mustUnmarshal(t *testing.T, raw []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
}

// render writes the output as YAML, credentials included: the golden files
// hold fake values only.
func render(t *testing.T, out *Output) []byte {
	t.Helper()
	type rendered struct {
		Snapshot    *snapshot.Snapshot      `json:"snapshot"`
		Credentials snapshot.Credentials    `json:"credentials"`
		AppAPIs     map[string]AppAPIResult `json:"appAPIs"`
	}
	j, err := json.Marshal(rendered{Snapshot: out.Snapshot, Credentials: out.Snapshot.Credentials, AppAPIs: out.AppAPIs})
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# Generated by `go test ./gateway/translate -update`; review the diff.\n"), y...)
}
