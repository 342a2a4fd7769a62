package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/httpsyntax"
)

// CompileError says why an AppAPI does not compile.
type CompileError struct {
	Reason v1alpha1.Reason
	// Field is the path of the offending field, e.g. spec.steps[2].transform.value.
	Field   string
	Message string
}

func (e *CompileError) Error() string { return e.Field + ": " + e.Message }

// compiler carries what the checks of one AppAPI share: the field prefix for
// messages and the names of the steps before the current one.
type compiler struct {
	expr    *expr.Compiler
	prefix  string
	earlier []string
}

func (c *compiler) fail(reason v1alpha1.Reason, field, format string, args ...any) error {
	return &CompileError{Reason: reason, Field: c.prefix + "." + field, Message: fmt.Sprintf(format, args...)}
}

// reads is what both programs and templates tell about the steps they
// read. An access by a computed name (steps[x]) cannot be checked here and
// fails at run time when the step is missing.
type reads interface {
	StepRefs() []string
}

func (c *compiler) checkRefs(field string, r reads) error {
	for _, name := range r.StepRefs() {
		if !slices.Contains(c.earlier, name) {
			return c.fail(v1alpha1.ReasonInvalidStepReference, field,
				"reads steps.%s, which is not a step that runs before this one (earlier steps: %s)", name, listOrNone(c.earlier))
		}
	}
	return nil
}

// program compiles a CEL expression; "" is no program.
func (c *compiler) program(field, source string) (*expr.Program, error) {
	return compileExpression(c, field, source, c.expr.Compile)
}

// condition compiles a CEL expression that must be a bool; "" is none.
func (c *compiler) condition(field, source string) (*expr.Program, error) {
	return compileExpression(c, field, source, c.expr.CompileBool)
}

// template compiles a template; "" is no template.
func (c *compiler) template(field, source string) (*expr.Template, error) {
	return compileExpression(c, field, source, c.expr.CompileTemplate)
}

// compileExpression compiles source with compile and checks the steps it
// reads; "" compiles to nothing.
func compileExpression[T reads](c *compiler, field, source string, compile func(string) (T, error)) (T, error) {
	var none T
	if source == "" {
		return none, nil
	}
	compiled, err := compile(source)
	if err != nil {
		return none, c.fail(v1alpha1.ReasonInvalidExpression, field, "%v", err)
	}
	return compiled, c.checkRefs(field, compiled)
}

// templates compiles a map of templates, such as query parameters.
func (c *compiler) templates(field string, sources map[string]string) (map[string]*expr.Template, error) {
	return c.templateMap(field, sources, false)
}

// headers compiles a map of header templates, whose names must be tokens.
func (c *compiler) headers(field string, sources map[string]string) (map[string]*expr.Template, error) {
	return c.templateMap(field, sources, true)
}

func (c *compiler) templateMap(field string, sources map[string]string, headerNames bool) (map[string]*expr.Template, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	out := make(map[string]*expr.Template, len(sources))
	// Sorted, so that the first bad entry reported is always the same one.
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		entry := fmt.Sprintf("%s[%s]", field, name)
		if headerNames && !httpsyntax.IsToken(name) {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, entry,
				"%q is not a valid header name: use letters, digits and !#$%%&'*+-.^_`|~", name)
		}
		t, err := c.template(entry, sources[name])
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

func (c *compiler) duration(field string, d v1alpha1.Duration, def time.Duration) (time.Duration, error) {
	v, err := d.Parse(def)
	if err != nil || v < 0 {
		return 0, c.fail(v1alpha1.ReasonInvalidSpec, field, "%q is not a duration such as 500ms, 30s or 1m30s", string(d))
	}
	return v, nil
}

// configVariable is the one kind of expression that may decide where a
// request goes or a caller is sent: an Environment variable.
var configVariable = regexp.MustCompile(`^vars\.[A-Za-z_][A-Za-z0-9_]*$`)

// fromConfiguration reports whether every expression of t is an Environment
// variable, so that its value is decided by configuration alone.
func fromConfiguration(t *expr.Template) bool {
	for _, p := range t.Parts() {
		if p.Expression != "" && !configVariable.MatchString(p.Expression) {
			return false
		}
	}
	return true
}

// urlAuthorityParts checks that only configuration decides a URL's
// destination: until its scheme and host end (at the first "/", "?" or "#"
// after "://", or after a leading {{ vars.<name> }} base URL), every
// expression must be an Environment variable. It returns how many parts
// that is; the caller inserts their values as they are. A value from the
// request in the host would let a caller choose the destination, and
// escaping cannot stop that: host names are made of characters that need
// no escaping. The error says what is wrong, not how to write it right,
// which depends on the field.
func urlAuthorityParts(t *expr.Template) (int, error) {
	parts := t.Parts()
	sawScheme := false
	for i, p := range parts {
		if p.Expression != "" {
			if !configVariable.MatchString(p.Expression) {
				return 0, fmt.Errorf("{{ %s }} is in the URL's scheme or host", p.Expression)
			}
			if i == 0 {
				// A leading variable is a whole base URL, scheme included.
				sawScheme = true
			}
			continue
		}
		text := p.Text
		if !sawScheme {
			if !hasHTTPScheme(text) {
				return 0, errors.New("it must start with http:// or https://, or with {{ vars.<name> }} holding a base URL")
			}
			sawScheme = true
			text = text[strings.Index(text, "://")+3:]
		}
		if strings.ContainsAny(text, "/?#") {
			return i, nil
		}
	}
	return len(parts), nil
}

func hasHTTPScheme(s string) bool {
	lower := strings.ToLower(s)
	return strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
