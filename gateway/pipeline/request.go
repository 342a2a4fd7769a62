package pipeline

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// Incoming is a request as the server received it: routed, authenticated,
// its query parsed by ParseQuery and its body read.
type Incoming struct {
	Method string
	Path   string
	// Params are the path parameters, by name.
	Params map[string]string
	Query  map[string]any
	Header http.Header
	Body   []byte
}

// request is what expressions see as `request`.
type request struct {
	Method string
	Path   string
	Params map[string]string
	// Query holds declared parameters parsed to their type, undeclared ones
	// as strings.
	Query map[string]any
	// Headers has lower-case names; multiple values are joined with ", ".
	Headers map[string]string
	// Body is the parsed JSON, a form map (map[string]any of string, or []any
	// for repeated keys), the text of any other body, or nil.
	Body any
	// Text is the raw body as text.
	Text string
}

// newRequest decodes what expressions see of an incoming request. A body
// that its Content-Type does not describe is a 400 *RunError.
func newRequest(in *Incoming) (*request, error) {
	req := &request{
		Method:  in.Method,
		Path:    in.Path,
		Params:  in.Params,
		Query:   in.Query,
		Headers: make(map[string]string, len(in.Header)),
		Text:    string(in.Body),
	}
	for name, values := range in.Header {
		if name == "Authorization" {
			// Expressions have token.name and token.id; the token itself
			// stays out of their reach, and so out of upstream requests and logs.
			continue
		}
		req.Headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	var err error
	if req.Body, err = decodeBody(in.Header.Get("Content-Type"), in.Body); err != nil {
		return nil, err
	}
	return req, nil
}

// maxFormFields bounds the fields of a urlencoded form body: what net/url
// takes, counted first so that the 400 can say so.
const maxFormFields = 10_000

// decodeBody decodes JSON and form bodies; any other body is its text.
func decodeBody(contentType string, body []byte) (any, error) {
	if len(body) == 0 {
		return nil, nil
	}
	mediaType, params, _ := mime.ParseMediaType(contentType)
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		v, err := decodeJSON(body)
		if err != nil {
			return nil, badRequest("the request body " + err.Error())
		}
		return v, nil
	case mediaType == "application/x-www-form-urlencoded":
		values, err := parseURLEncoded(string(body), maxFormFields)
		if err != nil {
			return nil, badRequest("the request body (a form) " + err.Error())
		}
		return formMap(values), nil
	case mediaType == "multipart/form-data":
		// The whole body is in memory already: so may be its files.
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(int64(len(body)))
		if err != nil {
			return nil, badRequest("the request body is not a valid multipart form")
		}
		defer func() { _ = form.RemoveAll() }()
		return formMap(form.Value), nil
	}
	return string(body), nil
}

// formMap gives a field its value, or the list of its values when repeated.
func formMap(values map[string][]string) map[string]any {
	out := make(map[string]any, len(values))
	for name, v := range values {
		if len(v) == 1 {
			out[name] = v[0]
			continue
		}
		list := make([]any, len(v))
		for i, s := range v {
			list[i] = s
		}
		out[name] = list
	}
	return out
}

func badRequest(detail string) *RunError {
	return &RunError{Status: http.StatusBadRequest, Title: TitleBadRequest, Detail: detail}
}

// value is the request as the `request` variable.
func (q *request) value() map[string]any {
	if q == nil {
		q = &request{}
	}
	params, query, headers := q.Params, q.Query, q.Headers
	if params == nil {
		params = map[string]string{}
	}
	if query == nil {
		query = map[string]any{}
	}
	if headers == nil {
		headers = map[string]string{}
	}
	return map[string]any{
		"method":  q.Method,
		"path":    q.Path,
		"params":  params,
		"query":   query,
		"headers": headers,
		"body":    q.Body,
		"text":    q.Text,
	}
}

func (q *request) body() any {
	if q == nil {
		return nil
	}
	return q.Body
}

func (q *request) headers() map[string]string {
	if q == nil {
		return nil
	}
	return q.Headers
}
