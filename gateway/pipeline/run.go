package pipeline

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/upstream"
)

// Defaults of a Runtime whose fields are zero.
const (
	defaultMaxCallDepth               = 8
	defaultMaxUpstreamBodyBytes int64 = 10 << 20
)

// Runtime is what every pipeline of one snapshot shares. Set its fields
// before the first request and do not change them afterwards; it must not
// be copied once used.
type Runtime struct {
	Vars    map[string]string
	Secrets map[string]string
	// HTTPClient sends the requests of http steps. Nil means a shared
	// client with connection pooling.
	HTTPClient *upstream.Client
	// Endpoints are the endpoints a call step can run, by AppAPI name.
	Endpoints map[string]*Endpoint
	// MaxCallDepth bounds nested call steps; 0 means 8.
	MaxCallDepth int
	// MaxUpstreamBodyBytes bounds the response body an http step reads; 0
	// means 10 MiB.
	MaxUpstreamBodyBytes int64
	// Now is the clock; nil means time.Now. It is read once per request.
	Now func() time.Time
	// Observer, if not nil, is told about every step that ran.
	Observer StepObserver

	// Store keeps the records of store steps; nil when the Environment has
	// no datastore, and store steps then fail with 503.
	Store datastore.Store
	// Namespace and Environment scope the records store steps see.
	Namespace, Environment string
	// StoreObserver, if not nil, is told about every operation a store step
	// asked of Store.
	StoreObserver StoreObserver

	// keys caches parsed JWT signing keys by algorithm and secret digest.
	keys sync.Map
}

func (rt *Runtime) now() time.Time {
	if rt.Now != nil {
		return rt.Now()
	}
	return time.Now()
}

func (rt *Runtime) maxCallDepth() int {
	if rt.MaxCallDepth > 0 {
		return rt.MaxCallDepth
	}
	return defaultMaxCallDepth
}

func (rt *Runtime) maxUpstreamBodyBytes() int64 {
	if rt.MaxUpstreamBodyBytes > 0 {
		return rt.MaxUpstreamBodyBytes
	}
	return defaultMaxUpstreamBodyBytes
}

// StepObserver learns about each step that ran, e.g. for per-step duration
// metrics. Skipped steps (when is false) are not reported. op is the
// operation's field name (see v1alpha1.StepOperations). err is the step's
// error, also when onError Continue turned it into an output; it is nil on
// success.
type StepObserver interface {
	StepDone(appAPI, step, op string, d time.Duration, err error)
}

// StoreObserver learns about each datastore operation, e.g. for metrics.
// operation is the store step's operation (insert, get, ...); outcome is
// ok, not_found, conflict, precondition_failed, invalid, too_large,
// unavailable or error.
type StoreObserver interface {
	StoreDone(collection, operation, outcome string, d time.Duration)
}

// Result is the answer a pipeline produced. The caller writes it: Body as
// JSON, unless Body is a string and Headers set a Content-Type that is not
// JSON, in which case the string is the body as is.
type Result struct {
	Status int
	// Headers are the rendered headers of the respond step or the response block.
	Headers http.Header
	// Body is the value to send; nil means no body.
	Body any
	// Redirect, when not empty, is the Location: an absolute http or https
	// URL or an absolute path.
	Redirect string
}

// callKey is the context key of callInfo.
type callKey struct{}

// callInfo is what a pipeline run by a call step inherits from its caller.
type callInfo struct {
	depth int
	now   time.Time
}

// execution is the state of one run of a pipeline.
type execution struct {
	rt     *Runtime
	req    *request
	token  map[string]any
	act    expr.Activation
	depth  int
	output map[string]any
}

// run executes the pipeline for one request. token is {"name": ..., "id":
// ...}, or an empty map when the request is unauthenticated.
//
// Failures a client should hear about are *RunError. When ctx is cancelled
// (the client went away) run returns ctx's error and nobody needs an
// answer; when ctx's deadline passes it returns a 504 *RunError. Any other
// error is a bug, to be answered with 500.
func (e *Endpoint) run(ctx context.Context, rt *Runtime, req *request, token map[string]any) (*Result, error) {
	if rt == nil {
		rt = &Runtime{}
	}
	if token == nil {
		token = map[string]any{}
	}
	info, _ := ctx.Value(callKey{}).(callInfo)
	if info.now.IsZero() {
		info.now = rt.now()
	}
	x := &execution{
		rt:     rt,
		req:    req,
		token:  token,
		depth:  info.depth,
		output: make(map[string]any, len(e.steps)),
	}
	x.act = expr.Activation{
		Request: req.value(),
		Token:   token,
		Vars:    rt.Vars,
		Secrets: rt.Secrets,
		Steps:   x.output,
		Now:     info.now,
	}

	var last any
	for i := range e.steps {
		if err := contextError(ctx); err != nil {
			return nil, err
		}
		st := &e.steps[i]
		start := time.Now()
		ran, out, answer, err := x.step(ctx, st)
		if !ran {
			continue
		}
		if rt.Observer != nil {
			rt.Observer.StepDone(e.name(), st.name, st.opName, time.Since(start), err)
		}
		if err != nil {
			if cerr := contextError(ctx); cerr != nil {
				return nil, cerr
			}
			var re *RunError
			if !errors.As(err, &re) {
				return nil, err
			}
			if re.Step == "" {
				re.Step = st.name
			}
			if st.onError != v1alpha1.OnErrorContinue {
				return nil, re
			}
			out = re.output()
			if c, ok := st.op.(continuedOutput); ok {
				out = c.outputOnError(re)
			}
		} else if answer != nil {
			return answer, nil
		}
		x.output[st.name] = out
		last = out
	}
	if err := contextError(ctx); err != nil {
		return nil, err
	}
	res, err := x.answer(ctx, "response.", &e.response, last)
	if err != nil {
		if cerr := contextError(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return res, nil
}

func (e *Endpoint) name() string {
	if e.Source == nil {
		return ""
	}
	return e.Source.Name
}

// step runs one step. ran is false when the step's condition is false.
func (x *execution) step(ctx context.Context, st *step) (ran bool, out any, answer *Result, err error) {
	if st.when != nil {
		ok, err := st.when.EvalBool(ctx, x.act)
		if err != nil {
			return true, nil, nil, exprError("when", err)
		}
		if !ok {
			return false, nil, nil, nil
		}
	}
	out, answer, err = st.op.run(ctx, x)
	return true, out, answer, err
}

// eval evaluates p, reporting a failure as a *RunError naming field.
func (x *execution) eval(ctx context.Context, field string, p *expr.Program) (any, error) {
	if p == nil {
		return nil, nil
	}
	v, err := p.Eval(ctx, x.act)
	if err != nil {
		return nil, exprError(field, err)
	}
	return v, nil
}

// render renders t, reporting a failure as a *RunError naming field.
func (x *execution) render(ctx context.Context, field string, t *expr.Template, escape func(string) string) (string, error) {
	s, err := t.Render(ctx, x.act, escape)
	if err != nil {
		return "", exprError(field, err)
	}
	return s, nil
}
