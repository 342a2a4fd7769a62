package pipeline

import (
	"context"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// respondOp ends the pipeline early with an answer or a redirect.
type respondOp struct {
	response response
}

func init() {
	register("respond", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		r := s.Respond
		resp, err := c.response("respond", r.Status, r.Headers, r.Body, r.Redirect)
		return &respondOp{response: resp}, err
	})
}

func (op *respondOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	res, err := x.answer(ctx, "respond.", &op.response, nil)
	return nil, res, err
}
