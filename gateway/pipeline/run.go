package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// Defaults of a Runtime whose fields are zero.
const (
	DefaultMaxCallDepth               = 8
	DefaultMaxUpstreamBodyBytes int64 = 10 << 20
)

// Request is what expressions see as `request`.
type Request struct {
	Method string
	Path   string
	Params map[string]string
	// Query holds declared parameters parsed to their type, undeclared ones
	// as strings.
	Query map[string]any
	// Headers has lower-case names; multiple values are joined with ", ".
	Headers map[string]string
	// Body is the parsed JSON, a form map (map[string]any of string, or []any
	// for repeated keys), or nil.
	Body any
	// Text is the raw body as text.
	Text string
}

// value is the request as the `request` variable.
func (q *Request) value() map[string]any {
	if q == nil {
		q = &Request{}
	}
	params, query, headers := q.Params, q.Query, q.Headers
	if params == nil {
		params = map[string]string{}
	}
	if query == nil {
		query = map[string]any{}
	}
	if headers == nil {
		headers = map[string]string{}
	}
	return map[string]any{
		"method":  q.Method,
		"path":    q.Path,
		"params":  params,
		"query":   query,
		"headers": headers,
		"body":    q.Body,
		"text":    q.Text,
	}
}

// Runtime is what every pipeline of one snapshot shares. Set its fields
// before the first Run and do not change them afterwards; it must not be
// copied once used.
type Runtime struct {
	Vars    map[string]string
	Secrets map[string]string
	// HTTPClient sends the requests of http steps. Nil means a shared
	// client with connection pooling.
	HTTPClient *http.Client
	// Routes are the routes a call step can run, by AppAPI name.
	Routes map[string]*Route
	// MaxCallDepth bounds nested call steps; 0 means DefaultMaxCallDepth.
	MaxCallDepth int
	// MaxUpstreamBodyBytes bounds the response body an http step reads; 0
	// means DefaultMaxUpstreamBodyBytes.
	MaxUpstreamBodyBytes int64
	// Now is the clock; nil means time.Now. Run reads it once per request.
	Now func() time.Time
	// Observer, if not nil, is told about every step that ran.
	Observer StepObserver

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
	return DefaultMaxCallDepth
}

func (rt *Runtime) maxUpstreamBodyBytes() int64 {
	if rt.MaxUpstreamBodyBytes > 0 {
		return rt.MaxUpstreamBodyBytes
	}
	return DefaultMaxUpstreamBodyBytes
}

// StepObserver learns about each step that ran, e.g. for per-step duration
// metrics. Skipped steps (when is false) are not reported. op is the
// operation's field name: http, transform, respond, validate, jwt, call,
// wait or xmlToJson. err is the step's error, also when onError Continue
// turned it into an output; it is nil on success.
type StepObserver interface {
	StepDone(route, step, op string, d time.Duration, err error)
}

// Result is the answer a pipeline produced. Run does not write it: the
// caller sends Body as JSON, unless Body is a string and Headers set a
// Content-Type that is not JSON, in which case the string is the body as is.
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

// execution is the state of one Run.
type execution struct {
	rt     *Runtime
	route  *Route
	req    *Request
	token  map[string]any
	act    expr.Activation
	depth  int
	output map[string]any
}

