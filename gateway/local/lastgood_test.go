package local

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFileKeepsItsLastGoodVersion breaks a served file in each way the API
// server or kubectl would refuse it, together with an edit of another
// object of the file: the file's previous version keeps serving, whole,
// and the problem is reported at its line.
func TestFileKeepsItsLastGoodVersion(t *testing.T) {
	dir, state := setup(t)
	l := newLoader(t, dir, state, &bytes.Buffer{})
	good := load(t, l).Snapshot
	// An edit that is fine alone, made in the same save as the breakage.
	edited := strings.Replace(helloAPI, "vars.greeting + ' '", "'hi '", 1)

	for _, tc := range []struct {
		name, sign, want string
	}{
		{"a YAML syntax error", strings.Replace(signAPI, "  path: /sign\n", "  path: /sign\n  bad: [\n", 1),
			"apis/apis.yaml:22: not valid YAML or JSON: did not find expected ',' or ']'"},
		{"an unknown kind", strings.Replace(signAPI, "kind: AppAPI", "kind: AppApi", 1),
			`apis/apis.yaml:14: no matches for kind "AppApi" in version "appapi.dev/v1alpha1": the kinds of appapi.dev are ApiToken (appapi.dev/v1alpha1), AppAPI (appapi.dev/v1alpha1), Environment (appapi.dev/v1alpha1)`},
		{"a value the schema refuses", strings.Replace(signAPI, "method: POST", "method: post", 1),
			`apis/apis.yaml:14: AppAPI.appapi.dev "sign" is invalid: [spec.method: Unsupported value: "post"`},
		{"a rule the schema refuses", strings.Replace(signAPI, "path: /sign", "path: /a/../sign", 1),
			`apis/apis.yaml:14: AppAPI.appapi.dev "sign" is invalid: spec.path: Invalid value: "/a/../sign": path segments cannot be . or ..`},
		{"an unknown field", strings.Replace(signAPI, "path: /sign", "path: /sign\n  colour: blue", 1),
			`apis/apis.yaml:14: AppAPI in version "v1alpha1" cannot be handled as a AppAPI: strict decoding error: unknown field "spec.colour"`},
		{"a missing apiVersion", strings.Replace(signAPI, "apiVersion: appapi.dev/v1alpha1\n", "", 1),
			"apis/apis.yaml:14: has no apiVersion or no kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, dir, "apis/apis.yaml", edited+"---\n"+tc.sign+"---\n"+brokenAPI)
			res := load(t, l)
			warningWith(t, res, tc.want)
			warningWith(t, res, "apis/apis.yaml: not loaded; its previous version keeps serving until the file is fixed")
			if diff := cmp.Diff(good.Routes, res.Snapshot.Routes); diff != "" || res.Snapshot.Generation != good.Generation {
				t.Errorf("the served routes changed (generation %d, was %d):\n%s", res.Snapshot.Generation, good.Generation, diff)
			}
		})
	}

	// Fixed, the new version serves.
	writeFile(t, dir, "apis/apis.yaml", edited+"---\n"+signAPI+"---\n"+brokenAPI)
	res := load(t, l)
	if got := route(t, res.Snapshot, "hello").Steps[0].Transform.Value; !strings.Contains(got, "'hi '") {
		t.Errorf("the fixed file is not served: hello is %q", got)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "previous version keeps serving") {
			t.Errorf("a fixed file still warns: %s", w)
		}
	}

	// Broken again, it falls back to the fixed version, the last good one.
	writeFile(t, dir, "apis/apis.yaml", "{")
	res = load(t, l)
	warningWith(t, res, "apis/apis.yaml:1: not valid YAML or JSON: unexpected EOF")
	if got := route(t, res.Snapshot, "hello").Steps[0].Transform.Value; !strings.Contains(got, "'hi '") {
		t.Errorf("not the last good version: hello is %q", got)
	}

	// Removed, its objects go.
	if err := os.Remove(filepath.Join(dir, "apis/apis.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := routeNames(load(t, l).Snapshot); len(got) != 0 {
		t.Errorf("routes %v after the file was removed; want none", got)
	}
}

// TestPathConflictsFollowFileOrder: a method and path served twice go to
// the AppAPI created first: one with a creationTimestamp (exported from a
// cluster), else the first in file order, even when it was added later.
func TestPathConflictsFollowFileOrder(t *testing.T) {
	dir, state := setup(t)
	orders := func(name, extra string) string {
		return "apiVersion: appapi.dev/v1alpha1\nkind: AppAPI\nmetadata: {name: " + name + extra + "}\n" +
			"spec: {environment: dev, method: GET, path: /orders, authentication: {mode: None}}\n"
	}
	writeFile(t, dir, "b.yaml", orders("aaa-in-b", ""))
	l := newLoader(t, dir, state, &bytes.Buffer{})
	load(t, l)

	// A file that comes first takes the path, whatever the names.
	writeFile(t, dir, "a.yaml", "# comment\n"+orders("zzz-in-a", ""))
	res := load(t, l)
	if v := res.Verdicts["zzz-in-a"]; !v.Accepted {
		t.Errorf("zzz-in-a: %+v; want it to hold the path", v)
	}
	warningWith(t, res, `b.yaml:1: AppAPI "aaa-in-b" is refused (PathConflict): GET /orders is already served by AppAPI "zzz-in-a", which comes first in the manifests (by file, then document)`)

	// Within a file, the first document.
	writeFile(t, dir, "a.yaml", orders("second", "")+"---\n"+orders("first", ""))
	res = load(t, l)
	warningWith(t, res, `a.yaml:6: AppAPI "first" is refused (PathConflict): GET /orders is already served by AppAPI "second"`)

	// An AppAPI with a creation time was created before any without.
	writeFile(t, dir, "c.yaml", orders("exported", `, creationTimestamp: "2026-01-02T03:04:05Z"`))
	res = load(t, l)
	warningWith(t, res, `a.yaml:1: AppAPI "second" is refused (PathConflict): GET /orders is already served by AppAPI "exported", which has a creationTimestamp`)
	if got := routeNames(res.Snapshot); !slices.Contains(got, "exported") || slices.Contains(got, "second") {
		t.Errorf("routes %v; want exported to serve /orders", got)
	}
}
