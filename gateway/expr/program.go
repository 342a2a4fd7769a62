package expr

import (
	"context"
	"slices"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

const (
	// CostLimit caps the work of one evaluation, in CEL's abstract cost units
	// (roughly one per operation and per comprehension iteration). It stops a
	// pipeline author from writing an expression that runs for seconds on a
	// large request, while leaving room for ordinary transforms over lists of
	// a few thousand items.
	CostLimit uint64 = 1_000_000

	// InterruptCheckFrequency is how many comprehension iterations run
	// between checks for context cancellation; checking every iteration would
	// cost more than the iteration itself.
	InterruptCheckFrequency uint = 100
)

// Program is one compiled expression. It is safe for concurrent use.
type Program struct {
	prog     cel.Program
	ast      *celast.AST
	outType  *cel.Type
	steps    []string
	dynSteps bool
	// tracked says whether evaluations count their cost against
	// CostLimit; it is false only for expressions provenCheap.
	tracked bool
	// iterates says whether the expression has a comprehension that may
	// iterate, the only place where cel-go checks for cancellation.
	iterates bool
}

// Activation holds the inputs of one evaluation as plain Go values: maps,
// slices, strings, numbers (any Go int or float kind), bools, nil, []byte and
// time.Time. Nil maps are treated as empty.
type Activation struct {
	Request map[string]any
	Token   map[string]any
	Vars    map[string]string
	Secrets map[string]string
	Steps   map[string]any
	// Now is the value of `now`; the zero time means time.Now(). Set it once
	// per request so that every step sees the same instant.
	Now time.Time
}

// StepRefs returns the sorted names of the steps the expression reads by a
// constant name. The caller uses them to order steps and reject references to
// steps that do not exist or run later.
func (p *Program) StepRefs() []string { return slices.Clone(p.steps) }

// DynamicStepAccess reports whether the expression reads `steps` other than
// by a constant name (steps[x], steps.size(), toJson(steps), ...), in which
// case StepRefs is incomplete and the caller must assume every earlier step
// may be read.
func (p *Program) DynamicStepAccess() bool { return p.dynSteps }

// Eval runs the program. The result is made of the plain Go values listed
// for toNative, ready for encoding/json. Errors are *EvalError and never
// contain input values; errors.Is(err, ErrCostLimitExceeded) and
// errors.Is(err, context.DeadlineExceeded) tell the two kinds of aborted
// evaluation apart.
func (p *Program) Eval(ctx context.Context, in Activation) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	// Cancellation is only noticed inside comprehensions, so a request that
	// is already gone would otherwise still run every simple expression.
	if ctx.Err() != nil {
		return nil, interruptedError(ctx)
	}
	var out ref.Val
	var err error
	if p.iterates {
		out, _, err = p.prog.ContextEval(ctx, newActivation(in))
	} else {
		// Only an iteration checks for cancellation, and setting up the
		// check allocates a context per evaluation.
		out, _, err = p.prog.Eval(newActivation(in))
	}
	if err != nil {
		return nil, p.sanitizeEvalError(ctx, err)
	}
	v, err := toNative(out)
	if err != nil {
		return nil, p.sanitizeEvalError(ctx, err)
	}
	return v, nil
}

// EvalBool evaluates a condition compiled with CompileBool. A dyn-typed
// condition that yields something other than a bool is an error, not false.
func (p *Program) EvalBool(ctx context.Context, in Activation) (bool, error) {
	v, err := p.Eval(ctx, in)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Reason: "must evaluate to a bool, got " + TypeName(v)}
	}
	return b, nil
}

// TypeName names the CEL type of a value Eval returns, for messages that
// say what a value should have been without saying what it is.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case string:
		return "string"
	case int64:
		return "int"
	case uint64:
		return "uint"
	case float64:
		return "double"
	case []byte:
		return "bytes"
	case time.Time:
		return "timestamp"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return "unknown"
}

// activation resolves the six variables without building a map per call.
type activation struct {
	request, token, steps map[string]any
	vars, secrets         map[string]string
	now                   types.Timestamp
}

