// Package docs checks the documentation against the code: every AppAPI
// example in the docs compiles with the gateway's own compiler, and every
// condition reason has a section in docs/troubleshooting.md.
package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/translate"
)

// root is the repository root, relative to this package's directory (the
// working directory of go test).
const root = "../.."

// exampleDocs are the Markdown files whose AppAPI examples must compile.
var exampleDocs = []string{"docs/operations.md", "docs/gitops.md", "README.md"}

// operations are the step operations, by field name; docs/operations.md must
// show each in at least one example.
var operations = []string{"http", "transform", "respond", "validate", "jwt", "call", "wait", "xmlToJson"}

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
	env, err := expr.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
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
