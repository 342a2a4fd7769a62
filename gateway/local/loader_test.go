package local

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

// envHead is the dev Environment and its Secrets.
const envHead = `# The dev Environment, its secrets and its tokens.
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata:
  name: dev
spec:
  variables: {greeting: hello}
  secrets:
  - name: signing
    secretKeyRef: {name: jwt-key, key: hmac}
  - name: upstream
    secretKeyRef: {name: upstream, key: apiKey}
---
apiVersion: v1
kind: Secret
metadata: {name: jwt-key, labels: {appapi.dev/environment-secret: "true"}}
data:
  hmac: c2VjcmV0LXZhbHVl # secret-value
---
apiVersion: v1
kind: Secret
metadata: {name: upstream, namespace: default, labels: {appapi.dev/environment-secret: "true"}}
stringData:
  apiKey: plain-value
`

// apiToken is an ApiToken document of dev; rotate, when set, is the value
// of the rotate annotation, and spec is added to its spec.
func apiToken(name, rotate, spec string) string {
	doc := "---\napiVersion: appapi.dev/v1alpha1\nkind: ApiToken\nmetadata:\n  name: " + name + "\n"
	if rotate != "" {
		doc += "  annotations: {appapi.dev/rotate: \"" + rotate + "\"}\n"
	}
	return doc + "spec: {environment: dev" + spec + "}\n"
}

// envFile is the standard env.yaml: the Environment, its Secrets and two ApiTokens.
var envFile = envHead + apiToken("partner", "", "") + apiToken("internal", "", "")

const helloAPI = `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: hello}
spec:
  environment: dev
  method: GET
  path: /hello/{name}
  query: [{name: shout}]
  steps:
  - name: greet
    transform: {value: "{'greeting': vars.greeting + ' ' + request.params.name}"}
  response: {body: steps.greet}
`

const signAPI = `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: sign}
spec:
  environment: dev
  method: POST
  path: /sign
  authentication: {allowedTokens: [partner]}
  steps:
  - {name: token, jwt: {algorithm: HS256, key: signing, claims: "{'sub': 'me'}"}}
`

const brokenAPI = `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: broken}
spec:
  environment: dev
  method: GET
  path: /broken
  response: {body: "'unfinished' +"}
`

// writeFile writes dir/name, creating its directory.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setup writes the standard directory: the Environment, a Secret, two
// ApiTokens, and three AppAPIs (one refused) in a second file, plus a
// kustomization. It returns the manifests and state directories.
func setup(t *testing.T) (dir, state string) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, dir, "env.yaml", envFile)
	writeFile(t, dir, "apis/apis.yaml", helloAPI+"---\n"+signAPI+"---\n"+brokenAPI)
	writeFile(t, dir, "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [env.yaml, apis/apis.yaml]\n")
	return dir, filepath.Join(t.TempDir(), "state")
}

func newLoader(t *testing.T, dir, state string, out *bytes.Buffer) *Loader {
	t.Helper()
	return &Loader{Dir: dir, StateDir: state, Out: out, Expr: testutil.Compiler(t)}
}

func load(t *testing.T, l *Loader) *Result {
	t.Helper()
	res, err := l.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return res
}

var tokenLine = regexp.MustCompile(`(?m)^appapi: token "([^"]+)" \(environment ([^,]+), id ([^,)]+)(, rotated)?\): (\S+)$`)

// printedTokens returns the tokens printed to out by name, failing when
// one is printed twice.
func printedTokens(t *testing.T, out string) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	for _, m := range tokenLine.FindAllStringSubmatch(out, -1) {
		if _, dup := tokens[m[1]]; dup {
			t.Fatalf("token %q printed twice:\n%s", m[1], out)
		}
		tokens[m[1]] = m[5]
	}
	return tokens
}

// published returns the names of the snapshot's tokens by hash.
func published(s *snapshot.Snapshot) map[string]string {
	out := map[string]string{}
	for _, tok := range s.Credentials.Tokens {
		out[tok.Hash] = tok.Name
	}
	return out
}

