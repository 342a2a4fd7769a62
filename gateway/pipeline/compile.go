// Package pipeline turns a route's steps into compiled programs. The
// controllers compile every AppAPI with it before accepting one, and the
// gateway compiles the snapshot with it before serving, so an endpoint the
// controllers accepted is one the gateway can run.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// DefaultHTTPTimeout bounds an http step that sets no timeout.
const DefaultHTTPTimeout = 10 * time.Second

// Error is the error of this package, in one of two roles:
//
//   - Compile returns it to say why a route does not compile: Reason, Field
//     and Message are set, Status is 0.
//   - Route.Run returns it for a failure the caller should answer with:
//     Status, Title, Detail and, when a step failed, Step are set, and
//     Violations for schema failures. See errors.go.
type Error struct {
	// Compile errors.

	Reason v1alpha1.Reason
	// Field is the path of the offending field, e.g. spec.steps[2].transform.value.
	Field   string
	Message string

	// Run errors.

	// Status is the HTTP status to answer with: 400 for a request that does
	// not fit (schema violations, malformed XML), 502 when an upstream
	// failed or answered unusably, 504 on a timeout, 500 for failures of
	// the pipeline itself (expressions, keys, redirects, calls).
	Status int
	// Title is a short, fixed summary, e.g. "Upstream request failed".
	Title string
	// Detail explains the failure and is safe to show a client: it never
	// holds secret values, token text, or the URL, host or address of an
	// http step's upstream. It does not repeat the step name.
	Detail string
	// Step names the step that failed; empty when the response block did.
	Step string
	// Violations lists each schema violation.
	Violations []Violation

	// calledAppAPI is set once the error has been attributed to a call step,
	// so that nested calls do not wrap the detail again at every level.
	calledAppAPI string
	// cause is a safe sentinel (context.DeadlineExceeded, ...) for errors.Is.
	cause error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return e.Field + ": " + e.Message
	}
	return e.runError()
}

// Route is a compiled route.
type Route struct {
	Source        *snapshot.Route
	Path          pathtemplate.Template
	RequestSchema *jsonschema.Schema
	Steps         []Step
	Response      Response
}

// Step is a compiled step. Only the fields of its operation are set.
type Step struct {
	Source *v1alpha1.Step
	When   *expr.Program

	// http
	URL *expr.Template
	// URLRawParts counts the parts of URL that build its scheme and host:
	// configuration, inserted unescaped.
	URLRawParts int
	Headers     map[string]*expr.Template
	Query       map[string]*expr.Template
	Body        *expr.Program // http body, respond body
	BodyText    *expr.Template
	Timeout     time.Duration // http timeout, wait duration

	// transform value, validate value, jwt claims, call input, xmlToJson value
	Value *expr.Program

	// validate
	Schema *jsonschema.Schema

	// respond
	Status   int
	Redirect *expr.Template

	// jwt
	ExpiresIn time.Duration
}

// Response is the compiled response block.
type Response struct {
	Status   int
	Headers  map[string]*expr.Template
	Body     *expr.Program
	Redirect *expr.Template
}

// Compile checks and compiles one route. It checks what needs no knowledge of
// the rest of the Environment; references to tokens, secrets and other routes
// are checked by the caller.
func Compile(env *expr.Compiler, r *snapshot.Route) (*Route, error) {
	c := compiler{env: env}
	out := &Route{Source: r}
	var err error
	if out.Path, err = pathtemplate.Parse(r.Path); err != nil {
		return nil, &Error{Reason: v1alpha1.ReasonInvalidSpec, Field: "spec.path", Message: err.Error()}
	}
	for i, q := range r.Query {
		if q.Default != nil {
			if _, err := ParseQueryValue(q.Type, *q.Default); err != nil {
				return nil, &Error{Reason: v1alpha1.ReasonInvalidSpec, Field: fmt.Sprintf("spec.query[%d].default", i), Message: err.Error()}
			}
		}
	}
	if r.Authentication.Mode == v1alpha1.AuthenticationNone && len(r.Authentication.AllowedTokens) > 0 {
		return nil, &Error{Reason: v1alpha1.ReasonInvalidSpec, Field: "spec.authentication.allowedTokens",
			Message: "has no effect when mode is None: set mode to Token or remove allowedTokens"}
	}
	if len(r.RequestSchema) > 0 {
		if out.RequestSchema, err = CompileSchema(r.RequestSchema); err != nil {
			return nil, &Error{Reason: v1alpha1.ReasonInvalidSchema, Field: "spec.requestSchema", Message: err.Error()}
		}
	}
	for i := range r.Steps {
		c.prefix = fmt.Sprintf("spec.steps[%d]", i)
		step, err := c.step(&r.Steps[i])
		if err != nil {
			return nil, err
		}
		out.Steps = append(out.Steps, step)
		c.earlier = append(c.earlier, r.Steps[i].Name)
	}
	c.prefix = "spec.response"
	resp := &r.Response
	if out.Response, err = c.respond("", resp.Status, resp.Headers, resp.Body, resp.Redirect); err != nil {
		return nil, err
	}
	return out, nil
}