// Run executes the route's pipeline for one request. token is
// {"name": ..., "id": ...}, or an empty map when the request is
// unauthenticated.
//
// Failures a client should hear about are *Error. When ctx is cancelled
// (the client went away) Run returns ctx's error and nobody needs an
// answer; when ctx's deadline passes it returns a 504 *Error. Any other
// error is a bug, to be answered with 500.
func (r *Route) Run(ctx context.Context, rt *Runtime, req *Request, token map[string]any) (*Result, error) {
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
		route:  r,
		req:    req,
		token:  token,
		depth:  info.depth,
		output: make(map[string]any, len(r.Steps)),
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
	for i := range r.Steps {
		if err := contextError(ctx); err != nil {
			return nil, err
		}
		st := &r.Steps[i]
		if st.Source == nil {
			return nil, fmt.Errorf("pipeline: step %d of route %s was not compiled", i, r.name())
		}
		name := st.Source.Name
		start := time.Now()
		run, out, result, err := x.step(ctx, st)
		if !run {
			continue
		}
		if rt.Observer != nil {
			rt.Observer.StepDone(r.name(), name, st.Source.Operation(), time.Since(start), err)
		}
		if err != nil {
			if cerr := contextError(ctx); cerr != nil {
				return nil, cerr
			}
			var e *Error
			if !errors.As(err, &e) {
				return nil, err
			}
			if e.Step == "" {
				e.Step = name
			}
			if st.Source.OnError != v1alpha1.OnErrorContinue {
				return nil, e
			}
			if st.Source.Validate != nil && len(e.Violations) > 0 {
				out = validationOutput(e.Violations)
			} else {
				out = map[string]any{"error": e.message()}
			}
		} else if result != nil {
			return result, nil
		}
		x.output[name] = out
		last = out
	}
	if err := contextError(ctx); err != nil {
		return nil, err
	}
	res, err := x.respond(ctx, "", &r.Response, last)
	if err != nil {
		if cerr := contextError(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return res, nil
}

func (r *Route) name() string {
	if r.Source == nil {
		return ""
	}
	return r.Source.Name
}

// step runs one step. run is false when the step's condition is false. A
// respond step returns its result; the others return their output.
func (x *execution) step(ctx context.Context, st *Step) (run bool, out any, result *Result, err error) {
	if st.When != nil {
		ok, err := st.When.EvalBool(ctx, x.act)
		if err != nil {
			return true, nil, nil, exprError("when", err)
		}
		if !ok {
			return false, nil, nil, nil
		}
	}
	src := st.Source
	switch {
	case src.HTTP != nil:
		out, err = x.http(ctx, st)
	case src.Transform != nil:
		out, err = x.eval(ctx, "transform.value", st.Value)
	case src.Respond != nil:
		resp := Response{Status: st.Status, Headers: st.Headers, Body: st.Body, Redirect: st.Redirect}
		result, err = x.respond(ctx, src.Name, &resp, nil)
	case src.Validate != nil:
		out, err = x.validate(ctx, st)
	case src.JWT != nil:
		out, err = x.jwt(ctx, st)
	case src.Call != nil:
		out, err = x.call(ctx, st)
	case src.Wait != nil:
		err = wait(ctx, st.Timeout)
	case src.XMLToJSON != nil:
		out, err = x.xmlToJSON(ctx, st)
	default:
		err = fmt.Errorf("pipeline: step %s has no operation", src.Name)
	}
	return true, out, result, err
}

// eval evaluates p, reporting a failure as an *Error naming field.
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

// render renders t, reporting a failure as an *Error naming field.
func (x *execution) render(ctx context.Context, field string, t *expr.Template, escape func(string) string) (string, error) {
	s, err := t.Render(ctx, x.act, escape)
	if err != nil {
		return "", exprError(field, err)
	}
	return s, nil
}

// respond builds the result of a respond step (step is its name) or of the
// response block (step is ""), whose body defaults to def.
func (x *execution) respond(ctx context.Context, step string, resp *Response, def any) (*Result, error) {
	field := "response."
	if step != "" || resp.Redirect != nil {
		// Only the response block of an answer that is not a redirect
		// defaults its body to the last step's output: a redirect has no
		// body, and must not leak what the steps computed.
		def = nil
	}
	if step != "" {
		field = "respond."
	}
	res := &Result{Status: resp.Status, Body: def}
	if res.Status == 0 {
		res.Status = http.StatusOK
	}
	if len(resp.Headers) > 0 {
		res.Headers = make(http.Header, len(resp.Headers))
		for _, name := range slices.Sorted(maps.Keys(resp.Headers)) {
			v, err := x.render(ctx, fmt.Sprintf("%sheaders[%s]", field, name), resp.Headers[name], nil)
			if err != nil {
				return nil, err
			}
			if !validHeaderName(name) || !validHeaderValue(v) {
				return nil, newError(http.StatusInternalServerError, TitleInvalidHeader,
					"the response header %q is not a valid header (a line break or control character in its value?)", name)
			}
			res.Headers.Set(name, v)
		}
	}
	if resp.Body != nil {
		v, err := x.eval(ctx, field+"body", resp.Body)
		if err != nil {
			return nil, err
		}
		res.Body = v
	}
	if resp.Redirect != nil {
		loc, err := x.render(ctx, field+"redirect", resp.Redirect, nil)
		if err != nil {
			return nil, err
		}
		if !validRedirect(loc) {
			return nil, newError(http.StatusInternalServerError, TitleInvalidRedirect,
				"the redirect is not an absolute http or https URL or a path starting with a single /")
		}
		res.Redirect = loc
		if resp.Status == 0 {
			res.Status = http.StatusFound
		}
	}
	return res, nil
}

// validRedirect accepts absolute http(s) URLs without user info, and
// absolute paths. "//host" and "/\host" are refused: browsers read both as
// a URL on another host.
func validRedirect(s string) bool {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	if s[0] == '/' {
		return len(s) == 1 || (s[1] != '/' && s[1] != '\\')
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validHeaderValue refuses control characters other than tab, which would
// end the header early (response splitting) or be refused by net/http.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// wait pauses for d, or until ctx is done.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return contextError(ctx)
	}
}

// call runs another route with the value of the step's input as its body.
func (x *execution) call(ctx context.Context, st *Step) (any, error) {
	name := st.Source.Call.AppAPI
	target := x.rt.Routes[name]
	if target == nil {
		return nil, newError(http.StatusInternalServerError, TitleCallFailed, "AppAPI %q is not served by this gateway", name)
	}
	depth := x.depth + 1
	if depth > x.rt.maxCallDepth() {
		return nil, newError(http.StatusInternalServerError, TitleCallDepthExceeded,
			"more than %d nested calls", x.rt.maxCallDepth())
	}
	input, err := x.eval(ctx, "call.input", st.Value)
	if err != nil {
		return nil, err
	}
	if target.RequestSchema != nil {
		if v := Violations(target.RequestSchema, input); len(v) > 0 {
			e := newError(http.StatusBadRequest, TitleSchemaMismatch, "the input does not match the requestSchema of AppAPI %q", name)
			e.Violations = v
			return nil, e
		}
	}
	sub := &Request{Body: input, Headers: x.req.headers()}
	if target.Source != nil {
		sub.Method, sub.Path = target.Source.Method, target.Source.Path
	}
	if input != nil {
		if text, err := encodeJSON(input); err == nil {
			sub.Text = string(text)
		}
	}
	cctx := context.WithValue(ctx, callKey{}, callInfo{depth: depth, now: x.act.Now})
	res, err := target.Run(cctx, x.rt, sub, x.token)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return nil, err
		}
		w := *e
		if w.calledAppAPI == "" {
			where := fmt.Sprintf("AppAPI %q", name)
			if e.Step != "" {
				where += fmt.Sprintf(", step %q", e.Step)
			}
			w.Detail = where + ": " + e.Detail
			w.calledAppAPI = name
		}
		w.Step = st.Source.Name
		return nil, &w
	}
	return res.Body, nil
}

func (q *Request) headers() map[string]string {
	if q == nil {
		return nil
	}
	return q.Headers
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
