package expr

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileTemplate(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		wantLiteral bool
		wantRefs    []string
		wantDynamic bool
		want        string // Render output without escaping
	}{
		{name: "empty", src: ``, wantLiteral: true, want: ``},
		{name: "literal only", src: `https://example.com/a?b=c`, wantLiteral: true, want: `https://example.com/a?b=c`},
		{name: "single braces", src: `{a} } {`, wantLiteral: true, want: `{a} } {`},
		{name: "one part", src: `/users/{{ request.params.id }}`, want: `/users/42`},
		{name: "no spaces", src: `{{request.method}}`, want: `POST`},
		{name: "several parts", src: `{{ vars.base }}/users/{{ request.params.id }}?p={{ request.query.page }}`, want: `https://example.com/users/42?p=2`},
		{name: "adjacent parts", src: `{{ 1 }}{{ 2 }}`, want: `12`},
		{name: "steps", src: `{{ steps.fetch.status }}-{{ steps['other'].x }}-{{ steps.fetch.body.ok }}`, wantRefs: []string{"fetch", "other"}},
		{name: "dynamic steps", src: `{{ steps[request.method] }}`, wantRefs: []string{}, wantDynamic: true},
		{name: "closing braces in string", src: `a{{ '}}' }}b`, want: `a}}b`},
		{name: "closing braces in double quoted string", src: `{{ "x}}y" + 'z' }}`, want: `x}}yz`},
		{name: "escaped quote in string", src: `{{ 'it\'s }}' }}`, want: `it's }}`},
		{name: "raw string", src: `{{ r'a\' + '}}' }}`, want: `a\}}`},
		{name: "triple quoted string", src: `{{ '''a ' }} b''' }}`, want: `a ' }} b`},
		{name: "opening braces in string", src: `{{ '{{' }}x`, want: `{{x`},
		{name: "nested map literal", src: `{{ {'a': {'b': 1}} }}`, want: `{"a":{"b":1}}`},
		{name: "map literal", src: `{{ {'a': 1}.a }}`, want: `1`},
		{name: "comment", src: "{{ 1 // }} not the end\n }}", want: `1`},
		{name: "trailing brace", src: `{{ 1 }}}`, want: `1}`},
		{name: "multi line", src: "line1\n{{ request.method }}\n", want: "line1\nPOST\n"},
	}
	env := testCompiler(t)
	in := testActivation()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := env.CompileTemplate(tt.src)
			if err != nil {
				t.Fatalf("CompileTemplate(%q): %v", tt.src, err)
			}
			if got := tmpl.IsLiteral(); got != tt.wantLiteral {
				t.Errorf("IsLiteral() = %v, want %v", got, tt.wantLiteral)
			}
			wantRefs := tt.wantRefs
			if wantRefs == nil {
				wantRefs = []string{}
			}
			if diff := cmp.Diff(wantRefs, tmpl.StepRefs()); diff != "" {
				t.Errorf("StepRefs() mismatch (-want +got):\n%s", diff)
			}
			if got := tmpl.DynamicStepAccess(); got != tt.wantDynamic {
				t.Errorf("DynamicStepAccess() = %v, want %v", got, tt.wantDynamic)
			}
			if tt.wantRefs != nil || tt.wantDynamic {
				return // these steps do not exist in the activation
			}
			got, err := tmpl.Render(context.Background(), in, nil)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompileTemplateErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "unterminated", src: `abc{{ request.method`, want: []string{"unterminated {{ at offset 3"}},
		{name: "unterminated single brace", src: `{{ 1 }`, want: []string{"unterminated {{ at offset 0"}},
		{name: "unterminated string", src: `{{ 'abc }}`, want: []string{"unterminated {{ at offset 0"}},
		{name: "unterminated after part", src: `{{ 1 }}/{{`, want: []string{"unterminated {{ at offset 8"}},
		{name: "empty", src: `a{{ }}b`, want: []string{"empty expression", "offset 1"}},
		{name: "empty no space", src: `{{}}`, want: []string{"empty expression", "offset 0"}},
		// Positions are line:column in the template, not in the part.
		{name: "syntax error", src: `/users/{{ request.params. }}`, want: []string{"offset 7", "1:27", "Syntax error"}},
		{name: "type error", src: `/a/{{ foo }}`, want: []string{"offset 3", "1:7", "undeclared reference to 'foo'"}},
		{name: "type error second line", src: "x\nab{{ vars.x + 1 }}", want: []string{"offset 4", "2:13", "no matching overload"}},
		{name: "type error after unicode", src: `é{{ foo }}`, want: []string{"1:5", "undeclared reference"}},
	}
	env := testCompiler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.CompileTemplate(tt.src)
			if err == nil {
				t.Fatalf("CompileTemplate(%q) succeeded, want error", tt.src)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRenderValueKinds(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{src: `{{ 'text' }}`, want: `text`},
		{src: `{{ 3 }}`, want: `3`},
		{src: `{{ -3 }}`, want: `-3`},
		{src: `{{ uint(3) }}`, want: `3`},
		{src: `{{ 2.5 }}`, want: `2.5`},
		{src: `{{ 3.0 }}`, want: `3`},
		{src: `{{ 1e6 }}`, want: `1000000`},
		{src: `{{ 0.1 + 0.2 }}`, want: `0.30000000000000004`},
		{src: `{{ 1e21 }}`, want: `1e+21`},
		{src: `{{ 1e-7 }}`, want: `1e-07`},
		{src: `{{ true }}`, want: `true`},
		{src: `{{ false }}`, want: `false`},
		{src: `[{{ null }}]`, want: `[]`},
		{src: `{{ request.body.nil }}`, want: ``},
		{src: `{{ now }}`, want: `2024-05-06T07:08:09.5Z`},
		{src: `{{ timestamp('2024-01-02T03:04:05Z') }}`, want: `2024-01-02T03:04:05Z`},
		{src: `{{ duration('1m30s') }}`, want: `90s`},
		{src: `{{ b'bytes' }}`, want: `bytes`},
		{src: `{{ [1, 'a', true, null] }}`, want: `[1,"a",true,null]`},
		{src: `{{ {'b': 2, 'a': '<&>'} }}`, want: `{"a":"<&>","b":2}`},
		{src: `{{ request.query.?missing }}`, want: ``},
		{src: `{{ type(1) }}`, want: `int`},
	}
	env := testCompiler(t)
	in := testActivation()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			tmpl, err := env.CompileTemplate(tt.src)
			if err != nil {
				t.Fatalf("CompileTemplate: %v", err)
			}
			got, err := tmpl.Render(context.Background(), in, nil)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderEscapesOnlyValues(t *testing.T) {
	tmpl, err := testCompiler(t).CompileTemplate(`https://api.example.com/u/{{ request.body.name }}?q={{ request.body.q }}#top`)
	if err != nil {
		t.Fatal(err)
	}
	in := Activation{Request: map[string]any{"body": map[string]any{"name": "../admin", "q": "a b&c=d"}}}
	got, err := tmpl.Render(context.Background(), in, EscapeURLValue)
	if err != nil {
		t.Fatal(err)
	}
	want := `https://api.example.com/u/..%2Fadmin?q=a%20b%26c%3Dd#top`
	if got != want {
		t.Errorf("Render() = %q, want %q", got, want)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/u/../admin" || u.RawPath != "/u/..%2Fadmin" || u.Query().Get("q") != "a b&c=d" || u.Fragment != "top" {
		t.Errorf("parsed URL = path %q rawpath %q query %q fragment %q", u.Path, u.RawPath, u.RawQuery, u.Fragment)
	}
}

func TestRenderErrors(t *testing.T) {
	env := testCompiler(t)
	tmpl, err := env.CompileTemplate("/a/\n  {{ request.body.missing }}")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Render(context.Background(), testActivation(), nil)
	want := "template expression at offset 6: evaluation error at 2:18 in .missing: no such key"
	if err == nil || err.Error() != want {
		t.Fatalf("Render error = %v, want %q", err, want)
	}
	var evalErr *EvalError
	if !errors.As(err, &evalErr) || evalErr.Line != 2 {
		t.Errorf("Render error does not wrap an *EvalError with the template line: %#v", evalErr)
	}

	tmpl, err = env.CompileTemplate(`{{ 0.0 / 0.0 }}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tmpl.Render(context.Background(), Activation{}, nil); err != nil || got != "NaN" {
		t.Errorf("Render NaN = %q, %v", got, err)
	}
	tmpl, err = env.CompileTemplate(`{{ [0.0 / 0.0] }}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(context.Background(), Activation{}, nil); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Render [NaN] error = %v, want a JSON error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tmpl, err = env.CompileTemplate(`x{{ 1 }}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(ctx, Activation{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with cancelled context error = %v", err)
	}
}

func TestEscapeURLValue(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain-value_1.0~", "plain-value_1.0~"},
		{"..", ".."},
		{"../admin", "..%2Fadmin"},
		{"a/b", "a%2Fb"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"x?y#z", "x%3Fy%23z"},
		{"a&b=c", "a%26b%3Dc"},
		{"a;b,c:d@e$f", "a%3Bb%2Cc%3Ad%40e%24f"},
		{"100%", "100%25"},
		{`a\b`, "a%5Cb"},
		{"é", "%C3%A9"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"\x00\n", "%00%0A"},
	}
	for _, tt := range tests {
		if got := EscapeURLValue(tt.in); got != tt.want {
			t.Errorf("EscapeURLValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Whatever the value, it must come back intact from a path segment.
		if got, err := url.PathUnescape(EscapeURLValue(tt.in)); err != nil || got != tt.in {
			t.Errorf("PathUnescape(EscapeURLValue(%q)) = %q, %v", tt.in, got, err)
		}
	}
}

func FuzzCompileTemplate(f *testing.F) {
	for _, seed := range []string{
		``, `abc`, `{{`, `}}`, `{{}}`, `{{ 1 }}`, `a{{ 'x}}' }}b`, `{{ "\"}}" }}`,
		`{{ r'\' }}`, `{{ '''}}''' }}`, `{{ {'a': {}} }}`, "{{ // }}\n 1 }}",
		`{{ steps.a }}{{ steps['b'] }}`, `{{ '`, `{{ r"`, `{{ br'x' }}`, `{{ 1 }}}}`,
		"{{ '\n' }}", `é{{ é }}`, `{{ {{ }} }}`,
	} {
		f.Add(seed)
	}
	env := testCompiler(f)
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := env.CompileTemplate(src)
		if err != nil {
			return
		}
		if !strings.Contains(src, "{{") {
			if !tmpl.IsLiteral() {
				t.Fatalf("template %q without {{ is not literal", src)
			}
			got, err := tmpl.Render(context.Background(), Activation{}, nil)
			if err != nil || got != src {
				t.Fatalf("Render(%q) = %q, %v; want the source", src, got, err)
			}
		}
	})
}
