package expr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
)

// counted is an int whose comparisons are counted, so a test can tell how
// much work an evaluation did without timing it. Past maxCompares it panics,
// which CEL reports as an internal error: a missing guard fails the test at
// once instead of spinning for minutes.
type counted struct {
	n        int64
	compares *atomic.Int64
}

const maxCompares = 5_000_000

func (c counted) Equal(other ref.Val) ref.Val {
	if c.compares.Add(1) > maxCompares {
		panic("more comparisons than any guarded evaluation may make")
	}
	o, ok := other.(counted)
	return types.Bool(ok && o.n == c.n)
}
func (c counted) Type() ref.Type { return types.IntType }
func (c counted) Value() any     { return c.n }
func (c counted) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("not convertible")
}
func (c counted) ConvertToType(ref.Type) ref.Val { return types.NewErr("not convertible") }

func countedList(n int, offset int64, compares *atomic.Int64) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = counted{n: int64(i) + offset, compares: compares}
	}
	return out
}

func wantCostError(t *testing.T, err error, op string) {
	t.Helper()
	if !errors.Is(err, ErrCostLimitExceeded) {
		t.Fatalf("error = %v, want the cost limit error", err)
	}
	if op != "" && !strings.Contains(err.Error(), " in "+op+": ") {
		t.Errorf("error %q does not name %s", err, op)
	}
}

// allocated returns how many bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The two expressions an attacker-style test found: 71 s of CPU, and 900 MB.
func TestGuardSetsIntersectsRefusedBeforeComparing(t *testing.T) {
	var compares atomic.Int64
	in := Activation{Request: map[string]any{"body": map[string]any{
		"a": countedList(40_000, 0, &compares),
		"b": countedList(40_000, 40_000, &compares),
	}}}
	_, err := eval(t, `sets.intersects(request.body.a, request.body.b)`, in)
	wantCostError(t, err, "sets.intersects()")
	if n := compares.Load(); n != 0 {
		t.Errorf("%d comparisons before the cost limit, want none", n)
	}
}

func TestGuardReplaceRefusedBeforeAllocating(t *testing.T) {
	in := Activation{Request: map[string]any{"text": strings.Repeat("a", 30_000)}}
	p := mustCompile(t, `request.text.replace('a', request.text)`)
	var err error
	bytes := allocated(func() { _, err = p.Eval(context.Background(), in) })
	wantCostError(t, err, "replace()")
	// The result would be 900 MB; the input is 30 KB.
	if bytes > 1<<20 {
		t.Errorf("evaluation allocated %d bytes before failing, want under 1 MiB", bytes)
	}
}

// The guard's price is cel-go's: n*m comparisons. Just under the limit the
// call runs, just over it it is refused without a single comparison.
func TestGuardRefusesExactlyOverTheLimit(t *testing.T) {
	var compares atomic.Int64
	const n = 1000
	src := `sets.contains(request.body.a, request.body.b)`
	under := Activation{Request: map[string]any{"body": map[string]any{
		"a": countedList(n, 0, &compares), "b": countedList(n-1, n, &compares),
	}}}
	if _, err := eval(t, src, under); err != nil {
		t.Fatalf("%d x %d items: %v", n, n-1, err)
	}
	if compares.Load() == 0 {
		t.Fatal("the call under the limit compared nothing; the test is broken")
	}
	compares.Store(0)
	over := Activation{Request: map[string]any{"body": map[string]any{
		"a": countedList(n, 0, &compares), "b": countedList(n+1, n, &compares),
	}}}
	_, err := eval(t, src, over)
	wantCostError(t, err, "sets.contains()")
	if c := compares.Load(); c != 0 {
		t.Errorf("%d comparisons over the limit, want none", c)
	}
}

func TestGuardsRefuseLargeCalls(t *testing.T) {
	items := make([]any, 2000)
	for i := range items {
		items[i] = int64(len(items) - i)
	}
	in := Activation{Request: map[string]any{
		"text": strings.Repeat("ab", 500_000),
		"body": map[string]any{"items": items, "s": "x", "big": strings.Repeat("a", 4_000_000)},
	}}
	tests := []struct{ src, op string }{
		{`request.text.split('')`, "split()"},
		{`request.text.indexOf(request.text.substring(0, 1000))`, "indexOf()"},
		{`request.text.lastIndexOf(request.text.substring(0, 1000), 5)`, "lastIndexOf()"},
		{`request.text.upperAscii()`, "upperAscii()"},
		{`request.text.reverse()`, "reverse()"},
		{`[request.text, request.text].join(request.text)`, "join()"},
		{`'%s%s%s'.format([request.text, request.text, request.text])`, "format()"},
		{`strings.quote(request.body.big)`, "strings.quote()"},
		{`request.body.items.sort()`, "sort()"},
		{`request.body.items.sortBy(i, -i)`, "@sortByAssociatedKeys()"},
		{`request.body.items.distinct()`, "distinct()"},
		{`lists.range(2000000)`, "lists.range()"},
		{`lists.range(1000).map(i, request.body.items).flatten()`, "flatten()"},
		{`toJson(lists.range(1000).map(i, request.body.items))`, "toJson()"},
		{`request.text.matches(request.text.substring(0, 100))`, "matches()"},
		// dyn arguments: dispatched by function name at run time.
		{`cel.bind(t, request.body.s + request.text, t.replace('x', t))`, "replace()"},
		{`dyn(request.body.items).sort()`, "sort()"},
		{`json.encode(1)`, "json.encode()"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := eval(t, tt.src, in)
			wantCostError(t, err, tt.op)
		})
	}
}