func routeNames(s *snapshot.Snapshot) []string {
	var names []string
	for _, r := range s.Routes {
		names = append(names, r.Name)
	}
	return names
}

func route(t *testing.T, s *snapshot.Snapshot, name string) snapshot.Route {
	t.Helper()
	for _, r := range s.Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %q in %v", name, routeNames(s))
	return snapshot.Route{}
}

// warningWith returns the first warning holding every part, or fails.
func warningWith(t *testing.T, res *Result, parts ...string) string {
	t.Helper()
	for _, w := range res.Warnings {
		if containsAll(w, parts...) {
			return w
		}
	}
	t.Fatalf("no warning with %q in:\n%s", parts, strings.Join(res.Warnings, "\n"))
	return ""
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestLoad(t *testing.T) {
	dir, state := setup(t)
	var out bytes.Buffer
	l := newLoader(t, dir, state, &out)
	res := load(t, l)
	snap := res.Snapshot

	if res.Environment != "dev" || !slices.Equal(res.Environments, []string{"dev"}) {
		t.Errorf("Environment %q, Environments %v; want dev, [dev]", res.Environment, res.Environments)
	}
	if snap.Generation != 1 || snap.Namespace != "default" || snap.Environment != "dev" {
		t.Errorf("snapshot %s/%s generation %d; want default/dev generation 1", snap.Namespace, snap.Environment, snap.Generation)
	}
	if got := routeNames(snap); !slices.Equal(got, []string{"hello", "sign"}) {
		t.Errorf("routes %v; want [hello sign]", got)
	}
	hello := route(t, snap, "hello")
	if hello.UID != "local-hello" || hello.Generation != 1 {
		t.Errorf("hello: uid %q generation %d; want local-hello, 1", hello.UID, hello.Generation)
	}
	// CRD defaults are applied as the API server would.
	if hello.Authentication.Mode != v1alpha1.AuthenticationToken || hello.Query[0].Type != v1alpha1.QueryString ||
		hello.Steps[0].OnError != v1alpha1.OnErrorFail {
		t.Errorf("hello: defaults not applied: mode %q, query type %q, onError %q",
			hello.Authentication.Mode, hello.Query[0].Type, hello.Steps[0].OnError)
	}
	if snap.Settings.MaxRequestBytes != v1alpha1.DefaultMaxRequestBytes || time.Duration(snap.Settings.RequestTimeout) != v1alpha1.DefaultRequestTimeout {
		t.Errorf("settings %+v; want the defaults", snap.Settings)
	}
	if snap.Variables["greeting"] != "hello" {
		t.Errorf("variables %v", snap.Variables)
	}
	if got := snap.Credentials.Secrets; got["signing"] != "secret-value" || got["upstream"] != "plain-value" || len(got) != 2 {
		t.Errorf("secrets not resolved from data and stringData: %d values", len(got))
	}

	v := res.Verdicts["broken"]
	if v.Accepted || v.Reason != v1alpha1.ReasonInvalidExpression || v.ServedGeneration != 0 {
		t.Errorf("broken: verdict %+v; want refused with InvalidExpression, not served", v)
	}
	if v := res.Verdicts["hello"]; !v.Accepted || v.ServedGeneration != 1 {
		t.Errorf("hello: verdict %+v; want accepted and served", v)
	}
	warningWith(t, res, "apis/apis.yaml:25", `AppAPI "broken"`, "InvalidExpression", "spec.response.body", "not served")
	warningWith(t, res, "kustomization.yaml:1", "Kustomization", "ignored")

	// Each token is printed once, and published by its hash only.
	tokens := printedTokens(t, out.String())
	if len(tokens) != 2 || tokens["partner"] == "" || tokens["internal"] == "" {
		t.Fatalf("printed tokens %v; want partner and internal:\n%s", slices.Collect(maps.Keys(tokens)), out.String())
	}
	if !strings.Contains(out.String(), `curl -H "Authorization: Bearer <TOKEN>"`) {
		t.Errorf("no usage hint in:\n%s", out.String())
	}
	hashes := published(snap)
	for name, text := range tokens {
		if hashes[snapshot.HashToken(text)] != name {
			t.Errorf("the printed %s token is not published", name)
		}
	}
	if len(hashes) != 2 {
		t.Errorf("%d tokens published; want 2", len(hashes))
	}
	for _, w := range res.Warnings {
		for _, text := range tokens {
			if strings.Contains(w, text) {
				t.Errorf("a warning holds a token: %s", w)
			}
		}
	}

	// Reloading changes nothing and prints nothing.
	out.Reset()
	res2 := load(t, l)
	if out.Len() != 0 {
		t.Errorf("second Load printed:\n%s", out.String())
	}
	if res2.Snapshot.Generation != 1 {
		t.Errorf("second Load: generation %d; want 1", res2.Snapshot.Generation)
	}

	// A restart keeps the tokens.
	l2 := newLoader(t, dir, state, &out)
	res3 := load(t, l2)
	if out.Len() != 0 {
		t.Errorf("a new Loader printed:\n%s", out.String())
	}
	if got := published(res3.Snapshot); !maps.Equal(got, hashes) {
		t.Errorf("a new Loader publishes other tokens: %v; want %v", got, hashes)
	}

	// The state holds hashes only, readable by its owner only.
	for _, name := range []string{TokensFile, SigningKeyFile} {
		path := filepath.Join(state, name)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v; want 0600", name, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range tokens {
			if bytes.Contains(data, []byte(text)) {
				t.Errorf("%s holds a plaintext token", name)
			}
		}
	}
	if info, err := os.Stat(state); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, %v; want mode 0700", info.Mode().Perm(), err)
	}
	data, _ := os.ReadFile(filepath.Join(state, TokensFile))
	for text := range maps.Keys(hashes) {
		if !bytes.Contains(data, []byte(text)) {
			t.Errorf("%s does not hold a published hash", TokensFile)
		}
	}
	entries, _ := os.ReadDir(state)
	if len(entries) != 2 {
		t.Errorf("state directory holds %d files; want 2 (no leftover temporary files)", len(entries))
	}
}