// compiler carries what the checks of one route share: the field prefix for
// messages and the names of the steps before the current one.
type compiler struct {
	env     *expr.Compiler
	prefix  string
	earlier []string
}

func (c *compiler) fail(reason v1alpha1.Reason, field, format string, args ...any) error {
	return &Error{Reason: reason, Field: c.prefix + "." + field, Message: fmt.Sprintf(format, args...)}
}

// reads is what both programs and templates tell about the steps they
// read. An access by a computed name (steps[x]) cannot be checked here and
// fails at run time when the step is missing.
type reads interface {
	StepRefs() []string
}

func (c *compiler) checkRefs(field string, r reads) error {
	for _, name := range r.StepRefs() {
		found := false
		for _, e := range c.earlier {
			found = found || e == name
		}
		if !found {
			return c.fail(v1alpha1.ReasonInvalidStepReference, field,
				"reads steps.%s, which is not a step that runs before this one (earlier steps: %s)", name, listOrNone(c.earlier))
		}
	}
	return nil
}

func (c *compiler) program(field, source string) (*expr.Program, error) {
	if source == "" {
		return nil, nil
	}
	p, err := c.env.Compile(source)
	if err != nil {
		return nil, c.fail(v1alpha1.ReasonInvalidExpression, field, "%v", err)
	}
	return p, c.checkRefs(field, p)
}

func (c *compiler) template(field, source string) (*expr.Template, error) {
	if source == "" {
		return nil, nil
	}
	t, err := c.env.CompileTemplate(source)
	if err != nil {
		return nil, c.fail(v1alpha1.ReasonInvalidExpression, field, "%v", err)
	}
	return t, c.checkRefs(field, t)
}

func (c *compiler) templates(field string, sources map[string]string) (map[string]*expr.Template, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	out := make(map[string]*expr.Template, len(sources))
	// Sorted, so that the first bad entry reported is always the same one.
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		if field != "http.query" && !validHeaderName(name) {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("%s[%s]", field, name),
				"%q is not a valid header name: use letters, digits and !#$%%&'*+-.^_`|~", name)
		}
		t, err := c.template(fmt.Sprintf("%s[%s]", field, name), sources[name])
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

func (c *compiler) step(s *v1alpha1.Step) (Step, error) {
	out := Step{Source: s}
	if n := len(s.Operations()); n != 1 {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, "", "step %q sets %d operations; set exactly one", s.Name, n)
	}
	if s.When != "" {
		p, err := c.env.CompileBool(s.When)
		if err != nil {
			return out, c.fail(v1alpha1.ReasonInvalidExpression, "when", "%v", err)
		}
		if err := c.checkRefs("when", p); err != nil {
			return out, err
		}
		out.When = p
	}
	var err error
	switch {
	case s.HTTP != nil:
		err = c.http(&out, s.HTTP)
	case s.Transform != nil:
		out.Value, err = c.program("transform.value", s.Transform.Value)
	case s.Respond != nil:
		var resp Response
		resp, err = c.respond("respond", s.Respond.Status, s.Respond.Headers, s.Respond.Body, s.Respond.Redirect)
		out.Status, out.Headers, out.Body, out.Redirect = resp.Status, resp.Headers, resp.Body, resp.Redirect
	case s.Validate != nil:
		if out.Schema, err = CompileSchema(s.Validate.Schema.Raw); err != nil {
			return out, c.fail(v1alpha1.ReasonInvalidSchema, "validate.schema", "%v", err)
		}
		out.Value, err = c.program("validate.value", s.Validate.Value)
	case s.JWT != nil:
		if out.Value, err = c.program("jwt.claims", s.JWT.Claims); err == nil {
			out.ExpiresIn, err = c.duration("jwt.expiresIn", s.JWT.ExpiresIn, 0)
		}
	case s.Call != nil:
		out.Value, err = c.program("call.input", s.Call.Input)
	case s.Wait != nil:
		out.Timeout, err = c.duration("wait.duration", s.Wait.Duration, 0)
	case s.XMLToJSON != nil:
		out.Value, err = c.program("xmlToJson.value", s.XMLToJSON.Value)
	}
	return out, err
}

