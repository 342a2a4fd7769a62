package expr

import (
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
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
	opts := append([]cel.ProgramOption{
		cel.CostLimit(CostLimit),
		cel.CostTracking(costEstimator{}),
		cel.InterruptCheckFrequency(InterruptCheckFrequency),
	}, e.guards.forProgram(native.Expr())...)
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