func TestEditsAndRefusals(t *testing.T) {
	dir, state := setup(t)
	l := newLoader(t, dir, state, &bytes.Buffer{})
	load(t, l)

	// An edit to an AppAPI is a new generation of the snapshot.
	edited := strings.Replace(helloAPI, "vars.greeting + ' '", "'hi '", 1)
	writeFile(t, dir, "apis/apis.yaml", edited+"---\n"+signAPI+"---\n"+brokenAPI)
	res := load(t, l)
	if res.Snapshot.Generation != 2 {
		t.Errorf("after an edit: generation %d; want 2", res.Snapshot.Generation)
	}
	want := route(t, res.Snapshot, "hello")
	if want.Steps[0].Transform.Value != "{'greeting': 'hi ' + request.params.name}" {
		t.Fatalf("hello not updated: %q", want.Steps[0].Transform.Value)
	}

	// Breaking it keeps the last accepted version served.
	bad := strings.Replace(edited, "request.params.name}", "request.params.name", 1)
	writeFile(t, dir, "apis/apis.yaml", bad+"---\n"+signAPI+"---\n"+brokenAPI)
	res = load(t, l)
	v := res.Verdicts["hello"]
	if v.Accepted || v.Reason != v1alpha1.ReasonInvalidExpression || v.ServedGeneration != 1 {
		t.Errorf("hello: verdict %+v; want refused, previous generation served", v)
	}
	if got := route(t, res.Snapshot, "hello"); got.Steps[0].Transform.Value != want.Steps[0].Transform.Value {
		t.Errorf("hello: previous route not kept: %q", got.Steps[0].Transform.Value)
	}
	warningWith(t, res, "apis/apis.yaml:1", `AppAPI "hello"`, "InvalidExpression", "previously accepted version is still served")
	if res.Snapshot.Generation != 2 {
		t.Errorf("the served content did not change, yet generation is %d; want 2", res.Snapshot.Generation)
	}

	// What the API server would reject is reported with its message, and
	// the file's previous version (the one just above) keeps serving.
	badMethod := strings.Replace(bad, "method: GET", "method: FETCH", 1)
	writeFile(t, dir, "apis/apis.yaml", badMethod+"---\n"+signAPI+"---\n"+brokenAPI)
	res = load(t, l)
	warningWith(t, res, `apis/apis.yaml:1: AppAPI.appapi.dev "hello" is invalid: [spec.method: Unsupported value: "FETCH": supported values: "GET", `)
	warningWith(t, res, "apis/apis.yaml: not loaded; its previous version keeps serving")
	if v := res.Verdicts["hello"]; v.Reason != v1alpha1.ReasonInvalidExpression || v.ServedGeneration != 1 {
		t.Errorf("hello with method FETCH: verdict %+v; want the previous file's (InvalidExpression, previous route served)", v)
	}
	if got := route(t, res.Snapshot, "hello"); got.Steps[0].Transform.Value != want.Steps[0].Transform.Value {
		t.Errorf("hello: previous route not kept: %q", got.Steps[0].Transform.Value)
	}

	// A new Loader has no previous version to keep.
	res = load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	if got := routeNames(res.Snapshot); !slices.Equal(got, []string{"sign"}) {
		t.Errorf("a new Loader serves %v; want [sign]", got)
	}
}

