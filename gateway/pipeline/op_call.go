package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// callOp runs another AppAPI's endpoint with the value of input as its
// request body. Its output is that endpoint's response body.
type callOp struct {
	appAPI string
	input  *expr.Program
}

func init() {
	register("call", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		input, err := c.program("call.input", s.Call.Input)
		return &callOp{appAPI: s.Call.AppAPI, input: input}, err
	})
}

func (op *callOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	target := x.rt.Endpoints[op.appAPI]
	if target == nil {
		return nil, nil, newError(http.StatusInternalServerError, TitleCallFailed, "AppAPI %q is not served by this gateway", op.appAPI)
	}
	depth := x.depth + 1
	if depth > x.rt.maxCallDepth() {
		return nil, nil, newError(http.StatusInternalServerError, TitleCallDepthExceeded,
			"more than %d nested calls", x.rt.maxCallDepth())
	}
	input, err := x.eval(ctx, "call.input", op.input)
	if err != nil {
		return nil, nil, err
	}
	sub := &request{Body: input, Headers: x.req.headers()}
	if target.Source != nil {
		sub.Method, sub.Path = target.Source.Method, target.Source.Path
	}
	if input != nil {
		if text, err := encodeJSON(input); err == nil {
			sub.Text = string(text)
		}
	}
	cctx := context.WithValue(ctx, callKey{}, callInfo{depth: depth, now: x.act.Now})
	res, refused, err := target.serve(cctx, x.rt, sub, x.token)
	if len(refused) > 0 {
		return nil, nil, schemaMismatch(refused, "the input does not match the requestSchema of AppAPI %q", op.appAPI)
	}
	if err != nil {
		return nil, nil, op.attribute(err)
	}
	return res.Body, nil, nil
}

// attribute words a failure of the called endpoint as this step's: the
// detail says which AppAPI and step failed, once, however deep the calls.
func (op *callOp) attribute(err error) error {
	var e *RunError
	if !errors.As(err, &e) {
		return err
	}
	w := *e
	if w.calledAppAPI == "" {
		where := fmt.Sprintf("AppAPI %q", op.appAPI)
		if e.Step != "" {
			where += fmt.Sprintf(", step %q", e.Step)
		}
		w.Detail = where + ": " + e.Detail
		w.calledAppAPI = op.appAPI
	}
	// The step that failed here is the call step, which run names.
	w.Step = ""
	return &w
}
