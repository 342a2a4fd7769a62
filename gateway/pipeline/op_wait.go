package pipeline

import (
	"context"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// waitOp pauses the pipeline, never past the request's deadline.
type waitOp struct {
	duration time.Duration
}

func init() {
	register("wait", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		d, err := c.duration("wait.duration", s.Wait.Duration, 0)
		return &waitOp{duration: d}, err
	})
}

func (op *waitOp) run(ctx context.Context, _ *execution) (any, *Result, error) {
	if op.duration <= 0 {
		return nil, nil, nil
	}
	t := time.NewTimer(op.duration)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil, nil
	case <-ctx.Done():
		return nil, nil, contextError(ctx)
	}
}
