package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

func TestTransformAndVariables(t *testing.T) {
	r := compileEndpoint(t, "t", []v1alpha1.Step{
		testutil.TransformStep("a", `{'id': request.params.id, 'page': request.query.page, 'h': request.headers['x-h'],
			'n': request.body.n + 1.0, 'text': request.text, 'method': request.method, 'path': request.path,
			'token': token.name, 'region': vars.region, 'now': now, 'secretLen': size(secrets.apiKey)}`),
		testutil.TransformStep("b", `steps.a.n * 2.0`),
	}, body(`{'a': steps.a, 'b': steps.b}`))
	req := &request{
		Method: "POST", Path: "/t/7",
		Params:  map[string]string{"id": "7"},
		Query:   map[string]any{"page": int64(2)},
		Headers: map[string]string{"x-h": "v"},
		Body:    map[string]any{"n": float64(1)},
		Text:    `{"n":1}`,
	}
	res := mustRun(t, r, testRuntime(), req)
	want := map[string]any{
		"a": map[string]any{"id": "7", "page": int64(2), "h": "v", "n": float64(2), "text": `{"n":1}`,
			"method": "POST", "path": "/t/7", "token": "svc", "region": "eu", "now": testNow, "secretLen": int64(14)},
		"b": float64(4),
	}
	if res.Status != 200 || res.Redirect != "" || res.Headers != nil {
		t.Errorf("result = %+v", res)
	}
	if diff := cmp.Diff(want, res.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestResponseDefaults(t *testing.T) {
	t.Run("last executed step", func(t *testing.T) {
		r := compileEndpoint(t, "d", []v1alpha1.Step{
			testutil.TransformStep("a", `1`),
			testutil.TransformStep("b", `'two'`),
			{Name: "c", When: `false`, Transform: &v1alpha1.TransformOperation{Value: `3`}},
		}, v1alpha1.Response{})
		res := mustRun(t, r, testRuntime(), nil)
		if res.Status != 200 || res.Body != "two" {
			t.Errorf("result = %+v, want 200 two", res)
		}
	})
	t.Run("no steps", func(t *testing.T) {
		r := compileEndpoint(t, "d", nil, v1alpha1.Response{})
		res := mustRun(t, r, testRuntime(), nil)
		if res.Status != 200 || res.Body != nil {
			t.Errorf("result = %+v, want 200 and no body", res)
		}
	})
	t.Run("status and headers", func(t *testing.T) {
		status := int32(201)
		r := compileEndpoint(t, "d", []v1alpha1.Step{testutil.TransformStep("a", `'x'`)}, v1alpha1.Response{
			Status:  &status,
			Headers: map[string]string{"content-type": "text/plain", "X-Region": "{{ vars.region }}-{{ steps.a }}"},
		})
		res := mustRun(t, r, testRuntime(), nil)
		if res.Status != 201 || res.Body != "x" || res.Headers.Get("Content-Type") != "text/plain" || res.Headers.Get("X-Region") != "eu-x" {
			t.Errorf("result = %+v", res)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		r := compileEndpoint(t, "d", nil, v1alpha1.Response{Redirect: `https://example.com/next?id={{ request.params.id }}`})
		res := mustRun(t, r, testRuntime(), &request{Params: map[string]string{"id": "a b"}})
		if res.Status != 302 || res.Redirect != "https://example.com/next?id=a b" || res.Body != nil {
			t.Errorf("result = %+v", res)
		}
	})
	t.Run("a redirect after steps sends none of their output", func(t *testing.T) {
		r := compileEndpoint(t, "d", []v1alpha1.Step{testutil.TransformStep("t", `{'internal': 'http://10.0.0.5/admin', 'to': 'https://example.org'}`)},
			v1alpha1.Response{Redirect: `{{ steps.t.to }}`})
		res := mustRun(t, r, testRuntime(), &request{})
		if res.Status != 302 || res.Redirect != "https://example.org" || res.Body != nil {
			t.Errorf("result = %+v, want a 302 without a body", res)
		}
	})
	t.Run("bad header value", func(t *testing.T) {
		r := compileEndpoint(t, "d", nil, v1alpha1.Response{Headers: map[string]string{"X-A": "{{ request.body }}"}})
		e := runError(t, r, testRuntime(), &request{Body: "a\r\nSet-Cookie: x=1"}, 500)
		if e.Title != TitleInvalidHeader || strings.Contains(e.Detail, "Set-Cookie") {
			t.Errorf("error = %v", e)
		}
	})
}

func TestWhenSkips(t *testing.T) {
	r := compileEndpoint(t, "w", []v1alpha1.Step{
		{Name: "a", When: `request.body.run`, Transform: &v1alpha1.TransformOperation{Value: `'ran'`}},
		testutil.TransformStep("b", `{'has': has(steps.a), 'n': steps.size()}`),
	}, v1alpha1.Response{})
	res := mustRun(t, r, testRuntime(), &request{Body: map[string]any{"run": false}})
	if diff := cmp.Diff(map[string]any{"has": false, "n": int64(0)}, res.Body); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	res = mustRun(t, r, testRuntime(), &request{Body: map[string]any{"run": true}})
	if diff := cmp.Diff(map[string]any{"has": true, "n": int64(1)}, res.Body); diff != "" {
		t.Errorf("run (-want +got):\n%s", diff)
	}
	// A condition that is not a bool is an error, not false.
	e := runError(t, r, testRuntime(), &request{Body: map[string]any{"run": "yes"}}, 500)
	if e.Step != "a" || e.Title != TitleExpressionFailed || !strings.Contains(e.Detail, "when:") {
		t.Errorf("error = %+v", e)
	}
}

func TestExpressionError(t *testing.T) {
	r := compileEndpoint(t, "e", []v1alpha1.Step{
		testutil.TransformStep("ok", `1`),
		testutil.TransformStep("broken", `request.body.missing + secrets.apiKey`),
	}, v1alpha1.Response{})
	e := runError(t, r, testRuntime(), &request{Body: map[string]any{"present": "value-1"}}, 500)
	if e.Step != "broken" || e.Title != TitleExpressionFailed || !strings.HasPrefix(e.Detail, "transform.value: ") ||
		!strings.Contains(e.Detail, "no such key") {
		t.Errorf("error = %+v", e)
	}
	if msg := e.Error(); !strings.Contains(msg, `step "broken"`) || strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "value-1") {
		t.Errorf("Error() = %q", msg)
	}

	t.Run("response block", func(t *testing.T) {
		r := compileEndpoint(t, "e", nil, body(`int('x')`))
		e := runError(t, r, testRuntime(), nil, 500)
		if e.Step != "" || !strings.HasPrefix(e.Detail, "response.body: ") {
			t.Errorf("error = %+v", e)
		}
	})
}

func TestOnErrorContinue(t *testing.T) {
	r := compileEndpoint(t, "c", []v1alpha1.Step{
		{Name: "bad", OnError: v1alpha1.OnErrorContinue, Transform: &v1alpha1.TransformOperation{Value: `1 / request.body.zero`}},
		testutil.TransformStep("after", `steps.bad`),
	}, v1alpha1.Response{})
	res := mustRun(t, r, testRuntime(), &request{Body: map[string]any{"zero": int64(0)}})
	m, ok := res.Body.(map[string]any)
	if !ok || len(m) != 1 {
		t.Fatalf("body = %#v, want {error}", res.Body)
	}
	msg, _ := m["error"].(string)
	if !strings.HasPrefix(msg, TitleExpressionFailed+": ") || !strings.Contains(msg, "division by zero") {
		t.Errorf("error = %q", msg)
	}
}

func TestRespond(t *testing.T) {
	status := func(s int32) *int32 { return &s }
	t.Run("body ends the pipeline", func(t *testing.T) {
		r := compileEndpoint(t, "r", []v1alpha1.Step{
			testutil.TransformStep("a", `'A'`),
			{Name: "early", When: `request.body.early`, Respond: &v1alpha1.RespondOperation{
				Status: status(202), Body: `{'from': steps.a}`, Headers: map[string]string{"X-Step": "early"},
			}},
			testutil.TransformStep("never", `int('not a number')`),
		}, body(`'late'`))
		res := mustRun(t, r, testRuntime(), &request{Body: map[string]any{"early": true}})
		if res.Status != 202 || res.Headers.Get("X-Step") != "early" || res.Redirect != "" {
			t.Errorf("result = %+v", res)
		}
		if diff := cmp.Diff(map[string]any{"from": "A"}, res.Body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		e := runError(t, r, testRuntime(), &request{Body: map[string]any{"early": false}}, 500)
		if e.Step != "never" {
			t.Errorf("error = %v, want step never to fail", e)
		}
	})
	t.Run("no body", func(t *testing.T) {
		r := compileEndpoint(t, "r", []v1alpha1.Step{
			testutil.TransformStep("a", `'A'`),
			{Name: "done", Respond: &v1alpha1.RespondOperation{Status: status(204)}},
		}, v1alpha1.Response{})
		res := mustRun(t, r, testRuntime(), nil)
		if res.Status != 204 || res.Body != nil {
			t.Errorf("result = %+v, want 204 and no body (not the last output)", res)
		}
	})
	redirect := func(t *testing.T, target string, st *int32) (*Endpoint, *request) {
		r := compileEndpoint(t, "r", []v1alpha1.Step{
			{Name: "go", Respond: &v1alpha1.RespondOperation{Status: st, Redirect: `{{ request.body.to }}`}},
		}, v1alpha1.Response{})
		return r, &request{Body: map[string]any{"to": target}}
	}
	t.Run("redirect default 302", func(t *testing.T) {
		r, req := redirect(t, "https://example.com/a?b=c d", nil)
		res := mustRun(t, r, testRuntime(), req)
		if res.Status != http.StatusFound || res.Redirect != "https://example.com/a?b=c d" || res.Body != nil {
			t.Errorf("result = %+v", res)
		}
	})
	t.Run("redirect 307 to a path", func(t *testing.T) {
		r, req := redirect(t, "/next/page", status(307))
		res := mustRun(t, r, testRuntime(), req)
		if res.Status != http.StatusTemporaryRedirect || res.Redirect != "/next/page" {
			t.Errorf("result = %+v", res)
		}
	})
	for _, bad := range []string{"", "//evil.example", `/\evil.example`, "javascript:alert(1)", "ftp://example.com/x",
		"relative/path", "https://user:pw@example.com/", "https:///nohost", "/a\r\nSet-Cookie: x=1"} {
		t.Run("invalid redirect "+bad, func(t *testing.T) {
			r, req := redirect(t, bad, nil)
			e := runError(t, r, testRuntime(), req, 500)
			if e.Title != TitleInvalidRedirect || e.Step != "go" {
				t.Errorf("error = %+v", e)
			}
		})
	}
}

func TestValidRedirect(t *testing.T) {
	for s, want := range map[string]bool{
		"/": true, "/a/b?c=d#e": true, "http://h/": true, "HTTPS://h.example/x": true, "https://h:8443": true,
		"//h": false, "/\\h": false, "h/x": false, "mailto:a@b": false, "data:text/html,x": false, "https:h": false,
	} {
		if got := validRedirect(s); got != want {
			t.Errorf("validRedirect(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCall(t *testing.T) {
	rt := testRuntime()
	c := compileEndpoint(t, "c", []v1alpha1.Step{
		testutil.TransformStep("x", `{'c': request.body.n * 2.0, 'method': request.method, 'path': request.path,
			'text': request.text, 'hdr': request.headers['x-h'], 'token': token.name, 'now': now}`),
	}, v1alpha1.Response{})
	b := compileEndpoint(t, "b", []v1alpha1.Step{
		{Name: "toC", Call: &v1alpha1.CallOperation{AppAPI: "c", Input: `{'n': request.body.n + 1.0}`}},
	}, body(`{'b': steps.toC}`))
	a := compileEndpoint(t, "a", []v1alpha1.Step{
		{Name: "toB", Call: &v1alpha1.CallOperation{AppAPI: "b", Input: `request.body`}},
	}, body(`steps.toB`))
	rt.Endpoints = map[string]*Endpoint{"a": a, "b": b, "c": c}
	res := mustRun(t, a, rt, &request{Method: "GET", Body: map[string]any{"n": float64(1)}, Headers: map[string]string{"x-h": "hv"}})
	want := map[string]any{"b": map[string]any{"c": float64(4), "method": "POST", "path": "/c", "text": `{"n":2}`,
		"hdr": "hv", "token": "svc", "now": testNow}}
	if diff := cmp.Diff(want, res.Body); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}

	t.Run("error in called route", func(t *testing.T) {
		fail := compileEndpoint(t, "fail", []v1alpha1.Step{testutil.TransformStep("boom", `int('x')`)}, v1alpha1.Response{})
		outer := compileEndpoint(t, "outer", []v1alpha1.Step{{Name: "inner", Call: &v1alpha1.CallOperation{AppAPI: "fail"}}}, v1alpha1.Response{})
		rt := testRuntime()
		rt.Endpoints = map[string]*Endpoint{"fail": fail, "outer": outer}
		e := runError(t, outer, rt, nil, 500)
		if e.Step != "inner" || e.Title != TitleExpressionFailed || !strings.HasPrefix(e.Detail, `AppAPI "fail", step "boom": `) {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("missing route", func(t *testing.T) {
		r := compileEndpoint(t, "m", []v1alpha1.Step{{Name: "x", Call: &v1alpha1.CallOperation{AppAPI: "nope"}}}, v1alpha1.Response{})
		e := runError(t, r, testRuntime(), nil, 500)
		if e.Title != TitleCallFailed || e.Step != "x" {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("depth limit", func(t *testing.T) {
		self := compileEndpoint(t, "self", []v1alpha1.Step{
			testutil.TransformStep("count", `has(request.body.n) ? request.body.n + 1 : 1`),
			{Name: "again", Call: &v1alpha1.CallOperation{AppAPI: "self", Input: `{'n': steps.count}`}},
		}, v1alpha1.Response{})
		rt := testRuntime()
		rt.MaxCallDepth = 3
		rt.Endpoints = map[string]*Endpoint{"self": self}
		e := runError(t, self, rt, &request{Body: map[string]any{}}, 500)
		if e.Title != TitleCallDepthExceeded || e.Step != "again" || !strings.HasPrefix(e.Detail, `AppAPI "self", step "again": more than 3`) {
			t.Errorf("error = %+v", e)
		}
		// The default limit applies when MaxCallDepth is 0.
		rt.MaxCallDepth = 0
		obs := &recorder{}
		rt.Observer = obs
		e = runError(t, self, rt, &request{Body: map[string]any{}}, 500)
		if e.Title != TitleCallDepthExceeded {
			t.Errorf("error = %+v", e)
		}
		if n := obs.count("count"); n != defaultMaxCallDepth+1 {
			t.Errorf("count ran %d times, want %d", n, defaultMaxCallDepth+1)
		}
	})
	t.Run("called route's request schema", func(t *testing.T) {
		strict, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: "strict", Method: "POST", Path: "/strict",
			RequestSchema: json.RawMessage(`{"type": "object", "properties": {"n": {"type": "number"}}}`)})
		if err != nil {
			t.Fatal(err)
		}
		caller := compileEndpoint(t, "caller", []v1alpha1.Step{{Name: "x", Call: &v1alpha1.CallOperation{AppAPI: "strict", Input: `{'n': 'text'}`}}}, v1alpha1.Response{})
		rt := testRuntime()
		rt.Endpoints = map[string]*Endpoint{"strict": strict}
		e := runError(t, caller, rt, nil, 400)
		if diff := cmp.Diff([]Violation{{Pointer: "/n", Message: "got string, want number"}}, e.Violations); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
	})
}

func TestWait(t *testing.T) {
	r := compileEndpoint(t, "w", []v1alpha1.Step{
		{Name: "pause", Wait: &v1alpha1.WaitOperation{Duration: "1ms"}},
		testutil.TransformStep("after", `'done'`),
	}, v1alpha1.Response{})
	if res := mustRun(t, r, testRuntime(), nil); res.Body != "done" {
		t.Errorf("body = %v", res.Body)
	}

	long := compileEndpoint(t, "w", []v1alpha1.Step{{Name: "pause", Wait: &v1alpha1.WaitOperation{Duration: "1h"}}}, v1alpha1.Response{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := long.run(ctx, testRuntime(), &request{}, nil)
	var e *RunError
	if !errors.As(err, &e) || e.Status != http.StatusGatewayTimeout || e.Title != TitleRequestTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want 504 request timeout", err)
	}
}

func TestContextCancel(t *testing.T) {
	r := compileEndpoint(t, "x", []v1alpha1.Step{{Name: "pause", Wait: &v1alpha1.WaitOperation{Duration: "1h"}}}, v1alpha1.Response{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.run(ctx, testRuntime(), &request{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.run(ctx, testRuntime(), &request{}, nil)
		done <- err
	}()
	cancel()
	err := <-done
	var e *RunError
	if !errors.Is(err, context.Canceled) || errors.As(err, &e) {
		t.Errorf("Run cancelled while waiting = %v, want the bare context.Canceled", err)
	}
}

// recorder is a StepObserver.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) StepDone(route, step, op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := route + "/" + step + "/" + op
	if err != nil {
		s += "/error"
	}
	if d < 0 {
		s += "/negative"
	}
	r.calls = append(r.calls, s)
}

func (r *recorder) count(step string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.Split(c, "/")[1] == step {
			n++
		}
	}
	return n
}

func TestObserver(t *testing.T) {
	r := compileEndpoint(t, "o", []v1alpha1.Step{
		testutil.TransformStep("a", `1`),
		{Name: "skipped", When: `false`, Transform: &v1alpha1.TransformOperation{Value: `2`}},
		{Name: "bad", OnError: v1alpha1.OnErrorContinue, Transform: &v1alpha1.TransformOperation{Value: `int('x')`}},
		{Name: "x", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: `'<a/>'`}},
	}, v1alpha1.Response{})
	rt := testRuntime()
	obs := &recorder{}
	rt.Observer = obs
	mustRun(t, r, rt, nil)
	want := []string{"o/a/transform", "o/bad/transform/error", "o/x/xmlToJson"}
	if diff := cmp.Diff(want, obs.calls); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestNilRuntimeAndRequest(t *testing.T) {
	r := compileEndpoint(t, "n", []v1alpha1.Step{testutil.TransformStep("a", `[request.params.size(), request.query.size(), request.headers.size(), vars.size(), token.size()]`)}, v1alpha1.Response{})
	res, err := r.run(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{int64(0), int64(0), int64(0), int64(0), int64(0)}, res.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func BenchmarkRunTransform(b *testing.B) {
	r := compileEndpoint(b, "bench", []v1alpha1.Step{
		testutil.TransformStep("x", `{'id': request.params.id, 'n': request.body.items.size(), 'first': request.body.items[0].price, 'region': vars.region}`),
	}, body(`steps.x`))
	rt := testRuntime()
	req := &request{
		Method: "POST", Path: "/bench/1", Params: map[string]string{"id": "1"},
		Body: map[string]any{"items": []any{map[string]any{"price": 1.5}, map[string]any{"price": 2.5}}},
	}
	ctx := context.Background()
	token := map[string]any{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.run(ctx, rt, req, token); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNumbersAreTheSameWhereverTheyCameFrom: an integer from an upstream
// adds to an integer as one from the request body does.
func TestNumbersAreTheSameWhereverTheyCameFrom(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": 41}`)
	}))
	defer srv.Close()
	r := compileEndpoint(t, "n", []v1alpha1.Step{testutil.HTTPStep("up", v1alpha1.HTTPOperation{URL: srv.URL})},
		body("{'next': steps.up.body.id + 1, 'sum': steps.up.body.id + request.body.n}"))
	body, _ := decodeJSON([]byte(`{"n": 1}`))
	res := mustRun(t, r, testRuntime(), &request{Body: body})
	if got := res.Body.(map[string]any); got["next"] != int64(42) || got["sum"] != int64(42) {
		t.Fatalf("result = %v", got)
	}
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		in, wantErr string
	}{
		{in: `{"a": 1}`}, {in: `[1, 2.5]`}, {in: `"x"`},
		{in: `{"a": 1}}`, wantErr: "data after the JSON value"},
		{in: `{"secret": "hunter2"`, wantErr: "unexpected end of input"},
		{in: `{"secret": hunter2}`, wantErr: "syntax error at byte"},
	} {
		_, err := decodeJSON([]byte(tc.in))
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("decodeJSON(%s) = %v, want %q", tc.in, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("decodeJSON(%s) quotes the input: %v", tc.in, err)
		}
	}
}

func TestHeaderNamesAreCheckedWhenCompiled(t *testing.T) {
	for _, tc := range []struct {
		step v1alpha1.Step
		resp v1alpha1.Response
	}{
		{resp: v1alpha1.Response{Headers: map[string]string{"X Bad": "1"}}},
		{step: v1alpha1.Step{Name: "s", Respond: &v1alpha1.RespondOperation{Headers: map[string]string{"X:Bad": "1"}}}},
		{step: testutil.HTTPStep("s", v1alpha1.HTTPOperation{URL: "http://x.example/", Headers: map[string]string{"Bad\n": "1"}})},
	} {
		r := &snapshot.Route{Name: "h", Method: "GET", Path: "/h", Response: tc.resp,
			Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}}
		if tc.step.Name != "" {
			r.Steps = []v1alpha1.Step{tc.step}
		}
		_, err := Compile(testutil.Compiler(t), r)
		var perr *CompileError
		if !errors.As(err, &perr) || perr.Reason != v1alpha1.ReasonInvalidSpec || !strings.Contains(perr.Message, "not a valid header name") {
			t.Errorf("Compile() = %v, want InvalidSpec for the header name", err)
		}
	}
}