// nestedDoubling builds `cel.bind(l1, l0 + l0, cel.bind(l2, l1 + l1, ...
// body))`: 30 concatenations of a dyn list with itself.
func nestedDoubling(body string) string {
	var b strings.Builder
	b.WriteString("cel.bind(l0, request.body.items, ")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "cel.bind(l%d, l%d + l%d, ", i, i-1, i-1)
	}
	b.WriteString(body)
	b.WriteString(strings.Repeat(")", 31))
	return b.String()
}

// List concatenation does no work, so cel-go charges it 1; charged nothing
// for its size, 30 doublings of a list would make one that no `in`, no
// iteration and no conversion of the result ever finishes.
func TestConcatenationChargedBySize(t *testing.T) {
	var compares atomic.Int64
	in := Activation{Request: map[string]any{"body": map[string]any{"items": countedList(2000, 0, &compares)}}}
	for _, body := range []string{`request.body.items[0] in l30`, `l30`, `l30.size()`} {
		t.Run(body, func(t *testing.T) {
			_, err := eval(t, nestedDoubling(body), in)
			wantCostError(t, err, "")
			if n := compares.Load(); n != 0 {
				t.Errorf("%d comparisons, want none", n)
			}
		})
	}
}

// `in` over a dyn list is charged 1 by cel-go; a comprehension of them is
// then n² comparisons for n units of cost.
func TestInChargedBySize(t *testing.T) {
	var compares atomic.Int64
	in := Activation{Request: map[string]any{"body": map[string]any{"items": countedList(40_000, 0, &compares)}}}
	_, err := eval(t, `request.body.items.all(x, x in request.body.items)`, in)
	wantCostError(t, err, "")
	if n := compares.Load(); n > int64(CostLimit)+40_000 {
		t.Errorf("%d comparisons, want at most the cost limit plus one list", n)
	}
}

// Guarded functions keep their meaning on ordinary inputs, also when their
// arguments are dyn and the overload is chosen at run time.
func TestGuardedFunctionsWork(t *testing.T) {
	in := Activation{Request: map[string]any{
		"text": "a,b,c",
		"body": map[string]any{"items": []any{int64(3), int64(1), int64(2), int64(1)}, "s": "Hello"},
	}}
	tests := []struct {
		src  string
		want any
	}{
		{`sets.contains([1, 2, 3], [1, 2])`, true},
		{`sets.intersects(request.body.items, [5, 2])`, true},
		{`sets.equivalent([1, 2], [2, 1, 1])`, true},
		{`request.text.split(',')`, []any{"a", "b", "c"}},
		{`request.text.split(',', 2)`, []any{"a", "b,c"}},
		{`request.text.replace(',', '--')`, "a--b--c"},
		{`request.text.replace(',', '', 1)`, "ab,c"},
		{`request.body.s.replace('', '.')`, ".H.e.l.l.o."},
		{`['x', 'y'].join()`, "xy"},
		{`['x', 'y'].join('/')`, "x/y"},
		{`'%s-%d-%.2f'.format(['a', 7, 1.5])`, "a-7-1.50"},
		{`strings.quote('a"b')`, `"a\"b"`},
		{`request.body.s.lowerAscii() + request.body.s.upperAscii()`, "helloHELLO"},
		{`request.body.s.substring(1, 3) + request.body.s.substring(3)`, "ello"},
		{`request.body.s.charAt(1) + request.body.s.reverse()`, "eolleH"},
		{`request.body.s.indexOf('l') + request.body.s.lastIndexOf('l', 4)`, int64(5)},
		{`'  x '.trim()`, "x"},
		{`request.body.items.sort()`, []any{int64(1), int64(1), int64(2), int64(3)}},
		{`request.body.items.sortBy(i, -i)`, []any{int64(3), int64(2), int64(1), int64(1)}},
		{`request.body.items.distinct()`, []any{int64(3), int64(1), int64(2)}},
		{`request.body.items.slice(1, 3)`, []any{int64(1), int64(2)}},
		{`request.body.items.reverse()`, []any{int64(1), int64(2), int64(1), int64(3)}},
		{`[[1], [2, [3]]].flatten(2)`, []any{int64(1), int64(2), int64(3)}},
		{`lists.range(3)`, []any{int64(0), int64(1), int64(2)}},
		{`math.greatest(request.body.items) + math.least(4, 5)`, int64(7)},
		{`base64.decode(base64.encode(b'hi')) == b'hi'`, true},
		{`request.body.s.matches('^H')`, true},
		{`toJson(fromJson('{"a": [1, "x"]}'))`, `{"a":[1,"x"]}`},
		{`urlDecode(urlEncode('a b'))`, "a b"},
		{`sha256('abc') == sha256(b'abc') && hmacSha256('k', 'm').size() == 64`, true},
		{`request.body.items + [4]`, []any{int64(3), int64(1), int64(2), int64(1), int64(4)}},
		{`request.body.s + '!'`, "Hello!"},
		{`2 in request.body.items`, true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, tt.src, in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// Every priced function exists in the environment, so that a cel-go upgrade
// that renames one fails here rather than leaving it unguarded.
func TestEveryPricedFunctionIsGuarded(t *testing.T) {
	c := testCompiler(t)
	for name := range callCosts {
		if len(c.guards[name].overloads) == 0 || len(c.guards[name].trackers) == 0 {
			t.Errorf("%s has no guarded binding", name)
		}
	}
}

// A normal expression that calls guarded functions: what the guards cost.
func BenchmarkEvalGuardedFunctions(b *testing.B) {
	p := mustCompile(b, `{
		'name': request.body.name.lowerAscii().replace('a', 'A'),
		'parts': request.path.split('/'),
		'label': '%s-%s'.format([request.params.id, request.method]),
		'tags': request.query.tags.join(','),
		'known': sets.contains(['a', 'b', 'c'], request.query.tags)
	}`)
	benchmarkEval(b, p)
}
