package pipeline

import (
	"context"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// step is a compiled step: its name, its condition, what it does on error,
// and its one operation.
type step struct {
	name    string
	when    *expr.Program
	onError v1alpha1.OnError
	op      operation
	// opName is the operation's field name in v1alpha1.Step, e.g. http.
	opName string
}

// operation is one compiled operation of a step. Each lives in its own
// op_<name>.go file, which compiles its expressions once and runs them.
type operation interface {
	// run performs the operation. The operation that answers the request
	// (respond) returns the answer; the others return their output.
	run(ctx context.Context, x *execution) (output any, answer *Result, err error)
}

// continuedOutput is implemented by an operation whose failure with onError
// Continue records more than {"error": message}.
type continuedOutput interface {
	outputOnError(e *RunError) any
}

// operationCompiler compiles the operation s sets.
type operationCompiler func(c *compiler, s *v1alpha1.Step) (operation, error)

// operationCompilers are the compilers of the operations, by the field name
// of the operation in v1alpha1.Step.
var operationCompilers = map[string]operationCompiler{}

// register adds the compiler of an operation. Each operation file registers
// its own, so that adding an operation adds one file.
func register(name string, compile operationCompiler) {
	if _, dup := operationCompilers[name]; dup {
		panic("pipeline: operation " + name + " registered twice")
	}
	operationCompilers[name] = compile
}

func (c *compiler) step(s *v1alpha1.Step) (step, error) {
	out := step{name: s.Name, onError: s.OnError}
	ops := s.Operations()
	if len(ops) != 1 {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, "", "step %q sets %d operations; set exactly one", s.Name, len(ops))
	}
	out.opName = ops[0]
	var err error
	if out.when, err = c.condition("when", s.When); err != nil {
		return out, err
	}
	compile, ok := operationCompilers[out.opName]
	if !ok {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, out.opName, "this gateway does not run %s steps", out.opName)
	}
	out.op, err = compile(c, s)
	return out, err
}
