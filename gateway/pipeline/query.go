package pipeline

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// queryParameter is a declared query parameter, its default parsed.
type queryParameter struct {
	name     string
	typ      v1alpha1.QueryParameterType
	required bool
	// def is the parsed default; nil when there is none.
	def any
}

func compileQueryParameter(q v1alpha1.QueryParameter) (queryParameter, error) {
	p := queryParameter{name: q.Name, typ: q.Type, required: q.Required}
	if q.Default != nil {
		var err error
		if p.def, err = ParseQueryValue(q.Type, *q.Default); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ParseQuery parses a request's query for the endpoint: declared parameters
// to their types, with their defaults, and undeclared ones as strings; a
// repeated parameter keeps its first value. A query that does not fit is a
// 400 *RunError. The server parses it before it reads the body, so that a
// request refused for its query is refused before its body arrives.
func (e *Endpoint) ParseQuery(values url.Values) (map[string]any, error) {
	out := make(map[string]any, len(values))
	for name, v := range values {
		out[name] = v[0]
	}
	for _, q := range e.query {
		raw, present := values[q.name]
		switch {
		case present:
			v, err := ParseQueryValue(q.typ, raw[0])
			if err != nil {
				return nil, badRequest(fmt.Sprintf("query parameter %q: %v", q.name, err))
			}
			out[q.name] = v
		case q.required:
			return nil, badRequest(fmt.Sprintf("query parameter %q is required", q.name))
		case q.def != nil:
			out[q.name] = q.def
		}
	}
	return out, nil
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
