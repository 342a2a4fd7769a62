package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	envOnce sync.Once
	env     *expr.Compiler
	envErr  error
)

func testEnv(t testing.TB) *expr.Compiler {
	t.Helper()
	envOnce.Do(func() { env, envErr = expr.NewCompiler() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return env
}

// compileRoute compiles a route named name (POST /name) with steps and response.
func compileRoute(t testing.TB, name string, steps []v1alpha1.Step, resp v1alpha1.Response) *Route {
	t.Helper()
	r, err := Compile(testEnv(t), &snapshot.Route{Name: name, Method: "POST", Path: "/" + name, Steps: steps, Response: resp})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

func testRuntime() *Runtime {
	return &Runtime{
		Vars:    map[string]string{"region": "eu"},
		Secrets: map[string]string{"apiKey": "s3cr3t-api-key"},
		Now:     func() time.Time { return testNow },
	}
}

func run(t testing.TB, r *Route, rt *Runtime, req *Request) (*Result, error) {
	t.Helper()
	if req == nil {
		req = &Request{Method: "POST", Path: "/" + r.Source.Name}
	}
	return r.Run(context.Background(), rt, req, map[string]any{"name": "svc", "id": "t1"})
}

// mustRun runs and fails the test on error.
func mustRun(t testing.TB, r *Route, rt *Runtime, req *Request) *Result {
	t.Helper()
	res, err := run(t, r, rt, req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// runError runs, expects an *Error and checks its status.
func runError(t testing.TB, r *Route, rt *Runtime, req *Request, status int) *Error {
	t.Helper()
	res, err := run(t, r, rt, req)
	if err == nil {
		t.Fatalf("Run = %+v, want an error with status %d", res, status)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run error = %T %v, want *Error", err, err)
	}
	if e.Status != status {
		t.Fatalf("status = %d (%v), want %d", e.Status, e, status)
	}
	return e
}

func transform(name, value string) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Transform: &v1alpha1.TransformOperation{Value: value}}
}

func body(expression string) v1alpha1.Response { return v1alpha1.Response{Body: expression} }
