package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/router"
)

// readRequest turns an HTTP request into what expressions see as request.
func readRequest(r *http.Request, route *pipeline.Route, params []router.Param, maxBytes int64) (*pipeline.Request, *pipeline.Error) {
	req := &pipeline.Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Params:  make(map[string]string, len(params)),
		Headers: make(map[string]string, len(r.Header)),
	}
	for _, p := range params {
		req.Params[p.Name] = p.Value
	}
	for name, values := range r.Header {
		if name == "Authorization" {
			// Expressions have token.name and token.id; the token itself
			// stays out of their reach, and so out of upstream requests and logs.
			continue
		}
		req.Headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	var err *pipeline.Error
	if req.Query, err = readQuery(r.URL.Query(), route); err != nil {
		return nil, err
	}
	body, err := readBody(r, maxBytes)
	if err != nil {
		return nil, err
	}
	req.Text = string(body)
	if req.Body, err = parseBody(r.Header.Get("Content-Type"), body, maxBytes); err != nil {
		return nil, err
	}
	return req, nil
}

func badRequest(detail string) *pipeline.Error {
	return &pipeline.Error{Status: http.StatusBadRequest, Title: "Bad request", Detail: detail}
}

// readQuery parses declared parameters to their types and keeps undeclared
// ones as strings; a repeated parameter keeps its first value.
func readQuery(values url.Values, route *pipeline.Route) (map[string]any, *pipeline.Error) {
	out := make(map[string]any, len(values))
	for name, v := range values {
		out[name] = v[0]
	}
	for _, q := range route.Source.Query {
		raw, present := values[q.Name]
		switch {
		case present:
			v, err := pipeline.ParseQueryValue(q.Type, raw[0])
			if err != nil {
				return nil, badRequest(fmt.Sprintf("query parameter %q: %v", q.Name, err))
			}
			out[q.Name] = v
		case q.Required:
			return nil, badRequest(fmt.Sprintf("query parameter %q is required", q.Name))
		case q.Default != nil:
			// The default parsed when the AppAPI was compiled.
			out[q.Name], _ = pipeline.ParseQueryValue(q.Type, *q.Default)
		}
	}
	return out, nil
}

// readBody reads at most maxBytes, and never more than one byte past it to
// find out that a body is too large.
func readBody(r *http.Request, maxBytes int64) ([]byte, *pipeline.Error) {
	tooLarge := &pipeline.Error{Status: http.StatusRequestEntityTooLarge, Title: "Payload too large",
		Detail: fmt.Sprintf("the request body is larger than the environment's limit of %d bytes", maxBytes)}
	if r.ContentLength > maxBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &pipeline.Error{Status: http.StatusRequestTimeout, Title: "Request timeout",
			Detail: "the request body did not arrive within the environment's request timeout"}
	}
	if err != nil {
		return nil, badRequest("the request body could not be read")
	}
	if int64(len(body)) > maxBytes {
		return nil, tooLarge
	}
	return body, nil
}

// parseBody decodes JSON and form bodies; any other body is its text.
func parseBody(contentType string, body []byte, maxBytes int64) (any, *pipeline.Error) {
	if len(body) == 0 {
		return nil, nil
	}
	mediaType, params, _ := mime.ParseMediaType(contentType)
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		v, err := pipeline.DecodeJSON(body)
		if err != nil {
			return nil, badRequest("the request body is not valid JSON: " + err.Error())
		}
		return v, nil
	case mediaType == "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("the request body is not a valid form")
		}
		return formMap(values), nil
	case mediaType == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(maxBytes)
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
