package expr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)

func testActivation() Activation {
	return Activation{
		Request: map[string]any{
			"method":  "POST",
			"path":    "/users/42",
			"params":  map[string]string{"id": "42"},
			"query":   map[string]any{"page": "2", "tags": []any{"a", "b"}},
			"headers": map[string]string{"content-type": "application/json"},
			"body": map[string]any{
				"name":  "Ada",
				"count": float64(3),
				"items": []any{map[string]any{"n": int64(1)}, map[string]any{"n": 2}},
				"nil":   nil,
			},
			"text": `{"name":"Ada"}`,
		},
		Token:   map[string]any{"name": "svc", "id": "t1"},
		Vars:    map[string]string{"base": "https://example.com", "x": "1"},
		Secrets: map[string]string{"key": "s3cr3t-Value"},
		Steps: map[string]any{
			"fetch": map[string]any{"status": int64(200), "body": map[string]any{"ok": true}},
		},
		Now: testNow,
	}
}

func eval(t testing.TB, src string, in Activation) (any, error) {
	t.Helper()
	return mustCompile(t, src).Eval(context.Background(), in)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestEval(t *testing.T) {
	mac := hmac.New(sha256.New, []byte("key"))
	mac.Write([]byte("message"))
	wantHMAC := hex.EncodeToString(mac.Sum(nil))

	tests := []struct {
		name string
		src  string
		want any
	}{
		// Variables and conversion of nested values to plain Go.
		{name: "string", src: `request.method`, want: "POST"},
		{name: "params", src: `request.params.id`, want: "42"},
		{name: "headers", src: `request.headers['content-type']`, want: "application/json"},
		{name: "double from body", src: `request.body.count`, want: float64(3)},
		{name: "cross-type comparison", src: `request.body.count > 2`, want: true},
		{name: "cross-type equality", src: `request.body.count == 3`, want: true},
		{name: "go int in input", src: `request.body.items[1].n + 1`, want: int64(3)},
		{name: "null", src: `request.body.nil`, want: nil},
		{name: "token", src: `token.name + ':' + token.id`, want: "svc:t1"},
		{name: "vars", src: `vars.base + '/x'`, want: "https://example.com/x"},
		{name: "steps", src: `steps.fetch.body.ok && steps.fetch.status == 200`, want: true},
		{name: "uint", src: `uint(7)`, want: uint64(7)},
		{name: "bytes", src: `b'hi'`, want: []byte("hi")},
		{name: "now", src: `now`, want: testNow},
		{name: "now arithmetic", src: `now + duration('1h')`, want: testNow.Add(time.Hour)},
		{name: "now field", src: `now.getFullYear()`, want: int64(2024)},
		{name: "duration", src: `duration('90m')`, want: "5400s"},
		{name: "type value", src: `type(1)`, want: "int"},
		{
			name: "transform",
			src:  `{'name': request.body.name, 'id': request.params.id, 'tags': request.query.tags, 'n': [1, 2.5]}`,
			want: map[string]any{"name": "Ada", "id": "42", "tags": []any{"a", "b"}, "n": []any{int64(1), 2.5}},
		},
		{name: "nested input", src: `request.body.items`, want: []any{map[string]any{"n": int64(1)}, map[string]any{"n": int64(2)}}},
		{name: "int map keys", src: `{1: 'a', true: 'b'}`, want: map[string]any{"1": "a", "true": "b"}},
		{name: "optional none", src: `request.query.?missing`, want: nil},
		{name: "optional some", src: `request.query.?page`, want: "2"},
		{name: "optional orValue", src: `request.query.?missing.orValue('1')`, want: "1"},

		// Custom functions.
		{name: "sha256 string", src: `sha256('abc')`, want: sha256Hex("abc")},
		{name: "sha256 bytes", src: `sha256(b'abc')`, want: sha256Hex("abc")},
		{name: "sha256 unicode", src: `sha256('é')`, want: sha256Hex("é")},
		{name: "hmacSha256", src: `hmacSha256('key', 'message')`, want: wantHMAC},
		{name: "urlEncode", src: `urlEncode('a b&c=d/é')`, want: "a+b%26c%3Dd%2F%C3%A9"},
		{name: "urlDecode", src: `urlDecode('a+b%26c%3Dd%2F%C3%A9')`, want: "a b&c=d/é"},
		{name: "toJson map", src: `toJson({'b': 1, 'a': [true, null, 'x<y']})`, want: `{"a":[true,null,"x<y"],"b":1}`},
		{name: "toJson string", src: `toJson('a"b')`, want: `"a\"b"`},
		{name: "toJson bytes", src: `toJson(b'hi')`, want: `"aGk="`},
		{name: "toJson timestamp", src: `toJson(now)`, want: `"2024-05-06T07:08:09.5Z"`},
		{name: "toJson input", src: `toJson(request.body.items)`, want: `[{"n":1},{"n":2}]`},
		{name: "fromJson object", src: `fromJson('{"a": [1, "x", null, true]}')`, want: map[string]any{"a": []any{float64(1), "x", nil, true}}},
		{name: "fromJson field", src: `fromJson(request.text).name`, want: "Ada"},
		{name: "fromJson roundtrip", src: `fromJson(toJson({'a': 1})).a == 1.0`, want: true},
		{name: "uuid format", src: `uuid().matches('^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')`, want: true},
		{name: "uuid differs", src: `uuid() != uuid()`, want: true},

		// Extension libraries.
		{name: "strings split", src: `'a,b'.split(',')`, want: []any{"a", "b"}},
		{name: "strings upper", src: `'abc'.upperAscii()`, want: "ABC"},
		{name: "strings format", src: `'%s-%d'.format(['a', 1])`, want: "a-1"},
		{name: "math greatest", src: `math.greatest(1, 2)`, want: int64(2)},
		{name: "math round", src: `math.round(2.5)`, want: float64(3)},
		{name: "base64 encode", src: `base64.encode(b'hi')`, want: "aGk="},
		{name: "base64 decode", src: `base64.decode('aGk=')`, want: []byte("hi")},
		{name: "lists range", src: `lists.range(3)`, want: []any{int64(0), int64(1), int64(2)}},
		{name: "lists sort", src: `[3, 1, 2].sort()`, want: []any{int64(1), int64(2), int64(3)}},
		{name: "lists flatten", src: `[[1], [2, 3]].flatten()`, want: []any{int64(1), int64(2), int64(3)}},
		{name: "sets contains", src: `sets.contains([1, 2, 3], [1, 3])`, want: true},
		{name: "sets intersects", src: `sets.intersects([1], [2])`, want: false},
		{name: "bind", src: `cel.bind(x, request.body.items, x.size())`, want: int64(2)},
		{name: "macro", src: `request.body.items.map(i, i.n * 2)`, want: []any{int64(2), int64(4)}},
	}
	in := testActivation()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eval(t, tt.src, in)
			if err != nil {
				t.Fatalf("Eval(%q) error: %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

// The result must survive encoding/json, the way the gateway returns it.
func TestEvalResultEncodesAsJSON(t *testing.T) {
	got, err := eval(t, `{'a': [1, 2.5, 'x', null, true, {'b': now}], 'c': uint(1), 'd': b'hi', 'e': duration('1s')}`, testActivation())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	want := `{"a":[1,2.5,"x",null,true,{"b":"2024-05-06T07:08:09.5Z"}],"c":1,"d":"aGk=","e":"1s"}`
	if string(enc) != want {
		t.Errorf("JSON = %s, want %s", enc, want)
	}
}

func TestEvalEmptyActivation(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{src: `request.size()`, want: int64(0)},
		{src: `token == {}`, want: true},
		{src: `vars.size() + secrets.size() + steps.size()`, want: int64(0)},
		{src: `now > timestamp('2020-01-01T00:00:00Z')`, want: true},
		{src: `has(token.name)`, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, tt.src, Activation{})
			if err != nil {
				t.Fatalf("Eval(%q) error: %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the whole error message
	}{
		{name: "missing key", src: `request.body.missing`, want: "evaluation error at 1:13 in .missing: no such key"},
		{name: "missing index key", src: `request.body['missing']`, want: "evaluation error at 1:13 in index []: no such key"},
		{name: "division by zero", src: `1 / (request.body.items.size() - 2)`, want: "evaluation error at 1:3 in operator /: division by zero"},
		{name: "conversion", src: `int(vars.base)`, want: "evaluation error at 1:4 in int(): type conversion error from string to int"},
		{name: "no overload", src: `request.body.name + 1`, want: "evaluation error at 1:19 in operator +: no function overload matches the argument types"},
		{name: "list index", src: `[1, 2][5]`, want: "evaluation error at 1:7 in index []: index out of range"},
		{name: "fromJson", src: `fromJson('{')`, want: "evaluation error at 1:9 in fromJson(): invalid JSON"},
		{name: "urlDecode", src: `urlDecode('%zz')`, want: "evaluation error at 1:10 in urlDecode(): invalid percent-encoding"},
		{name: "toJson NaN", src: `toJson(0.0 / 0.0)`, want: "evaluation error at 1:7 in toJson(): value cannot be represented as JSON (NaN or infinity)"},
		{name: "in macro", src: `request.body.items.map(i, i.m)`, want: "evaluation error at 1:28 in .m: no such key"},
		{name: "second line", src: "request.method == 'POST' &&\n  request.body.nope", want: "evaluation error at 2:15 in .nope: no such key"},
		{name: "timestamp", src: `timestamp(vars.base)`, want: "evaluation error at 1:10 in timestamp(): invalid RFC 3339 timestamp"},
	}
	in := testActivation()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eval(t, tt.src, in)
			if err == nil {
				t.Fatalf("Eval(%q) succeeded, want error", tt.src)
			}
			if err.Error() != tt.want {
				t.Errorf("Eval(%q) error\n got: %s\nwant: %s", tt.src, err, tt.want)
			}
			var evalErr *EvalError
			if !errors.As(err, &evalErr) {
				t.Errorf("error is %T, want *EvalError", err)
			}
		})
	}
}

// Every way of making CEL fail on a secret value must give an error that
// does not contain the secret, nor a recognisable part of it.
func TestEvalErrorsDoNotLeakSecrets(t *testing.T) {
	const secret = "Sup3r-s3cret_Tok3n"
	in := testActivation()
	in.Secrets = map[string]string{"key": secret}
	in.Request["body"] = map[string]any{"m": map[string]any{"a": 1}, "list": []any{1}}

	exprs := []string{
		`int(secrets.key)`,
		`uint(secrets.key)`,
		`double(secrets.key)`,
		`bool(secrets.key)`,
		`duration(secrets.key)`,
		`timestamp(secrets.key)`,
		`timestamp(secrets.key.substring(1))`,
		`request.body.m[secrets.key]`,
		`request.body.m[secrets.key.upperAscii()]`,
		`request.body.m[?secrets.key].value()`,
		`steps[secrets.key]`,
		`vars[secrets.key]`,
		`secrets[secrets.key]`,
		`request.body.list[size(secrets.key)]`,
		`fromJson(secrets.key)`,
		`fromJson('{"a":' + secrets.key + '}')`,
		`urlDecode('%' + secrets.key)`,
		`'x'.matches(secrets.key + '[')`,
		`secrets.key.matches('(' + secrets.key)`,
		`base64.decode(secrets.key)`,
		`'%d'.format([dyn(secrets.key)])`,
		`'%s %s'.format(dyn([secrets.key]))`,
		`('%' + secrets.key).format([1])`,
		`secrets.key.substring(100)`,
		`secrets.key.charAt(100)`,
		`dyn(secrets.key) + 1`,
		`dyn([secrets.key, 1]).sort()`,
		`lists.range(size(secrets.key) - 100)`,
		`[1, 2].slice(size(secrets.key), 1)`,
		`math.bitShiftLeft(1, -size(secrets.key))`,
		`now.getHours(secrets.key)`,
		`fromJson('[' + secrets.key + ']')`,
		`secrets.key.split(',')[5]`,
		`toJson(double(size(secrets.key)) / 0.0)`,
		`dyn([1, secrets.key]).join(',')`,
	}
	for _, src := range exprs {
		t.Run(src, func(t *testing.T) {
			p, err := testCompiler(t).Compile(src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			_, err = p.Eval(context.Background(), in)
			if err == nil {
				t.Fatalf("Eval(%q) succeeded, want error", src)
			}
			msg := err.Error()
			for _, part := range []string{secret, strings.ToUpper(secret), secret[1:], "s3cret", "Tok3n", "Sup3r"} {
				if strings.Contains(msg, part) {
					t.Errorf("Eval(%q) error %q contains %q from the secret", src, msg, part)
				}
			}
			// Even errors.Unwrap must not reach the raw CEL error.
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "s3cret") {
					t.Errorf("wrapped error %q contains the secret", e)
				}
			}
			t.Log(msg)
		})
	}
}

func TestSafeReason(t *testing.T) {
	tests := []struct {
		msg  string
		want string
	}{
		{"no such key: hunter2", "no such key"},
		{"no such overload", "no function overload matches the argument types"},
		{"division by zero", "division by zero"},
		{"division by zero hunter2", "evaluation failed"},
		{"type conversion error from 'string' to 'int'", "type conversion error from string to int"},
		{"type conversion error from 'hunter2' to 'int'", "type conversion error"},
		{"invalid RFC 3339 timestamp \"hunter2\"", "invalid RFC 3339 timestamp"},
		{"index 'hunter2' out of range in list size '3'", "index out of range"},
		{"could not convert \"hunter2\" to int64", "type conversion error"},
		{"insert failed: key hunter2 already exists", "duplicate map key"},
		{"something new: hunter2", "evaluation failed"},
	}
	for _, tt := range tests {
		if got := safeReason(errors.New(tt.msg)); got != tt.want {
			t.Errorf("safeReason(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestEvalCostLimit(t *testing.T) {
	items := make([]any, 2000)
	for i := range items {
		items[i] = int64(i)
	}
	in := Activation{Request: map[string]any{"body": items}}

	// Just under the limit: one pass over the list is fine.
	if _, err := eval(t, `request.body.map(x, x + 1).size()`, in); err != nil {
		t.Fatalf("single pass: %v", err)
	}

	_, err := eval(t, `request.body.map(x, request.body.map(y, x + y)).size()`, in)
	if err == nil {
		t.Fatal("nested comprehension over 2000 items succeeded, want cost limit error")
	}
	if !errors.Is(err, ErrCostLimitExceeded) {
		t.Errorf("error %v does not wrap ErrCostLimitExceeded", err)
	}
	if !strings.Contains(err.Error(), "cost limit of 1000000 exceeded") {
		t.Errorf("error %q does not mention the cost limit", err)
	}
}

func TestEvalCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	for _, src := range []string{`1 + 1`, `lists.range(1000).map(x, x * 2).size()`} {
		p := mustCompile(t, src)
		_, err := p.Eval(ctx, Activation{})
		if err == nil {
			t.Fatalf("Eval(%q) with cancelled context succeeded", src)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Eval(%q) error %v does not wrap context.Canceled", src, err)
		}
	}
}

func TestEvalExpiredDeadline(t *testing.T) {
	items := make([]any, 900)
	for i := range items {
		items[i] = int64(i)
	}
	in := Activation{Request: map[string]any{"body": items}}
	p := mustCompile(t, `request.body.all(x, request.body.all(y, sha256(string(x)) != sha256(string(y)) || x == y))`)

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond) // expire before the first interrupt check
	_, err := p.Eval(ctx, in)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Eval error = %v, want context.DeadlineExceeded", err)
	}
}

func TestEvalInterruptedMidway(t *testing.T) {
	items := make([]any, 900)
	for i := range items {
		items[i] = int64(i)
	}
	in := Activation{Request: map[string]any{"body": items}}
	p := mustCompile(t, `request.body.all(x, request.body.all(y, sha256(string(x)) != sha256(string(y)) || x == y))`)

	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("client went away")
	go func() {
		time.Sleep(5 * time.Millisecond)
		cancel(cause)
	}()
	_, err := p.Eval(ctx, in)
	if err == nil {
		// The machine was fast enough to finish (or hit the cost limit)
		// first; nothing to check.
		t.Skip("evaluation finished before cancellation")
	}
	if errors.Is(err, ErrCostLimitExceeded) {
		t.Skip("cost limit reached before cancellation")
	}
	if !errors.Is(err, cause) {
		t.Fatalf("Eval error = %v, want it to wrap the cancellation cause", err)
	}
}

func TestEvalConcurrent(t *testing.T) {
	p := mustCompile(t, `{'name': request.body.name, 'id': request.params.id, 'u': uuid()}`)
	in := testActivation()
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			var err error
			for j := 0; j < 50 && err == nil; j++ {
				_, err = p.Eval(context.Background(), in)
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// uuid() must not be folded into a constant at compile time.
func TestUUIDFreshPerEval(t *testing.T) {
	p := mustCompile(t, `uuid()`)
	a, err := p.Eval(context.Background(), Activation{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Eval(context.Background(), Activation{})
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("uuid() returned %v twice", a)
	}
	if !uuidPattern.MatchString(a.(string)) {
		t.Errorf("uuid() = %v, not a v4 UUID", a)
	}
}

func TestEvalBool(t *testing.T) {
	env := testCompiler(t)
	in := testActivation()
	tests := []struct {
		src     string
		want    bool
		wantErr string
	}{
		{src: `request.method == 'POST'`, want: true},
		{src: `steps.fetch.body.ok`, want: true},
		{src: `request.body.count < 1`, want: false},
		{src: `request.body.name`, wantErr: "evaluation error: must evaluate to a bool, got string"},
		{src: `request.body.nil`, wantErr: "must evaluate to a bool, got null"},
		{src: `request.body.items`, wantErr: "must evaluate to a bool, got list"},
		{src: `request.body.missing`, wantErr: "no such key"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := env.CompileBool(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.EvalBool(context.Background(), in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EvalBool(%q) = %v, %v; want error containing %q", tt.src, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EvalBool(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
			}
		})
	}
}

func BenchmarkEvalTransform(b *testing.B) {
	p := mustCompile(b, `{'name': request.body.name, 'id': request.params.id}`)
	benchmarkEval(b, p)
}

// benchmarkEval measures p's evaluation against the test activation.
func benchmarkEval(b *testing.B, p *Program) {
	in := testActivation()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCostTrackingOnlyWhereNeeded: expressions whose static cost bound is
// under CostLimit run untracked; any whose work grows with its inputs, or
// that calls a function appapi prices by its arguments, keeps the tracker.
func TestCostTrackingOnlyWhereNeeded(t *testing.T) {
	for src, tracked := range map[string]bool{
		`request.params.id`: false,
		`cel.bind(a, steps.pet.body.animal, {'id': a.id, 'name': a.name, 'adoptable': a.status == 'adoptable'})`: false,
		`{'id': request.params.orderId, 'caller': token.name, 'region': vars.region}`:                            false,
		`steps.pet.status != 200 && has(steps.pet.body.error)`:                                                   false,
		`request.body.map(x, x + 1)`:                    true,
		`request.body.items.exists(i, i.id == 'a')`:     true,
		`'pet ' + request.params.petId`:                 true, // _+_ is priced by appapi
		`request.params.id in ['a', 'b']`:               true,
		`sha256(request.text)`:                          true,
		`request.text.lowerAscii()`:                     true,
		`sets.contains(request.body.a, request.body.b)`: true,
		`request.text.size() > 3`:                       false,
	} {
		if got := mustCompile(t, src).tracked; got != tracked {
			t.Errorf("%s: tracked = %v, want %v", src, got, tracked)
		}
	}
}

// TestIterates: only programs that may iterate are evaluated with the
// context, which cel-go checks for cancellation between iterations.
func TestIterates(t *testing.T) {
	for src, want := range map[string]bool{
		`request.params.id`:                             false,
		`cel.bind(a, request.body, {'x': a.x})`:         false,
		`request.body.map(x, x)`:                        true,
		`cel.bind(a, request.body, a.exists(x, x > 1))`: true,
		`[1, 2].all(x, x > 0)`:                          true,
	} {
		if got := mustCompile(t, src).iterates; got != want {
			t.Errorf("%s: iterates = %v, want %v", src, got, want)
		}
	}
}