func TestTokenLifecycle(t *testing.T) {
	dir, state := setup(t)
	var out bytes.Buffer
	l := newLoader(t, dir, state, &out)
	res := load(t, l)
	tokens := printedTokens(t, out.String())
	gen := res.Snapshot.Generation

	// Removing an ApiToken revokes its token.
	writeFile(t, dir, "env.yaml", envHead+apiToken("partner", "", ""))
	out.Reset()
	res = load(t, l)
	if out.Len() != 0 {
		t.Errorf("removing a token printed:\n%s", out.String())
	}
	hashes := published(res.Snapshot)
	if _, ok := hashes[snapshot.HashToken(tokens["internal"])]; ok {
		t.Error("the removed ApiToken's token is still published")
	}
	if _, ok := hashes[snapshot.HashToken(tokens["partner"])]; !ok {
		t.Error("the partner token is no longer published")
	}
	if res.Snapshot.Generation != gen+1 {
		t.Errorf("generation %d; want %d", res.Snapshot.Generation, gen+1)
	}
	if data := readFile(t, state, TokensFile); strings.Contains(data, "default/internal") ||
		strings.Contains(data, snapshot.HashToken(tokens["internal"])) {
		t.Errorf("%s still holds the removed ApiToken:\n%s", TokensFile, data)
	}

	// Setting the rotate annotation mints a new token; without a grace
	// period the old one stops working at once.
	writeFile(t, dir, "env.yaml", envHead+apiToken("partner", "1", ""))
	out.Reset()
	res = load(t, l)
	newTokens := printedTokens(t, out.String())
	if len(newTokens) != 1 || newTokens["partner"] == "" || newTokens["partner"] == tokens["partner"] {
		t.Fatalf("rotation printed %v:\n%s", slices.Collect(maps.Keys(newTokens)), out.String())
	}
	if !strings.Contains(out.String(), ", rotated)") {
		t.Errorf("the rotation is not said:\n%s", out.String())
	}
	hashes = published(res.Snapshot)
	if _, ok := hashes[snapshot.HashToken(tokens["partner"])]; ok {
		t.Error("the rotated-out token is still published")
	}
	if hashes[snapshot.HashToken(newTokens["partner"])] != "partner" || len(hashes) != 1 {
		t.Errorf("published %v; want only the new partner token", hashes)
	}
	if data := readFile(t, state, TokensFile); strings.Contains(data, snapshot.HashToken(tokens["partner"])) {
		t.Errorf("%s still holds the rotated-out hash", TokensFile)
	}

	// The same annotation value rotates once only, even after a restart.
	out.Reset()
	load(t, l)
	load(t, newLoader(t, dir, state, &out))
	if out.Len() != 0 {
		t.Errorf("an unchanged annotation printed:\n%s", out.String())
	}

	// With a grace period the previous token stays valid until it ends.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.Now = func() time.Time { return now }
	writeFile(t, dir, "env.yaml", envHead+apiToken("partner", "2", ", rotationGracePeriod: 1h"))
	out.Reset()
	res = load(t, l)
	third := printedTokens(t, out.String())["partner"]
	if third == "" {
		t.Fatalf("second rotation printed nothing:\n%s\nwarnings:\n%s", out.String(), strings.Join(res.Warnings, "\n"))
	}
	var previous *snapshot.Token
	for i, tok := range res.Snapshot.Credentials.Tokens {
		if tok.Hash == snapshot.HashToken(newTokens["partner"]) {
			previous = &res.Snapshot.Credentials.Tokens[i]
		}
	}
	if previous == nil || previous.ExpiresAt == nil || !previous.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("the previous token is not kept for the grace period: %+v", previous)
	}
	// Once the grace period is over, it is gone.
	now = now.Add(2 * time.Hour)
	res = load(t, l)
	if hashes := published(res.Snapshot); len(hashes) != 1 || hashes[snapshot.HashToken(third)] != "partner" {
		t.Errorf("after the grace period: %v; want only the newest partner token", hashes)
	}
}

