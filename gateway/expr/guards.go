package expr

import (
	"fmt"
	"maps"
	"slices"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// guards holds, by function name, the implementations of the functions in
// callCosts wrapped so that a call priced above CostLimit fails before it
// runs, and the cost trackers that charge the same price after it ran.
// cel-go charges a call's cost only after the call returned, so without
// them one call of sets.intersects on two large lists spins for minutes,
// and one replace() allocates gigabytes, before the cost limit is noticed.
type guards map[string]guarded

type guarded struct {
	overloads []*functions.Overload
	trackers  []interpreter.CostTrackerOption
}

func newGuards(env *cel.Env) (guards, error) {
	decls := env.Functions()
	g := guards{}
	for _, name := range slices.Sorted(maps.Keys(callCosts)) {
		decl, ok := decls[name]
		if !ok {
			return nil, fmt.Errorf("expr: the priced function %s is not in the CEL environment", name)
		}
		price := callCosts[name]
		// Bindings has an entry per overload and one for the function name,
		// used when the overload is only known at run time (dyn arguments).
		bindings, err := decl.Bindings()
		if err != nil {
			return nil, fmt.Errorf("expr: bindings of %s: %w", name, err)
		}
		var fn guarded
		for _, b := range bindings {
			fn.overloads = append(fn.overloads, guard(b, price))
		}
		// These replace the trackers cel-go's libraries register for the
		// same overloads, which charge the full price of a call that a
		// guard refused and so hide which call it was.
		for _, o := range decl.OverloadDecls() {
			fn.trackers = append(fn.trackers, interpreter.OverloadCostTracker(o.ID(), chargeAfter(price)))
		}
		g[name] = fn
	}
	return g, nil
}

// forProgram returns the program options that install the guards of the
// functions the expression calls. Overloads and trackers given to a program
// take precedence over the environment's; installing only the ones called
// keeps compiling an expression that calls none as cheap as before.
func (g guards) forProgram(root celast.Expr) []cel.ProgramOption {
	var overloads []*functions.Overload
	var trackers []interpreter.CostTrackerOption
	for _, name := range calledFunctions(root) {
		overloads = append(overloads, g[name].overloads...)
		trackers = append(trackers, g[name].trackers...)
	}
	if len(overloads) == 0 {
		return nil
	}
	return []cel.ProgramOption{cel.Functions(overloads...), cel.CostTrackerOptions(trackers...)}
}

// calledFunctions lists the names of the functions an expression calls.
// A namespaced call such as sets.contains(a, b) may appear either under its
// full name or as contains() with target sets, so both forms are listed.
func calledFunctions(root celast.Expr) []string {
	names := map[string]struct{}{}
	celast.PostOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		c := e.AsCall()
		names[c.FunctionName()] = struct{}{}
		if c.IsMemberFunction() && c.Target().Kind() == celast.IdentKind {
			names[c.Target().AsIdent()+"."+c.FunctionName()] = struct{}{}
		}
	}))
	return slices.Sorted(maps.Keys(names))
}

func guard(o *functions.Overload, price func([]ref.Val) uint64) *functions.Overload {
	g := *o
	if unary := o.Unary; unary != nil {
		g.Unary = func(v ref.Val) ref.Val {
			if price([]ref.Val{v}) > CostLimit {
				return tooCostly()
			}
			return unary(v)
		}
	}
	if binary := o.Binary; binary != nil {
		g.Binary = func(l, r ref.Val) ref.Val {
			if price([]ref.Val{l, r}) > CostLimit {
				return tooCostly()
			}
			return binary(l, r)
		}
	}
	if function := o.Function; function != nil {
		g.Function = func(args ...ref.Val) ref.Val {
			if price(args) > CostLimit {
				return tooCostly()
			}
			return function(args...)
		}
	}
	return &g
}

// tooCostly is a new error each time: the interpreter writes the failing
// node's id into it.
func tooCostly() ref.Val { return types.WrapErr(ErrCostLimitExceeded) }
