// Package docs checks the documentation against the code: every AppAPI
// example in the docs compiles with the gateway's own compiler, every
// condition reason has a section in docs/troubleshooting.md, and every step
// operation is in the API, the CRD, the gateway, its metrics and the docs.
package docs

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
	"github.com/appapi-dev/appapi/internal/translate"
)

// root is the repository root, relative to this package's directory (the
// working directory of go test).
const root = "../.."

// exampleDocs are the Markdown files whose AppAPI examples must compile.
var exampleDocs = []string{"docs/operations.md", "docs/gitops.md", "README.md"}

// operations are the step operations, by field name, in the order of
// v1alpha1.Step. A new operation is added here, and
// TestEveryOperationIsEverywhere then says what else it needs.
var operations = []string{"http", "transform", "respond", "validate", "jwt", "call", "wait", "xmlToJson", "store"}

// yamlBlock is one ```yaml fenced block of a Markdown file.
type yamlBlock struct {
	index int // 1-based, among the file's yaml blocks
	line  int // line of the opening fence
	text  string
}

var fence = regexp.MustCompile("^(\\s*)```+\\s*(\\S*)")

// yamlBlocks returns the ```yaml (or ```yml) blocks of a Markdown text, with
// the indentation of their fence removed.
func yamlBlocks(md string) []yamlBlock {
	var blocks []yamlBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, lang := m[1], strings.ToLower(m[2])
		start := i
		var body []string
		for i++; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "```") {
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if lang == "yaml" || lang == "yml" {
			blocks = append(blocks, yamlBlock{index: len(blocks) + 1, line: start + 1, text: strings.Join(body, "\n")})
		}
	}
	return blocks
}

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// appAPIs decodes the AppAPI documents of a yaml block, strictly: a field the
// API does not have is an error, as a typo in a doc would be.
func appAPIs(text string) ([]v1alpha1.AppAPI, error) {
	var out []v1alpha1.AppAPI
	for i, doc := range documentSeparator.Split(text, -1) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("document %d is not valid YAML: %v", i+1, err)
		}
		if head.Kind != "AppAPI" {
			continue
		}
		if head.APIVersion != v1alpha1.GroupVersion.String() {
			return nil, fmt.Errorf("document %d: apiVersion %q, want %q", i+1, head.APIVersion, v1alpha1.GroupVersion.String())
		}
		var app v1alpha1.AppAPI
		if err := yaml.UnmarshalStrict([]byte(doc), &app); err != nil {
			return nil, fmt.Errorf("document %d does not decode as an AppAPI: %v", i+1, err)
		}
		out = append(out, app)
	}
	return out, nil
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAppAPIExamplesCompile compiles every AppAPI of every yaml block of the
// example docs, as the controllers do before they accept one.
func TestAppAPIExamplesCompile(t *testing.T) {
	env := testutil.Compiler(t)
	for _, file := range exampleDocs {
		t.Run(file, func(t *testing.T) {
			names := map[string]bool{}
			used := map[string]bool{}
			type callRef struct {
				where, target string
			}
			var calls []callRef
			found := 0
			for _, b := range yamlBlocks(readFile(t, file)) {
				where := fmt.Sprintf("%s: yaml block %d (line %d)", file, b.index, b.line)
				apps, err := appAPIs(b.text)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				for i := range apps {
					app := &apps[i]
					found++
					at := fmt.Sprintf("%s, AppAPI %q", where, app.Name)
					if app.Name == "" || app.Spec.Environment == "" {
						t.Errorf("%s: metadata.name and spec.environment must be set", at)
					}
					if names[app.Name] {
						t.Errorf("%s: another example of %s has the same name", at, file)
					}
					names[app.Name] = true
					if _, err := pipeline.Compile(env, translate.RouteOf(app)); err != nil {
						t.Errorf("%s does not compile: %v", at, err)
					}
					for j := range app.Spec.Steps {
						st := &app.Spec.Steps[j]
						used[st.Operation()] = true
						if st.Call != nil {
							calls = append(calls, callRef{at, st.Call.AppAPI})
						}
					}
				}
			}
			if found == 0 {
				t.Fatalf("%s has no yaml block with an AppAPI", file)
			}
			// A call step is only accepted when its target is served too.
			for _, c := range calls {
				if !names[c.target] {
					t.Errorf("%s calls AppAPI %q, which no example of %s defines", c.where, c.target, file)
				}
			}
			if file == "docs/operations.md" {
				for _, op := range operations {
					if !used[op] {
						t.Errorf("%s has no example of the %s operation", file, op)
					}
				}
			}
		})
	}
}