func TestTokenExpiry(t *testing.T) {
	dir, state := setup(t)
	writeFile(t, dir, "env.yaml", envHead+apiToken("partner", "", "")+apiToken("internal", "", `, expiresAt: "2026-06-01T00:00:00Z"`))
	now := time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	l := newLoader(t, dir, state, &out)
	l.Now = func() time.Time { return now }
	res := load(t, l)
	tokens := printedTokens(t, out.String())
	var found bool
	for _, tok := range res.Snapshot.Credentials.Tokens {
		if tok.Name == "internal" {
			found = tok.ExpiresAt != nil && tok.ExpiresAt.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
		}
	}
	if !found {
		t.Errorf("internal is not published with its expiry: %+v", res.Snapshot.Credentials.Tokens)
	}
	// Once expired it stays published with its expiry, so the gateway
	// refuses it as expired rather than unknown.
	now = now.Add(48 * time.Hour)
	res = load(t, l)
	if _, ok := published(res.Snapshot)[snapshot.HashToken(tokens["internal"])]; !ok {
		t.Error("an expired token left the snapshot; the gateway could not say it expired")
	}
	warningWith(t, res, `ApiToken "internal" expired`)
	if res.Snapshot.Generation != 1 {
		t.Errorf("generation %d; want 1: expiry alone changes nothing published", res.Snapshot.Generation)
	}
}

func TestEnvironments(t *testing.T) {
	dir, state := setup(t)
	writeFile(t, dir, "prod.yml", `apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {requestTimeout: 5s}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: status}
spec: {environment: prod, method: GET, path: /status, authentication: {mode: None}, response: {body: "'ok'"}}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: ops}
spec: {environment: prod}
`)
	var out bytes.Buffer
	res := load(t, newLoader(t, dir, state, &out))
	if res.Environment != "dev" || !slices.Equal(res.Environments, []string{"dev", "prod"}) {
		t.Errorf("Environment %q of %v; want dev of [dev prod]", res.Environment, res.Environments)
	}
	warningWith(t, res, `serving "dev"`, `"prod"`, "--environment")
	if _, ok := printedTokens(t, out.String())["ops"]; ok {
		t.Error("a token of the Environment not served was minted")
	}

	out.Reset()
	l := newLoader(t, dir, state, &out)
	l.Environment = "prod"
	res = load(t, l)
	if res.Environment != "prod" || res.Snapshot.Environment != "prod" || !slices.Equal(routeNames(res.Snapshot), []string{"status"}) {
		t.Errorf("serving %q with routes %v; want prod with [status]", res.Environment, routeNames(res.Snapshot))
	}
	if time.Duration(res.Snapshot.Settings.RequestTimeout) != 5*time.Second {
		t.Errorf("requestTimeout %v; want 5s", time.Duration(res.Snapshot.Settings.RequestTimeout))
	}
	if tokens := printedTokens(t, out.String()); len(tokens) != 1 || tokens["ops"] == "" {
		t.Errorf("printed %v; want the ops token", slices.Collect(maps.Keys(tokens)))
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "--environment") {
			t.Errorf("a chosen Environment still warns: %s", w)
		}
	}
	// The dev tokens were not revoked by serving prod.
	out.Reset()
	load(t, newLoader(t, dir, state, &out))
	if out.Len() != 0 {
		t.Errorf("serving dev again printed:\n%s", out.String())
	}

	l.Environment = "default/prod"
	load(t, l)

	l.Environment = "staging"
	if _, err := l.Load(); err == nil || !strings.Contains(err.Error(), `"staging"`) || !strings.Contains(err.Error(), `"prod"`) {
		t.Errorf("a missing Environment: error %v; want one naming it and the others", err)
	}

	empty := t.TempDir()
	writeFile(t, empty, "api.yaml", helloAPI)
	if _, err := newLoader(t, empty, state, &out).Load(); err == nil || !strings.Contains(err.Error(), "no Environment") {
		t.Errorf("no Environment: error %v", err)
	}
	if _, err := newLoader(t, filepath.Join(empty, "missing"), state, &out).Load(); err == nil {
		t.Error("a missing directory: no error")
	}
}

