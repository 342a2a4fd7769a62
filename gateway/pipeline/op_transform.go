package pipeline

import (
	"context"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// transformOp computes a value: its output.
type transformOp struct {
	value *expr.Program
}

func init() {
	register("transform", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		value, err := c.program("transform.value", s.Transform.Value)
		return &transformOp{value: value}, err
	})
}

func (op *transformOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	out, err := x.eval(ctx, "transform.value", op.value)
	return out, nil, err
}