// reasons returns the values of the Reason constants of conditions.go.
func reasons(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "api/v1alpha1/conditions.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			typ, _ := vs.Type.(*ast.Ident)
			for i, name := range vs.Names {
				if (typ == nil || typ.Name != "Reason") && !strings.HasPrefix(name.Name, "Reason") {
					continue
				}
				if i >= len(vs.Values) {
					t.Fatalf("conditions.go: %s has no value", name.Name)
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("conditions.go: %s is not a string literal", name.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("conditions.go declares no Reason constants")
	}
	return out
}

var heading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)

// headings returns the Markdown headings of text by level, with their text
// stripped of backticks, ignoring fenced code.
func headings(text string) []struct {
	level int
	text  string
} {
	var out []struct {
		level int
		text  string
	}
	inFence := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil && !inFence {
			out = append(out, struct {
				level int
				text  string
			}{len(m[1]), strings.ReplaceAll(m[2], "`", "")})
		}
	}
	return out
}

// TestEveryReasonIsDocumented requires a heading named after each condition
// reason in docs/troubleshooting.md, and no reason heading for a reason that
// does not exist.
func TestEveryReasonIsDocumented(t *testing.T) {
	const file = "docs/troubleshooting.md"
	known := reasons(t)
	hs := headings(readFile(t, file))
	var documented []string
	for _, h := range hs {
		documented = append(documented, h.text)
	}
	for _, r := range known {
		if !slices.Contains(documented, r) {
			t.Errorf("reason %s (api/v1alpha1/conditions.go) has no heading in %s", r, file)
		}
	}
	// Every level-3 heading of the reasons section names a reason.
	const section = "Condition reasons"
	in := false
	seen := false
	for _, h := range hs {
		if h.level <= 2 {
			in = h.text == section
			seen = seen || in
			continue
		}
		if in && h.level == 3 && !slices.Contains(known, h.text) {
			t.Errorf("%s: heading %q in %q is not a reason of api/v1alpha1/conditions.go", file, h.text, section)
		}
	}
	if !seen {
		t.Errorf("%s has no %q section", file, section)
	}
}

// TestYAMLBlocks pins the fence parsing the other tests rely on.
func TestYAMLBlocks(t *testing.T) {
	md := "text\n```yaml\na: 1\n```\n```sh\nx\n```\n  ```yml\n  b: 2\n  ```\n"
	got := yamlBlocks(md)
	if len(got) != 2 || got[0].text != "a: 1" || got[1].text != "b: 2" || got[1].index != 2 || got[0].line != 2 {
		t.Fatalf("yamlBlocks = %+v", got)
	}
	apps, err := appAPIs("kind: ConfigMap\n---\napiVersion: appapi.dev/v1alpha1\nkind: AppAPI\nmetadata: {name: a}\nspec: {environment: e, method: GET, path: /}\n")
	if err != nil || len(apps) != 1 || apps[0].Name != "a" {
		t.Fatalf("appAPIs = %+v, %v", apps, err)
	}
	if _, err := appAPIs("apiVersion: appapi.dev/v1alpha1\nkind: AppAPI\nmetadata: {name: a}\nspec: {environment: e, method: GET, path: /, stepz: []}\n"); err == nil {
		t.Fatal("appAPIs accepted an unknown field")
	}
}

// TestEveryOperationIsEverywhere checks that each operation is one the API
// lists, the CRD accepts, the gateway compiles and runs, the metrics label,
// and docs/operations.md has a section on; TestAppAPIExamplesCompile checks
// that the docs show each in an example.
func TestEveryOperationIsEverywhere(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		if got := v1alpha1.StepOperations(); !slices.Equal(got, operations) {
			t.Errorf("v1alpha1.StepOperations() = %v, want %v", got, operations)
		}
	})
	t.Run("crd", func(t *testing.T) {
		var has []string
		for _, op := range operations {
			has = append(has, "has(self."+op+")")
		}
		rule := "[" + strings.Join(has, ", ") + "].filter(x, x).size() == 1"
		message := "each step must set exactly one operation: " +
			strings.Join(operations[:len(operations)-1], ", ") + " or " + operations[len(operations)-1]
		marker := fmt.Sprintf("// +kubebuilder:validation:XValidation:rule=%q,message=%q\ntype Step struct", rule, message)
		if !strings.Contains(readFile(t, "api/v1alpha1/step_types.go"), marker) {
			t.Errorf("api/v1alpha1/step_types.go: the marker on Step is not\n%s", marker)
		}
		if got := stepValidations(t); !slices.Contains(got, rule+"\n"+message) {
			t.Errorf("the CRD's rules on a step are %q, want one to be rule %q with message %q: run make manifests", got, rule, message)
		}
	})
	t.Run("gateway and metrics", func(t *testing.T) {
		m := runEveryOperation(t)
		families, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		for _, mf := range families {
			if mf.GetName() != "appapi_gateway_step_duration_seconds" {
				continue
			}
			if want := "operation (" + strings.Join(operations, ", ") + ")"; !strings.Contains(mf.GetHelp(), want) {
				t.Errorf("the help of %s does not list the operations as %q: %s", mf.GetName(), want, mf.GetHelp())
			}
			for _, series := range mf.GetMetric() {
				for _, l := range series.GetLabel() {
					if l.GetName() == "operation" {
						ran = append(ran, l.GetValue())
					}
				}
			}
		}
		for _, op := range operations {
			if !slices.Contains(ran, op) {
				t.Errorf("no step duration was recorded for the %s step: ran %v", op, ran)
			}
		}
	})
	t.Run("docs", func(t *testing.T) {
		const file = "docs/operations.md"
		for _, op := range operations {
			found := false
			for _, h := range headings(readFile(t, file)) {
				found = found || h.level == 2 && strings.HasPrefix(h.text, op+":")
			}
			if !found {
				t.Errorf("%s has no section \"## %s: ...\"", file, op)
			}
		}
	})
}

