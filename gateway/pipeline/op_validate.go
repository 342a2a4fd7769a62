package pipeline

import (
	"context"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// validateOp checks a value, by default the request body, against a JSON
// Schema. Its output is {valid: true, errors: []}; on failure it returns a
// 400 *RunError with the violations, which onError Continue records as
// {valid: false, errors: [...]}.
type validateOp struct {
	schema *jsonschema.Schema
	// value is nil for the request body.
	value *expr.Program
}

func init() {
	register("validate", func(c *compiler, s *v1alpha1.Step) (operation, error) {
		schema, err := compileSchema(s.Validate.Schema.Raw)
		if err != nil {
			return nil, c.fail(v1alpha1.ReasonInvalidSchema, "validate.schema", "%v", err)
		}
		value, err := c.program("validate.value", s.Validate.Value)
		return &validateOp{schema: schema, value: value}, err
	})
}

func (op *validateOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	v := x.act.Request["body"]
	if op.value != nil {
		var err error
		if v, err = x.eval(ctx, "validate.value", op.value); err != nil {
			return nil, nil, err
		}
	}
	if vs := violations(op.schema, v); len(vs) > 0 {
		return nil, nil, schemaMismatch(vs, "the value does not match the step's schema")
	}
	return map[string]any{"valid": true, "errors": []any{}}, nil, nil
}

func (op *validateOp) outputOnError(e *RunError) any {
	if len(e.Violations) == 0 {
		return e.output()
	}
	return validationOutput(e.Violations)
}

// validationOutput is the output of a value that does not match.
func validationOutput(vs []Violation) map[string]any {
	errs := make([]any, len(vs))
	for i, v := range vs {
		errs[i] = map[string]any{"pointer": v.Pointer, "message": v.Message}
	}
	return map[string]any{"valid": false, "errors": errs}
}
