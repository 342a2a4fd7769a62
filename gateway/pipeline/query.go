package pipeline

import (
	"errors"
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

// MaxQueryParameters bounds the parameters of a query string. URLs that
// people and programs write carry a few dozen; net/url takes 10,000 and
// r.URL.Query() silently drops them all beyond that, so that declared
// parameters fell back to their defaults.
const MaxQueryParameters = 1000

// ParseQuery parses a request's raw query for the endpoint: declared
// parameters to their types, with their defaults, and undeclared ones as
// strings; a repeated parameter keeps its first value. A query that does
// not parse, has more than MaxQueryParameters parameters, or does not fit
// the declarations is a 400 *RunError. The server parses it before it reads
// the body, so that a request refused for its query is refused before its
// body arrives.
func (e *Endpoint) ParseQuery(rawQuery string) (map[string]any, error) {
	values, err := parseURLEncoded(rawQuery, MaxQueryParameters)
	if err != nil {
		return nil, badRequest("the query string " + err.Error())
	}
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

// parseURLEncoded parses a query string or a form body, refusing what
// url.ParseQuery cannot parse (it parses the rest and reports the last
// error) and more than max parameters, which are counted first, as
// url.ParseQuery counts them, so that refusing them allocates nothing. An
// error completes a sentence about the text and never quotes it.
func parseURLEncoded(raw string, max int) (url.Values, error) {
	if n := strings.Count(raw, "&") + 1; n > max {
		return nil, fmt.Errorf("has %d parameters; at most %d are accepted", n, max)
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errors.New("is malformed: " + malformedParameter(raw))
	}
	return values, nil
}

// malformedParameter says which parameter url.ParseQuery refused, by
// position, and why.
func malformedParameter(raw string) string {
	i := 0
	for pair := range strings.SplitSeq(raw, "&") {
		i++
		if strings.Contains(pair, ";") {
			return fmt.Sprintf("parameter %d contains ';', which does not separate parameters (use '&', or %%3B for a ';' in a value)", i)
		}
		name, value, _ := strings.Cut(pair, "=")
		if _, err := url.QueryUnescape(name); err != nil {
			return fmt.Sprintf("the name of parameter %d has an invalid %%-escape", i)
		}
		if _, err := url.QueryUnescape(value); err != nil {
			return fmt.Sprintf("the value of parameter %d has an invalid %%-escape", i)
		}
	}
	return "it cannot be parsed"
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
