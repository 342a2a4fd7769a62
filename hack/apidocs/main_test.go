package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

const (
	crdDir  = "../../config/crd/bases"
	docFile = "../../docs/api.md"
)

func generated(t *testing.T) []byte {
	t.Helper()
	doc, err := generate(crdDir)
	if err != nil {
		t.Fatalf("generate(%s): %v", crdDir, err)
	}
	return doc
}

// tables parses the generated Markdown into kind -> object path -> the
// fields of that object's table, from the "## Kind" and "### `path`"
// headings and the "| `field` | ..." rows.
func tables(t *testing.T, doc []byte) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	kind, path := "", ""
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			kind, path = strings.TrimPrefix(line, "## "), ""
			out[kind] = map[string][]string{}
		case strings.HasPrefix(line, "### "):
			path = strings.Trim(strings.TrimPrefix(line, "### "), "`")
		case strings.HasPrefix(line, "| `") && kind != "" && path != "":
			field, _, ok := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			if !ok {
				t.Fatalf("malformed row %q", line)
			}
			out[kind][path] = append(out[kind][path], field)
		}
	}
	return out
}

func TestAppAPIStepFieldsDocumented(t *testing.T) {
	docs := tables(t, generated(t))["AppAPI"]
	if docs == nil {
		t.Fatal("no AppAPI section")
	}

	// The fields of the http step, spelled out so that a generator that
	// lost fields could not agree with itself.
	want := []string{"url", "method", "headers", "query", "body", "bodyText", "timeout"}
	got := docs["spec.steps[].http"]
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("heading spec.steps[].http documents %v, missing %q", got, f)
		}
	}

	// Every field at every level under spec.steps, from the CRD itself.
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	var steps *apiextensionsv1.JSONSchemaProps
	for _, crd := range crds {
		if crd.Spec.Names.Kind == "AppAPI" {
			steps = lookup(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, "spec.steps[]")
		}
	}
	if steps == nil || len(steps.Properties) == 0 {
		t.Fatal("the AppAPI CRD has no spec.steps[] object")
	}
	leaves := 0
	var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
		for name, prop := range s.Properties {
			if !slices.Contains(docs[path], name) {
				t.Errorf("%s.%s is not documented under heading %s (which has %v)", path, name, path, docs[path])
			}
			if len(prop.Properties) > 0 {
				walk(path+"."+name, &prop)
			} else {
				leaves++
			}
		}
	}
	walk("spec.steps[]", steps)
	if leaves < 10 {
		t.Errorf("found only %d leaf fields under spec.steps[]", leaves)
	}
}

// TestEveryFieldDocumented checks every object level of every kind, except
// the fields documented as an upstream type.
func TestEveryFieldDocumented(t *testing.T) {
	docs := tables(t, generated(t))
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		kind := crd.Spec.Names.Kind
		var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
		walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
			for name, prop := range s.Properties {
				if !slices.Contains(docs[kind][path], name) {
					t.Errorf("%s %s.%s is not documented", kind, path, name)
				}
				child := path + "." + name
				if _, ok := opaque[child]; ok {
					if _, expanded := docs[kind][child]; expanded {
						t.Errorf("%s %s is expanded, but should be documented as %s", kind, child, opaque[child])
					}
					continue
				}
				for prop.Type == "array" && prop.Items != nil && prop.Items.Schema != nil {
					child += "[]"
					prop = *prop.Items.Schema
				}
				if len(prop.Properties) > 0 {
					walk(child, &prop)
				}
			}
		}
		root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		for _, top := range []string{"spec", "status"} {
			s := root.Properties[top]
			walk(top, &s)
		}
		if _, ok := docs[kind]["metadata"]; ok {
			t.Errorf("%s: metadata is documented", kind)
		}
	}
}

func TestOutput(t *testing.T) {
	doc := generated(t)
	s := string(doc)
	if !strings.HasPrefix(s, header+"\n") {
		t.Errorf("output does not start with %q", header)
	}
	for _, want := range []string{
		"| `conditions` | list of Condition (metav1.Condition) |",
		"| `resources` | corev1.ResourceRequirements |",
		"| `timeout` | duration |",
		"| `expiresAt` | RFC 3339 time |",
		"| `requestSchema` | JSON Schema (any JSON) |",
		"| `variables` | map of string to string |",
		"| `allowedTokens` | list of string |",
		"- each step must set exactly one operation: http, transform, respond, validate, jwt, call, wait, xmlToJson or store\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, notWant := range []string{"self.matches", "oldSelf", "lastTransitionTime", "`apiVersion`"} {
		if strings.Contains(s, notWant) {
			t.Errorf("output contains %q", notWant)
		}
	}
	if again := generated(t); !bytes.Equal(doc, again) {
		t.Error("two runs generate different output")
	}
}

// TestDocUpToDate fails when docs/api.md was not regenerated after a CRD
// change.
func TestDocUpToDate(t *testing.T) {
	doc := generated(t)
	onDisk, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatalf("%v: run 'go run ./hack/apidocs'", err)
	}
	if bytes.Equal(onDisk, doc) {
		return
	}
	want, got := strings.Split(string(doc), "\n"), strings.Split(string(onDisk), "\n")
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("docs/api.md is out of date: run 'go run ./hack/apidocs'. First difference at line %d:\n  on disk:   %q\n  generated: %q", i+1, g, w)
		}
	}
	t.Fatal("docs/api.md is out of date: run 'go run ./hack/apidocs'")
}
