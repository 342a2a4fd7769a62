package pipeline

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/upstream"
)

// defaultHTTPTimeout bounds an http step that sets no timeout.
const defaultHTTPTimeout = 10 * time.Second

// httpOp sends one HTTP request. Its output is {status, headers, body}.
// None of its errors mentions the URL: it may hold secrets, and the
// upstream's address is internal.
type httpOp struct {
	method string
	url    *expr.Template
	// urlParts says how each part of url is inserted.
	urlParts []urlPart
	// headers and query are sorted by name, so that each request sends
	// them in the same order without sorting them again.
	headers  []namedTemplate
	query    []namedTemplate
	body     *expr.Program
	bodyText *expr.Template
	timeout  time.Duration
}

// urlPart is where one part of an http URL stands, which decides how its
// value is inserted.
type urlPart int

const (
	// literalText is written by the pipeline author and trusted as it is.
	literalText urlPart = iota
	// authorityValue builds the scheme and host: an Environment variable,
	// inserted as it is.
	authorityValue
	// pathValue is escaped, and must not be empty: an empty segment
	// ("/users//orders") names another resource, or none.
	pathValue
	// queryValue, in the query or the fragment, is escaped.
	queryValue
)

func init() {
	register("http", compileHTTP)
}

func compileHTTP(c *compiler, s *v1alpha1.Step) (operation, error) {
	h := s.HTTP
	op := &httpOp{method: h.Method}
	if op.method == "" {
		op.method = http.MethodGet
	}
	if h.URL == "" {
		return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "is required")
	}
	var err error
	if op.url, err = c.template("http.url", h.URL); err != nil {
		return nil, err
	}
	if op.url.IsLiteral() {
		if u, perr := url.Parse(h.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "%q is not an absolute http or https URL", h.URL)
		}
	}
	if op.urlParts, err = urlParts(op.url); err != nil {
		return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.url",
			"%v: the scheme and host of an http URL must be literal text or {{ vars.<name> }}, e.g. https://api.example.com/{{ request.params.id }} or {{ vars.baseURL }}/orders", err)
	}
	headers, err := c.headers("http.headers", h.Headers)
	if err != nil {
		return nil, err
	}
	op.headers = sortedTemplates("http.headers", headers)
	for _, h := range op.headers {
		name := h.name
		// The Host header picks the site an upstream serves, as the URL's
		// host picks the upstream.
		if strings.EqualFold(name, "Host") && !fromConfiguration(h.tmpl) {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.headers["+name+"]",
				"the Host header must be literal text or {{ vars.<name> }}: it decides which site the upstream serves, so a value from the request, a step or a secret may not build it")
		}
	}
	query, err := c.templates("http.query", h.Query)
	if err != nil {
		return nil, err
	}
	op.query = sortedTemplates("http.query", query)
	if op.body, err = c.program("http.body", h.Body); err != nil {
		return nil, err
	}
	if op.bodyText, err = c.template("http.bodyText", h.BodyText); err != nil {
		return nil, err
	}
	op.timeout, err = c.duration("http.timeout", h.Timeout, defaultHTTPTimeout)
	return op, err
}

// urlParts says where each part of an http URL template stands. The
// scheme and host must come from configuration (urlAuthorityParts); the path
// runs from there to the first "?" or "#" of the literal text.
func urlParts(t *expr.Template) ([]urlPart, error) {
	authority, err := urlAuthorityParts(t)
	if err != nil {
		return nil, err
	}
	parts := t.Parts()
	kinds := make([]urlPart, len(parts))
	inPath := true
	for i, p := range parts {
		switch {
		case p.Expression == "":
			kinds[i] = literalText
			if i >= authority && strings.ContainsAny(p.Text, "?#") {
				inPath = false
			}
		case i < authority:
			kinds[i] = authorityValue
		case inPath:
			kinds[i] = pathValue
		default:
			kinds[i] = queryValue
		}
	}
	return kinds, nil
}

func (op *httpOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	out, err := op.exchange(ctx, x)
	return out, nil, err
}