func (c *compiler) http(out *Step, h *v1alpha1.HTTPOperation) error {
	var err error
	if out.URL, err = c.template("http.url", h.URL); err != nil {
		return err
	}
	if out.URL.IsLiteral() {
		if u, perr := url.Parse(h.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "%q is not an absolute http or https URL", h.URL)
		}
	} else if out.URLRawParts, err = urlAuthorityParts(out.URL); err != nil {
		return c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "%v", err)
	}
	if out.Headers, err = c.templates("http.headers", h.Headers); err != nil {
		return err
	}
	if out.Query, err = c.templates("http.query", h.Query); err != nil {
		return err
	}
	if out.Body, err = c.program("http.body", h.Body); err != nil {
		return err
	}
	if out.BodyText, err = c.template("http.bodyText", h.BodyText); err != nil {
		return err
	}
	out.Timeout, err = c.duration("http.timeout", h.Timeout, DefaultHTTPTimeout)
	return err
}

// configVariable is the one kind of expression that may build a URL's
// scheme and host: an Environment variable.
var configVariable = regexp.MustCompile(`^vars\.[A-Za-z_][A-Za-z0-9_]*$`)

// urlAuthorityParts checks that only configuration decides where a request
// goes: until the URL's scheme and host end (at the first "/", "?" or "#"
// after "://", or after a leading {{ vars.<name> }} base URL), every
// expression must be an Environment variable. It returns how many parts
// that is; their values are inserted unescaped, all later ones escaped. A
// value from the request in the host would let a caller send the gateway's
// requests anywhere, and escaping cannot stop that: host names are made of
// characters that need no escaping.
func urlAuthorityParts(t *expr.Template) (int, error) {
	const explain = "the scheme and host of an http URL must be literal text or {{ vars.<name> }}, e.g. https://api.example.com/{{ request.params.id }} or {{ vars.baseURL }}/orders"
	parts := t.Parts()
	sawScheme := false
	for i, p := range parts {
		if p.Expression != "" {
			if !configVariable.MatchString(p.Expression) {
				return 0, fmt.Errorf("{{ %s }} is in the URL's scheme or host: %s", p.Expression, explain)
			}
			if i == 0 {
				// A leading variable is a whole base URL, scheme included.
				sawScheme = true
			}
			continue
		}
		text := p.Text
		if !sawScheme {
			lower := strings.ToLower(text)
			if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
				return 0, errors.New("must start with http:// or https://, or with {{ vars.<name> }} holding a base URL; " + explain)
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

// respond compiles what a respond step and the response block share.
func (c *compiler) respond(field string, status *int32, headers map[string]string, body, redirect string) (Response, error) {
	if field != "" {
		field += "."
	}
	out := Response{Status: 200}
	if redirect != "" {
		out.Status = 302
	}
	if status != nil {
		out.Status = int(*status)
	}
	if out.Status < 100 || out.Status > 599 {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, field+"status", "%d is not an HTTP status code", out.Status)
	}
	if redirect != "" && !isRedirectStatus(out.Status) {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, field+"status", "a redirect needs 301, 302, 303, 307 or 308, not %d", out.Status)
	}
	var err error
	if out.Headers, err = c.templates(field+"headers", headers); err != nil {
		return out, err
	}
	if out.Body, err = c.program(field+"body", body); err != nil {
		return out, err
	}
	out.Redirect, err = c.template(field+"redirect", redirect)
	return out, err
}

func isRedirectStatus(s int) bool {
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308
}

// CompileSchema compiles a JSON Schema document. References to other
// documents are refused: a schema must not make the gateway read files or
// fetch URLs.
func CompileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Users of "Swagger Schema Validation" expect format: email to be
	// checked; draft 2020-12 makes formats annotations unless asked.
	c.AssertFormat()
	c.UseLoader(noLoader{})
	const location = "urn:appapi:schema"
	if err := c.AddResource(location, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(location)
	if err != nil {
		return nil, fmt.Errorf("%v", strings.ReplaceAll(err.Error(), location, "schema"))
	}
	return s, nil
}

type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema references %q: references to other documents are not allowed", u)
}

// ParseQueryValue parses a query parameter's text to its declared type.
func ParseQueryValue(typ v1alpha1.QueryParameterType, raw string) (any, error) {
	switch typ {
	case v1alpha1.QueryInteger:
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", raw)
		}
		return v, nil
	case v1alpha1.QueryNumber:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", raw)
		}
		return v, nil
	case v1alpha1.QueryBoolean:
		// What URLs and HTML forms commonly carry, and nothing else, so
		// that the message can say exactly what is accepted.
		switch strings.ToLower(raw) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (true, false, 1 or 0)", raw)
	case v1alpha1.QueryString, "":
		return raw, nil
	}
	return nil, fmt.Errorf("type %q is not string, integer, number or boolean", typ)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
