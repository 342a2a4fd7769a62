// Package pipeline turns an AppAPI's steps into compiled programs and runs
// them. The controllers compile every AppAPI with it before accepting one,
// and the gateway compiles the snapshot with it before serving, so an
// endpoint the controllers accepted is one the gateway can run.
package pipeline

import (
	"context"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Endpoint is a compiled AppAPI: what the gateway serves at one method and
// path, and what call steps run.
type Endpoint struct {
	// Source is the route of the snapshot it was compiled from.
	Source *snapshot.Route
	Path   pathtemplate.Template

	query         []queryParameter
	requestSchema *jsonschema.Schema
	steps         []step
	response      response
}

// Compile checks and compiles one route. It checks what needs no knowledge of
// the rest of the Environment; references to tokens, secrets and other
// AppAPIs are checked by the caller. Its error is a *CompileError.
func Compile(c *expr.Compiler, r *snapshot.Route) (*Endpoint, error) {
	comp := compiler{expr: c}
	out := &Endpoint{Source: r}
	var err error
	if out.Path, err = pathtemplate.Parse(r.Path); err != nil {
		return nil, &CompileError{Reason: v1alpha1.ReasonInvalidSpec, Field: "spec.path", Message: err.Error()}
	}
	for i, q := range r.Query {
		p, err := compileQueryParameter(q)
		if err != nil {
			return nil, &CompileError{Reason: v1alpha1.ReasonInvalidSpec, Field: fmt.Sprintf("spec.query[%d].default", i), Message: err.Error()}
		}
		out.query = append(out.query, p)
	}
	if r.Authentication.Mode == v1alpha1.AuthenticationNone && len(r.Authentication.AllowedTokens) > 0 {
		return nil, &CompileError{Reason: v1alpha1.ReasonInvalidSpec, Field: "spec.authentication.allowedTokens",
			Message: "has no effect when mode is None: set mode to Token or remove allowedTokens"}
	}
	if len(r.RequestSchema) > 0 {
		if out.requestSchema, err = compileSchema(r.RequestSchema); err != nil {
			return nil, &CompileError{Reason: v1alpha1.ReasonInvalidSchema, Field: "spec.requestSchema", Message: err.Error()}
		}
	}
	for i := range r.Steps {
		comp.prefix = fmt.Sprintf("spec.steps[%d]", i)
		st, err := comp.step(&r.Steps[i])
		if err != nil {
			return nil, err
		}
		out.steps = append(out.steps, st)
		comp.earlier = append(comp.earlier, r.Steps[i].Name)
	}
	comp.prefix = "spec.response"
	resp := &r.Response
	if out.response, err = comp.response("", resp.Status, resp.Headers, resp.Body, resp.Redirect); err != nil {
		return nil, err
	}
	return out, nil
}

// Serve answers one request that was routed to the endpoint: it decodes the
// body by its Content-Type, checks it against the requestSchema, and runs
// the pipeline. A request that does not fit is a 400 *RunError; for the
// other errors, see run.
func (e *Endpoint) Serve(ctx context.Context, rt *Runtime, in *Incoming, token map[string]any) (*Result, error) {
	req, err := newRequest(in)
	if err != nil {
		return nil, err
	}
	res, refused, err := e.serve(ctx, rt, req, token)
	if len(refused) > 0 {
		return nil, schemaMismatch(refused, "the request body does not match the AppAPI's requestSchema")
	}
	return res, err
}

// serve runs the pipeline for a request whose body matches the
// requestSchema, and otherwise returns how it does not match, for the
// caller to word: the HTTP side and call steps both come in here.
func (e *Endpoint) serve(ctx context.Context, rt *Runtime, req *request, token map[string]any) (res *Result, refused []Violation, err error) {
	if refused = violations(e.requestSchema, req.body()); len(refused) > 0 {
		return nil, refused, nil
	}
	res, err = e.run(ctx, rt, req, token)
	return res, nil, err
}