// stepValidations returns each x-kubernetes-validations rule of a step in
// the AppAPI CRD, as rule and message joined by a newline.
func stepValidations(t *testing.T) []string {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(readFile(t, "config/crd/bases/appapi.dev_appapis.yaml")), &crd); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range crd.Spec.Versions {
		steps := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["steps"]
		if steps.Items == nil || steps.Items.Schema == nil {
			t.Fatalf("version %s of the CRD has no spec.steps items", v.Name)
		}
		for _, r := range steps.Items.Schema.XValidations {
			out = append(out, r.Rule+"\n"+r.Message)
		}
	}
	return out
}

// runEveryOperation serves, through the gateway's pipeline, an AppAPI with
// one step of each operation, and returns the metrics that observed it.
func runEveryOperation(t *testing.T) *metrics.Metrics {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"stock": 3}`))
	}))
	defer upstream.Close()
	steps := []v1alpha1.Step{
		{Name: "stock", HTTP: &v1alpha1.HTTPOperation{URL: upstream.URL + "/stock"}},
		{Name: "order", Transform: &v1alpha1.TransformOperation{Value: `{'stock': steps.stock.body.stock}`}},
		{Name: "check", Validate: &v1alpha1.ValidateOperation{
			Schema: apiextensionsv1.JSON{Raw: []byte(`{"type": "object", "required": ["stock"]}`)}, Value: `steps.order`}},
		{Name: "sign", JWT: &v1alpha1.JWTOperation{Algorithm: "HS256", Key: "signing", Claims: `{'sub': 'docs'}`}},
		{Name: "echo", Call: &v1alpha1.CallOperation{AppAPI: "echo", Input: `steps.order`}},
		{Name: "pause", Wait: &v1alpha1.WaitOperation{Duration: "1ms"}},
		{Name: "xml", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: `'<stock>3</stock>'`}},
		{Name: "keep", Store: &v1alpha1.StoreOperation{Collection: "orders", Operation: v1alpha1.StoreInsert, Value: `steps.order`}},
		{Name: "answer", Respond: &v1alpha1.RespondOperation{Body: `{'echo': steps.echo, 'xml': steps.xml, 'kept': steps.keep.stock}`}},
	}
	if len(steps) != len(operations) {
		t.Fatalf("the test AppAPI has %d steps for %d operations: add a step of the new one", len(steps), len(operations))
	}
	env := testutil.Compiler(t)
	none := v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}
	all, err := pipeline.Compile(env, &snapshot.Route{Name: "all", Method: "POST", Path: "/all", Authentication: none, Steps: steps})
	if err != nil {
		t.Fatalf("an AppAPI with every operation does not compile: %v", err)
	}
	echo, err := pipeline.Compile(env, &snapshot.Route{Name: "echo", Method: "POST", Path: "/echo", Authentication: none,
		Response: v1alpha1.Response{Body: `request.body`}})
	if err != nil {
		t.Fatal(err)
	}
	store, err := datastore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	m := metrics.New()
	rt := &pipeline.Runtime{
		Secrets:   map[string]string{"signing": "a-signing-key-of-at-least-32-bytes"},
		Endpoints: map[string]*pipeline.Endpoint{"echo": echo},
		Observer:  m,
		Store:     store, Namespace: "docs", Environment: "docs",
	}
	res, err := all.Serve(context.Background(), rt, &pipeline.Incoming{Method: "POST", Path: "/all"}, nil)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	want := map[string]any{"echo": map[string]any{"stock": int64(3)}, "xml": map[string]any{"stock": "3"}, "kept": int64(3)}
	if !reflect.DeepEqual(res.Body, want) {
		t.Errorf("body = %#v, want %#v", res.Body, want)
	}
	return m
}