func TestDocumentsAndNamespaces(t *testing.T) {
	dir, state := setup(t)
	writeFile(t, dir, "more.yaml", `apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: first}
spec: {environment: dev, method: GET, path: /first, authentication: {mode: None}}
---
this: is: not yaml
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: elsewhere, namespace: other}
spec: {environment: dev, method: GET, path: /elsewhere}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: typo}
spec: {environment: dve, method: GET, path: /typo}
---
# a typo in a field name
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: colour}
spec: {environment: dev, method: GET, path: /colour, colour: blue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
# only a comment
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: last}
spec: {environment: dev, method: GET, path: /last}
`)
	writeFile(t, dir, "json/api.json", `{"apiVersion": "appapi.dev/v1alpha1", "kind": "AppAPI",
 "metadata": {"name": "from-json"}, "spec": {"environment": "dev", "method": "GET", "path": "/json"}}`)
	writeFile(t, dir, "list.yaml", `apiVersion: v1
kind: List
items:
- apiVersion: appapi.dev/v1alpha1
  kind: AppAPI
  metadata: {name: listed}
  spec: {environment: dev, method: GET, path: /listed}
`)
	writeFile(t, dir, "README.md", "not read")
	writeFile(t, dir, ".git/config.yaml", "not: read")
	// A path served twice goes to the AppAPI first in file order.
	writeFile(t, dir, "zz.yaml", strings.Replace(strings.Replace(helloAPI, "name: hello", "name: another-hello", 1), "path: /hello/{name}", "path: /hello/{who}", 1))

	res := load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	want := []string{"first", "from-json", "hello", "last", "listed", "sign"}
	if got := routeNames(res.Snapshot); !slices.Equal(got, want) {
		t.Errorf("routes %v; want %v", got, want)
	}
	// Each warning names the line where its document starts.
	warningWith(t, res, "more.yaml:6: not valid YAML or JSON: mapping values are not allowed in this context")
	warningWith(t, res, `more.yaml:19: AppAPI in version "v1alpha1" cannot be handled as a AppAPI: strict decoding error: unknown field "spec.colour"`)
	warningWith(t, res, "more.yaml: no earlier version could be used in full; serving the objects of it that could be read")
	warningWith(t, res, "more.yaml:13: ", `"typo"`, `"dve"`, "EnvironmentNotFound")
	warningWith(t, res, "more.yaml:24: ConfigMap", "ignored")
	warningWith(t, res, `zz.yaml:1: AppAPI "another-hello"`, "PathConflict", `"hello", which comes first in the manifests`)
	for _, w := range res.Warnings {
		if strings.Contains(w, "README") || strings.Contains(w, ".git") || strings.Contains(w, "more.yaml:28") || strings.Contains(w, "more.yaml:29") {
			t.Errorf("unexpected warning: %s", w)
		}
	}
}