// exchange sends the request and reads the answer.
func (op *httpOp) exchange(ctx context.Context, x *execution) (any, error) {
	raw, err := op.renderURL(ctx, x)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, newError(http.StatusBadGateway, TitleUpstreamFailed, "the URL is not an absolute http or https URL")
	}
	if hasDotSegment(u.EscapedPath()) {
		// EscapeURLValue leaves a value of exactly "." or ".." as is, and an
		// upstream that normalises the path would then serve another one.
		return nil, newError(http.StatusBadRequest, TitleInvalidURLValue,
			`a value inserted into the URL's path is "." or ".."`)
	}
	if len(op.query) > 0 {
		values := make(url.Values, len(op.query))
		for _, q := range op.query {
			v, err := x.render(ctx, q.field, q.tmpl, nil)
			if err != nil {
				return nil, err
			}
			values.Set(q.name, v)
		}
		if u.RawQuery != "" {
			u.RawQuery += "&" + values.Encode()
		} else {
			u.RawQuery = values.Encode()
		}
	}

	var body []byte
	contentType := ""
	switch {
	case op.body != nil:
		v, err := x.eval(ctx, "http.body", op.body)
		if err != nil {
			return nil, err
		}
		if body, err = encodeJSON(v); err != nil {
			return nil, newError(http.StatusInternalServerError, TitleInvalidValue,
				"the body cannot be encoded as JSON (NaN or infinity?)")
		}
		contentType = "application/json"
	case op.bodyText != nil:
		s, err := x.render(ctx, "http.bodyText", op.bodyText, nil)
		if err != nil {
			return nil, err
		}
		body = []byte(s)
		contentType = "text/plain; charset=utf-8"
	}

	req := &upstream.Request{Method: op.method, URL: u, Body: body, Header: make([]upstream.Field, 0, len(op.headers)+1)}
	hasContentType := false
	for _, h := range op.headers {
		name := h.name
		v, err := x.render(ctx, h.field, h.tmpl, nil)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(v) {
			return nil, newError(http.StatusInternalServerError, TitleInvalidHeader,
				"the request header %q is not a valid header (a line break or control character in its value?)", name)
		}
		if strings.EqualFold(name, "Host") {
			req.Host = v
			continue
		}
		hasContentType = hasContentType || strings.EqualFold(name, "Content-Type")
		req.Header = append(req.Header, upstream.Field{Name: name, Value: v})
	}
	if body != nil && !hasContentType {
		req.Header = append(req.Header, upstream.Field{Name: "Content-Type", Value: contentType})
	}

	resp, err := x.rt.client().Do(ctx, req, op.timeout, x.rt.maxUpstreamBodyBytes())
	if err != nil {
		return nil, upstreamError(ctx, err, op.timeout, x.rt.maxUpstreamBodyBytes())
	}
	// Nothing holds the body's bytes past this function: the output below
	// is a string copy or values decoded from them.
	defer resp.Release()
	var out any = string(resp.Body)
	if isJSON(resp.ContentType) {
		out = nil
		if len(bytes.TrimSpace(resp.Body)) > 0 {
			var err error
			if out, err = decodeJSONFast(resp.Body); err != nil {
				// decodeJSON's errors give a position or a limit, never the data.
				return nil, newError(http.StatusBadGateway, TitleUpstreamInvalid,
					"the upstream's response is not valid JSON, although its Content-Type says it is: %v", err)
			}
		}
	}
	return map[string]any{
		"status":  int64(resp.Status),
		"headers": resp.Header,
		"body":    out,
	}, nil
}

// renderURL renders the URL, escaping the values inserted after its host.
func (op *httpOp) renderURL(ctx context.Context, x *execution) (string, error) {
	texts, err := op.url.RenderParts(ctx, x.act)
	if err != nil {
		return "", exprError("http.url", err)
	}
	var b strings.Builder
	for i, text := range texts {
		switch op.urlParts[i] {
		case pathValue:
			if text == "" {
				return "", newError(http.StatusBadRequest, TitleInvalidURLValue,
					"a value inserted into the URL's path is empty (or null)")
			}
			text = expr.EscapeURLValue(text)
		case queryValue:
			text = expr.EscapeURLValue(text)
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// upstreamError turns a failed exchange with an upstream into the step's
// error; the client's errors never quote the URL.
func upstreamError(ctx context.Context, err error, timeout time.Duration, limit int64) error {
	if cerr := contextError(ctx); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline, a moment before its context says so.
		return timeoutError()
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, upstream.ErrTimeout):
		e := newError(http.StatusGatewayTimeout, TitleUpstreamTimeout, "the upstream did not answer within %s", timeout)
		e.cause = context.DeadlineExceeded
		return e
	case errors.Is(err, upstream.ErrTooLarge):
		return newError(http.StatusBadGateway, TitleUpstreamTooLarge, "the upstream's response is larger than %d bytes", limit)
	default:
		// ErrConnect, ErrRead and ErrRequest are sentences without the URL.
		return newError(http.StatusBadGateway, TitleUpstreamFailed, "%s", err.Error())
	}
}

// hasDotSegment reports whether an escaped URL path has a "." or ".."
// segment, also when written with percent-escapes.
func hasDotSegment(escaped string) bool {
	for seg := range strings.SplitSeq(escaped, "/") {
		if s, err := url.PathUnescape(seg); err == nil && (s == "." || s == "..") {
			return true
		}
	}
	return false
}

// namedTemplate is one header or query parameter of an http step, with the
// field its errors name.
type namedTemplate struct {
	name, field string
	tmpl        *expr.Template
}

// sortedTemplates lists templates by name, once at compile time.
func sortedTemplates(field string, m map[string]*expr.Template) []namedTemplate {
	out := make([]namedTemplate, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, namedTemplate{name: name, field: field + "[" + name + "]", tmpl: m[name]})
	}
	return out
}
