package expr

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sharedCompiler = sync.OnceValues(NewCompiler)

// testCompiler shares one Compiler across tests, as production code does,
// which also keeps the tests fast on a busy machine. It mirrors
// internal/testutil.Compiler, which these tests cannot use: testutil
// imports this package.
func testCompiler(t testing.TB) *Compiler {
	t.Helper()
	c, err := sharedCompiler()
	if err != nil {
		t.Fatalf("NewCompiler: %v", err)
	}
	return c
}

func mustCompile(t testing.TB, src string) *Program {
	t.Helper()
	p, err := testCompiler(t).Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr []string // substrings of the error; nil means success
	}{
		{name: "literal", src: `1 + 2`},
		{name: "request field", src: `request.method == 'GET'`},
		{name: "dyn arithmetic", src: `request.body + 1`},
		{name: "nested map", src: `{'name': request.body.name, 'id': request.params.id}`},
		{name: "vars string concat", src: `vars.base + '/x'`},
		{name: "token", src: `token.name`},
		{name: "now", src: `now + duration('1h') > now`},
		{name: "custom functions", src: `[uuid(), sha256('a'), sha256(b'a'), hmacSha256('k', 'm'), urlEncode('a'), urlDecode('a'), toJson(1), string(fromJson('1'))]`},
		{name: "extensions", src: `'a,b'.split(',').size() + math.greatest(1, 2) + lists.range(3).size()`},
		{name: "bind", src: `cel.bind(x, 2, x * x)`},
		{name: "optional", src: `request.query.?page.orValue('1')`},
		{name: "multi line", src: "request.method ==\n  'GET'"},
		{
			name:    "syntax error",
			src:     `request.method ==`,
			wantErr: []string{"invalid expression", "1:18", "Syntax error"},
		},
		{
			name:    "syntax error on second line",
			src:     "1 +\n  + )",
			wantErr: []string{"2:"},
		},
		{
			name:    "unknown variable",
			src:     `foo + 1`,
			wantErr: []string{"1:1", "undeclared reference to 'foo'"},
		},
		{
			name:    "string plus int",
			src:     `vars.x + 1`,
			wantErr: []string{"1:8", "found no matching overload for '_+_' applied to '(string, int)'"},
		},
		{
			name:    "unknown function",
			src:     `nope(1)`,
			wantErr: []string{"undeclared reference to 'nope'"},
		},
		{
			name:    "wrong argument type",
			src:     `sha256(1)`,
			wantErr: []string{"no matching overload for 'sha256'"},
		},
		{
			name:    "bad regex literal",
			src:     `'a'.matches('[')`,
			wantErr: []string{"1:13", "invalid matches argument"},
		},
		{
			name:    "bad duration literal",
			src:     `duration('1x')`,
			wantErr: []string{"invalid duration argument"},
		},
		{
			name:    "empty",
			src:     ``,
			wantErr: []string{"invalid expression"},
		},
	}
	env := testCompiler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.Compile(tt.src)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Compile(%q) error: %v", tt.src, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile(%q) succeeded, want error containing %q", tt.src, tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Compile(%q) error %q does not contain %q", tt.src, err, want)
				}
			}
		})
	}
}

func TestCompileBool(t *testing.T) {
	tests := []struct {
		src     string
		wantErr string
	}{
		{src: `request.method == 'GET'`},
		{src: `true`},
		{src: `request.body.ok`}, // dyn: checked at run time by the caller
		{src: `'admin' in token`},
		{src: `'a'`, wantErr: "must evaluate to a bool, got string"},
		{src: `1`, wantErr: "must evaluate to a bool, got int"},
		{src: `vars`, wantErr: "must evaluate to a bool, got map(string, string)"},
		{src: `[true]`, wantErr: "must evaluate to a bool, got list(bool)"},
		{src: `foo`, wantErr: "undeclared reference"},
	}
	env := testCompiler(t)
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := env.CompileBool(tt.src)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CompileBool(%q) error: %v", tt.src, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CompileBool(%q) error = %v, want it to contain %q", tt.src, err, tt.wantErr)
			}
		})
	}
}

func TestStepRefs(t *testing.T) {
	tests := []struct {
		src         string
		want        []string
		wantDynamic bool
	}{
		{src: `steps.a.body`, want: []string{"a"}},
		{src: `steps['b'].x + steps.c`, want: []string{"b", "c"}},
		{src: `steps["b"].x + steps.b.y`, want: []string{"b"}},
		{src: `[1].map(x, steps.d)`, want: []string{"d"}},
		{src: `[1].exists(x, x == steps.z.n)`, want: []string{"z"}},
		{src: `has(steps.e)`, want: []string{"e"}},
		{src: `has(steps.e.f)`, want: []string{"e"}},
		{src: `steps.?f.orValue(1)`, want: []string{"f"}},
		{src: `steps[?'g'].orValue(1)`, want: []string{"g"}},
		{src: `{'k': steps.h, steps.i.key: [steps.j]}`, want: []string{"h", "i", "j"}},
		{src: `cel.bind(v, steps.k, v.x)`, want: []string{"k"}},
		{src: `request.body.steps.a + 1`, want: []string{}},
		{src: `steps.b.c + steps.a`, want: []string{"a", "b"}},
		{src: `steps[request.query.k]`, want: []string{}, wantDynamic: true},
		{src: `steps[request.query.k] + steps.a`, want: []string{"a"}, wantDynamic: true},
		{src: `steps['a' + 'b']`, want: []string{}, wantDynamic: true},
		{src: `steps.size()`, want: []string{}, wantDynamic: true},
		{src: `toJson(steps)`, want: []string{}, wantDynamic: true},
		{src: `'a' in steps`, want: []string{}, wantDynamic: true},
		{src: `steps.map(k, k)`, want: []string{}, wantDynamic: true},
		// A comprehension variable named steps shadows the global.
		{src: `[{'q': 1}].map(steps, steps.q)`, want: []string{}},
		{src: `[1].map(steps, steps) + [steps.r]`, want: []string{"r"}},
		{src: `cel.bind(steps, {'s': 1}, steps.s)`, want: []string{}},
		{src: `cel.bind(steps, steps.t, steps.u)`, want: []string{"t"}},
		{src: `1 + 2`, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p := mustCompile(t, tt.src)
			if diff := cmp.Diff(tt.want, p.StepRefs()); diff != "" {
				t.Errorf("StepRefs() mismatch (-want +got):\n%s", diff)
			}
			if got := p.DynamicStepAccess(); got != tt.wantDynamic {
				t.Errorf("DynamicStepAccess() = %v, want %v", got, tt.wantDynamic)
			}
		})
	}
}

func TestStepRefsReturnsCopy(t *testing.T) {
	p := mustCompile(t, `steps.a`)
	p.StepRefs()[0] = "changed"
	if got := p.StepRefs(); got[0] != "a" {
		t.Fatalf("StepRefs() = %v after caller modified its result", got)
	}
}