func TestBrokenDocumentKeepsTokens(t *testing.T) {
	dir, state := setup(t)
	var out bytes.Buffer
	l := newLoader(t, dir, state, &out)
	load(t, l)
	tokens := printedTokens(t, out.String())
	internal := snapshot.HashToken(tokens["internal"])

	// The internal ApiToken is mid-edit: its document does not parse. The
	// file's previous version keeps serving, the token with it.
	broken := envHead + apiToken("partner", "", "") + apiToken("internal", "", "")[:40] + "\n  bad: ["
	writeFile(t, dir, "env.yaml", broken)
	out.Reset()
	res := load(t, l)
	warningWith(t, res, "env.yaml:34: not valid YAML or JSON: could not find expected ':'")
	warningWith(t, res, "env.yaml: not loaded; its previous version keeps serving")
	if published(res.Snapshot)[internal] != "internal" {
		t.Error("the token of the file's previous version is not published")
	}

	// After a restart there is no previous version: what can be read is
	// served, and the record of an ApiToken not found is kept, not revoked.
	res = load(t, newLoader(t, dir, state, &out))
	warningWith(t, res, "default/internal", "until every file can be read")
	if _, ok := published(res.Snapshot)[internal]; ok {
		t.Error("the token of an ApiToken that cannot be read is published")
	}
	if published(res.Snapshot)[snapshot.HashToken(tokens["partner"])] != "partner" {
		t.Error("the partner token, before the broken document, is not published")
	}

	// Once repaired, the same token works again: it was never revoked.
	writeFile(t, dir, "env.yaml", envFile)
	res = load(t, l)
	if out.Len() != 0 {
		t.Errorf("repairing printed:\n%s", out.String())
	}
	if published(res.Snapshot)[internal] != "internal" {
		t.Error("the repaired ApiToken's token is not published")
	}
}

func TestSecrets(t *testing.T) {
	dir, state := setup(t)
	env := strings.Replace(envFile, "apiKey: plain-value", "other: plain-value", 1)
	env = strings.Replace(env, "metadata: {name: jwt-key,", "metadata: {name: jwt-key, namespace: other,", 1)
	writeFile(t, dir, "env.yaml", env)
	res := load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	if n := len(res.Snapshot.Credentials.Secrets); n != 0 {
		t.Errorf("%d secrets resolved; want 0", n)
	}
	warningWith(t, res, `env.yaml:2: Environment "dev": spec.secrets: no Secret or key in the directory for signing (key "hmac" of Secret "jwt-key"), upstream (key "apiKey" of Secret "upstream")`, "SecretNotFound")
	// The jwt step needs the secret.
	if v := res.Verdicts["sign"]; v.Accepted || v.Reason != v1alpha1.ReasonSecretRefNotFound {
		t.Errorf("sign: verdict %+v; want SecretRefNotFound", v)
	}
	noValues(t, res)

	// As in a cluster, a Secret without the consent label gives nothing.
	writeFile(t, dir, "env.yaml", strings.Replace(envFile, `metadata: {name: jwt-key, labels: {appapi.dev/environment-secret: "true"}}`, "metadata: {name: jwt-key}", 1))
	res = load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	warningWith(t, res, `env.yaml:2: Environment "dev": spec.secrets: signing (Secret "jwt-key") lack the label appapi.dev/environment-secret=true`, "SecretNotAllowed")
	if got := res.Snapshot.Credentials.Secrets; len(got) != 1 || got["upstream"] != "plain-value" {
		t.Errorf("resolved %d secrets; want only upstream", len(got))
	}
	noValues(t, res)

	writeFile(t, dir, "env.yaml", strings.Replace(envFile, "hmac: c2VjcmV0LXZhbHVl", "hmac: '%%% not base64'", 1))
	res = load(t, newLoader(t, dir, state, &bytes.Buffer{}))
	w := warningWith(t, res, `env.yaml:14: Secret does not parse`)
	if strings.Contains(w, "not base64") {
		t.Errorf("the warning quotes the Secret: %s", w)
	}
}

