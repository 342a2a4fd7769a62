package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
	"github.com/appapi-dev/appapi/internal/testutil"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// compileEndpoint compiles an AppAPI named name (POST /name) with steps and response.
func compileEndpoint(t testing.TB, name string, steps []v1alpha1.Step, resp v1alpha1.Response) *Endpoint {
	t.Helper()
	r, err := Compile(testutil.Compiler(t), &snapshot.Route{Name: name, Method: "POST", Path: "/" + name, Steps: steps, Response: resp})
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

func run(t testing.TB, r *Endpoint, rt *Runtime, req *request) (*Result, error) {
	t.Helper()
	if req == nil {
		req = &request{Method: "POST", Path: "/" + r.Source.Name}
	}
	return r.run(context.Background(), rt, req, map[string]any{"name": "svc", "id": "t1"})
}

// mustRun runs and fails the test on error.
func mustRun(t testing.TB, r *Endpoint, rt *Runtime, req *request) *Result {
	t.Helper()
	res, err := run(t, r, rt, req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// runError runs, expects a *RunError and checks its status.
func runError(t testing.TB, r *Endpoint, rt *Runtime, req *request, status int) *RunError {
	t.Helper()
	res, err := run(t, r, rt, req)
	if err == nil {
		t.Fatalf("Run = %+v, want an error with status %d", res, status)
	}
	var e *RunError
	if !errors.As(err, &e) {
		t.Fatalf("Run error = %T %v, want *RunError", err, err)
	}
	if e.Status != status {
		t.Fatalf("status = %d (%v), want %d", e.Status, e, status)
	}
	return e
}

func body(expression string) v1alpha1.Response { return v1alpha1.Response{Body: expression} }
