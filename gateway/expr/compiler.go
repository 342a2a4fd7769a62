package expr

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/ext"
)

// Names of the variables every expression can read.
const (
	VarRequest = "request"
	VarToken   = "token"
	VarVars    = "vars"
	VarSecrets = "secrets"
	VarSteps   = "steps"
	VarNow     = "now"
)

// Compiler compiles expressions and templates in the CEL environment shared by every pipeline of one snapshot.
// Building it is comparatively expensive, so build it once and reuse it; it
// is safe for concurrent use.
type Compiler struct {
	cel    *cel.Env
	guards guards
}

// NewCompiler builds the compiler with the variables, extension libraries and
// custom functions described in the package documentation.
func NewCompiler() (*Compiler, error) {
	opts := []cel.EnvOption{
		cel.VariableWithDoc(VarRequest, cel.MapType(cel.StringType, cel.DynType),
			"the incoming request: method, path, params, query, headers, body, text"),
		cel.VariableWithDoc(VarToken, cel.MapType(cel.StringType, cel.DynType),
			"the authenticated token (name, id); empty when unauthenticated"),
		cel.VariableWithDoc(VarVars, cel.MapType(cel.StringType, cel.StringType),
			"environment variables"),
		cel.VariableWithDoc(VarSecrets, cel.MapType(cel.StringType, cel.StringType),
			"environment secret values"),
		cel.VariableWithDoc(VarSteps, cel.MapType(cel.StringType, cel.DynType),
			"outputs of earlier steps by step name"),
		cel.VariableWithDoc(VarNow, cel.TimestampType,
			"the time the request was received"),

		ext.Strings(),
		ext.Encoders(),
		ext.Math(),
		ext.Lists(),
		ext.Sets(),
		ext.Bindings(),
		cel.OptionalTypes(),

		// Request bodies decoded from JSON carry doubles, so `request.body.n > 5`
		// would otherwise fail at run time with "no such overload".
		cel.CrossTypeNumericComparisons(true),

		// Report malformed literals at compile time, where the error has a
		// position, instead of on every request.
		cel.ASTValidators(
			cel.ValidateDurationLiterals(),
			cel.ValidateTimestampLiterals(),
			cel.ValidateRegexLiterals(),
		),
	}
	opts = append(opts, customFunctions()...)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("expr: build CEL environment: %w", err)
	}
	g, err := newGuards(env)
	if err != nil {
		return nil, err
	}
	return &Compiler{cel: env, guards: g}, nil
}

// Compile parses and type-checks one expression. The error, if any, lists
// every problem with its line:column position in source.
func (e *Compiler) Compile(source string) (*Program, error) {
	if e == nil || e.cel == nil {
		return nil, errors.New("expr: nil Compiler")
	}
	checked, iss := e.cel.Compile(source)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid expression: %w", iss.Err())
	}
	native := checked.NativeRep()
	opts := []cel.ProgramOption{cel.InterruptCheckFrequency(InterruptCheckFrequency)}
	tracked := !provenCheap(e.cel, checked)
	if tracked {
		opts = append(opts, cel.CostLimit(CostLimit), cel.CostTracking(costEstimator{}))
	}
	opts = append(opts, e.guards.forProgram(native.Expr())...)
	prg, err := e.cel.Program(checked, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid expression: %w", err)
	}
	refs, dynamic := stepRefs(native.Expr())
	return &Program{
		prog:     prg,
		ast:      native,
		outType:  checked.OutputType(),
		steps:    refs,
		dynSteps: dynamic,
		tracked:  tracked,
		iterates: iterates(native.Expr()),
	}, nil
}

// CompileBool is Compile for conditions. dyn is accepted because values read
// from request bodies and step outputs are only typed at run time; Eval of
// such a program may still return a non-bool, which the caller must reject.
func (e *Compiler) CompileBool(source string) (*Program, error) {
	p, err := e.Compile(source)
	if err != nil {
		return nil, err
	}
	if !p.outType.IsExactType(cel.BoolType) && !p.outType.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("invalid expression: must evaluate to a bool, got %s", cel.FormatCELType(p.outType))
	}
	return p, nil
}

// provenCheap says whether the static cost estimate of an expression proves
// that no evaluation can reach CostLimit, whatever its inputs: then it runs
// without cost tracking, which otherwise observes every step of every
// evaluation. Most expressions pick fields and build small values; one
// whose work depends on the size of its inputs (a comprehension over a
// request's list, a string function over its text) is unbounded here and
// keeps the tracker.
func provenCheap(env *cel.Env, checked *cel.Ast) bool {
	est, err := env.EstimateCost(checked, staticCosts{})
	return err == nil && est.Max <= CostLimit
}

// staticCosts leaves cel-go's estimates, upper bounds of what its tracker
// charges, as they are, except for the calls that appapi prices itself
// (callCosts and afterCosts, charged by costEstimator): their price
// depends on their arguments' values, so their estimate is unbounded.
type staticCosts struct{}

func (staticCosts) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }

func (staticCosts) EstimateCallCost(function, _ string, target *checker.AstNode, _ []checker.AstNode) *checker.CallEstimate {
	names := []string{function}
	if target != nil && (*target).Expr().Kind() == celast.IdentKind {
		names = append(names, (*target).Expr().AsIdent()+"."+function)
	}
	for _, name := range names {
		_, priced := callCosts[name]
		_, after := afterCosts[name]
		if priced || after {
			return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 0, Max: math.MaxUint64}}
		}
	}
	return nil
}