// noValues fails when a warning holds a secret value of envHead.
func noValues(t *testing.T, res *Result) {
	t.Helper()
	for _, w := range res.Warnings {
		if strings.Contains(w, "plain-value") || strings.Contains(w, "secret-value") {
			t.Errorf("a warning holds a secret value: %s", w)
		}
	}
}

func TestStateDirProblems(t *testing.T) {
	dir, state := setup(t)
	load(t, newLoader(t, dir, state, &bytes.Buffer{}))

	if err := os.WriteFile(filepath.Join(state, TokensFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newLoader(t, dir, state, &bytes.Buffer{}).Load(); err == nil || !strings.Contains(err.Error(), TokensFile) {
		t.Errorf("a broken %s: error %v", TokensFile, err)
	}
	if got, _ := os.ReadFile(filepath.Join(state, TokensFile)); string(got) != "{not json" {
		t.Errorf("a broken %s was overwritten", TokensFile)
	}

	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(file), "file", "")
	if _, err := newLoader(t, dir, file, &bytes.Buffer{}).Load(); err == nil {
		t.Error("a state directory that is a file: no error")
	}

	// A state directory inside the manifests directory is not read.
	inside := filepath.Join(dir, "state")
	res := load(t, newLoader(t, dir, inside, &bytes.Buffer{}))
	res = load(t, newLoader(t, dir, inside, &bytes.Buffer{}))
	for _, w := range res.Warnings {
		if strings.Contains(w, TokensFile) {
			t.Errorf("the state directory was read: %s", w)
		}
	}
}

func TestSamples(t *testing.T) {
	var out bytes.Buffer
	res := load(t, newLoader(t, "../../config/samples", t.TempDir(), &out))
	if res.Environment != "dev" || !slices.Equal(routeNames(res.Snapshot), []string{"hello"}) {
		t.Errorf("samples: serving %q with %v", res.Environment, routeNames(res.Snapshot))
	}
	if tokens := printedTokens(t, out.String()); tokens["dev-client"] == "" {
		t.Errorf("samples: no dev-client token printed:\n%s", out.String())
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Kustomization") {
		t.Errorf("samples: warnings %q; want only the Kustomization one", res.Warnings)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestInvalidEnvironment(t *testing.T) {
	for field, tc := range map[string]struct{ value, want string }{
		"requestTimeout":  {"soon", `env.yaml:2: Environment.appapi.dev "dev" is invalid: spec.requestTimeout: Invalid value: "soon": must be a duration such as 500ms, 30s or 1m30s`},
		"maxRequestBytes": {"0", `env.yaml:2: Environment.appapi.dev "dev" is invalid: spec.maxRequestBytes: Invalid value: 0: spec.maxRequestBytes in body should be greater than or equal to 1`},
	} {
		t.Run(field, func(t *testing.T) {
			dir, state := setup(t)
			invalid := strings.Replace(envFile, "  variables: {greeting: hello}\n", "  variables: {greeting: hello}\n  "+field+": "+tc.value+"\n", 1)

			// At start, nothing can be served.
			writeFile(t, dir, "env.yaml", invalid)
			res, err := newLoader(t, dir, state, &bytes.Buffer{}).Load()
			if err == nil || !strings.Contains(err.Error(), "no Environment") {
				t.Errorf("error %v; want no Environment", err)
			}
			if res != nil {
				warningWith(t, res, tc.want)
			}

			// While serving, the Environment's previous version stays.
			writeFile(t, dir, "env.yaml", envFile)
			l := newLoader(t, dir, state, &bytes.Buffer{})
			before := load(t, l).Snapshot
			writeFile(t, dir, "env.yaml", invalid)
			res = load(t, l)
			warningWith(t, res, tc.want)
			if res.Snapshot.Settings != before.Settings || res.Snapshot.Generation != before.Generation {
				t.Errorf("settings %+v (generation %d); want %+v unchanged", res.Snapshot.Settings, res.Snapshot.Generation, before.Settings)
			}
		})
	}
}