var (
	emptyAny    = map[string]any{}
	emptyString = map[string]string{}
)

func newActivation(in Activation) *activation {
	a := &activation{
		request: in.Request,
		token:   in.Token,
		steps:   in.Steps,
		vars:    in.Vars,
		secrets: in.Secrets,
		now:     types.Timestamp{Time: in.Now},
	}
	if a.request == nil {
		a.request = emptyAny
	}
	if a.token == nil {
		a.token = emptyAny
	}
	if a.steps == nil {
		a.steps = emptyAny
	}
	if a.vars == nil {
		a.vars = emptyString
	}
	if a.secrets == nil {
		a.secrets = emptyString
	}
	if in.Now.IsZero() {
		a.now = types.Timestamp{Time: time.Now()}
	}
	return a
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case VarRequest:
		return a.request, true
	case VarToken:
		return a.token, true
	case VarVars:
		return a.vars, true
	case VarSecrets:
		return a.secrets, true
	case VarSteps:
		return a.steps, true
	case VarNow:
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// stepRefs walks the checked AST for reads of `steps`. Scoping is tracked by
// hand because a comprehension or cel.bind variable named "steps" shadows the
// global one, and the checker gives both the same reference name.
func stepRefs(root celast.Expr) ([]string, bool) {
	w := stepWalker{names: map[string]struct{}{}}
	w.walk(root, false)
	names := make([]string, 0, len(w.names))
	for n := range w.names {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, w.dynamic
}

type stepWalker struct {
	names   map[string]struct{}
	dynamic bool
}

func isStepsIdent(e celast.Expr, shadowed bool) bool {
	return !shadowed && e.Kind() == celast.IdentKind && e.AsIdent() == VarSteps
}

func (w *stepWalker) walk(e celast.Expr, shadowed bool) {
	if e == nil {
		return
	}
	switch e.Kind() {
	case celast.IdentKind:
		if isStepsIdent(e, shadowed) {
			w.dynamic = true
		}
	case celast.SelectKind:
		s := e.AsSelect()
		if isStepsIdent(s.Operand(), shadowed) {
			w.names[s.FieldName()] = struct{}{}
			return
		}
		w.walk(s.Operand(), shadowed)
	case celast.CallKind:
		c := e.AsCall()
		args := c.Args()
		switch c.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(args) == 2 && isStepsIdent(args[0], shadowed) {
				if name, ok := constString(args[1]); ok {
					w.names[name] = struct{}{}
				} else {
					w.dynamic = true
					w.walk(args[1], shadowed)
				}
				return
			}
		}
		if c.IsMemberFunction() {
			w.walk(c.Target(), shadowed)
		}
		for _, a := range args {
			w.walk(a, shadowed)
		}
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		// The range and the accumulator's initial value are outside the
		// comprehension's scope.
		w.walk(c.IterRange(), shadowed)
		w.walk(c.AccuInit(), shadowed)
		inner := shadowed || c.IterVar() == VarSteps || c.AccuVar() == VarSteps ||
			(c.HasIterVar2() && c.IterVar2() == VarSteps)
		w.walk(c.LoopCondition(), inner)
		w.walk(c.LoopStep(), inner)
		w.walk(c.Result(), inner)
	case celast.ListKind:
		for _, el := range e.AsList().Elements() {
			w.walk(el, shadowed)
		}
	case celast.MapKind:
		for _, entry := range e.AsMap().Entries() {
			me := entry.AsMapEntry()
			w.walk(me.Key(), shadowed)
			w.walk(me.Value(), shadowed)
		}
	case celast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			w.walk(f.AsStructField().Value(), shadowed)
		}
	}
}

func constString(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// iterates reports whether an expression has a comprehension over
// anything but an empty list literal, which is how cel.bind is expanded.
func iterates(root celast.Expr) bool {
	found := false
	celast.PostOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.ComprehensionKind {
			return
		}
		r := e.AsComprehension().IterRange()
		if r.Kind() != celast.ListKind || r.AsList().Size() != 0 {
			found = true
		}
	}))
	return found
}
