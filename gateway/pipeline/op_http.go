package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// defaultHTTPTimeout bounds an http step that sets no timeout.
const defaultHTTPTimeout = 10 * time.Second

// httpOp sends one HTTP request. Its output is {status, headers, body}.
// None of its errors mentions the URL: it may hold secrets, and the
// upstream's address is internal.
type httpOp struct {
	method string
	url    *expr.Template
	// urlRawParts counts the parts of url that build its scheme and host:
	// configuration, inserted unescaped.
	urlRawParts int
	headers     map[string]*expr.Template
	query       map[string]*expr.Template
	body        *expr.Program
	bodyText    *expr.Template
	timeout     time.Duration
}

func init() {
	register("http", compileHTTP)
}

func compileHTTP(c *compiler, s *v1alpha1.Step) (operation, error) {
	h := s.HTTP
	op := &httpOp{method: h.Method}
	if op.method == "" {
		op.method = http.MethodGet
	}
	var err error
	if op.url, err = c.template("http.url", h.URL); err != nil {
		return nil, err
	}
	if op.url.IsLiteral() {
		if u, perr := url.Parse(h.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "%q is not an absolute http or https URL", h.URL)
		}
	} else if op.urlRawParts, err = urlAuthorityParts(op.url); err != nil {
		return nil, c.fail(v1alpha1.ReasonInvalidSpec, "http.url", "%v", err)
	}
	if op.headers, err = c.headers("http.headers", h.Headers); err != nil {
		return nil, err
	}
	if op.query, err = c.templates("http.query", h.Query); err != nil {
		return nil, err
	}
	if op.body, err = c.program("http.body", h.Body); err != nil {
		return nil, err
	}
	if op.bodyText, err = c.template("http.bodyText", h.BodyText); err != nil {
		return nil, err
	}
	op.timeout, err = c.duration("http.timeout", h.Timeout, defaultHTTPTimeout)
	return op, err
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

func (op *httpOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	out, err := op.exchange(ctx, x)
	return out, nil, err
}

// exchange sends the request and reads the answer.
func (op *httpOp) exchange(ctx context.Context, x *execution) (any, error) {
	raw, err := op.url.RenderRawPrefix(ctx, x.act, expr.EscapeURLValue, op.urlRawParts)
	if err != nil {
		return nil, exprError("http.url", err)
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
		for _, name := range slices.Sorted(maps.Keys(op.query)) {
			v, err := x.render(ctx, "http.query["+name+"]", op.query[name], nil)
			if err != nil {
				return nil, err
			}
			values.Set(name, v)
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

	headers := make(http.Header, len(op.headers)+1)
	host := ""
	for _, name := range slices.Sorted(maps.Keys(op.headers)) {
		v, err := x.render(ctx, "http.headers["+name+"]", op.headers[name], nil)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(v) {
			return nil, newError(http.StatusInternalServerError, TitleInvalidHeader,
				"the request header %q is not a valid header (a line break or control character in its value?)", name)
		}
		if strings.EqualFold(name, "Host") {
			host = v
			continue
		}
		headers.Set(name, v)
	}
	if body != nil && headers.Get("Content-Type") == "" {
		headers.Set("Content-Type", contentType)
	}

	sctx, cancel := context.WithCancel(ctx)
	if op.timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, op.timeout)
	}
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(sctx, op.method, u.String(), reader)
	if err != nil {
		return nil, newError(http.StatusBadGateway, TitleUpstreamFailed, "the request cannot be built from the URL and method")
	}
	req.Header = headers
	if host != "" {
		req.Host = host
	}

	resp, err := x.rt.client().Do(req)
	if err != nil {
		return nil, upstreamError(ctx, sctx, err, op.timeout, "connection to the upstream failed")
	}
	defer func() { _ = resp.Body.Close() }()

	limit := x.rt.maxUpstreamBodyBytes()
	if resp.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, upstreamError(ctx, sctx, err, op.timeout, "reading the upstream's response failed")
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(limit)
	}

	respHeaders := make(map[string]any, len(resp.Header))
	for name, values := range resp.Header {
		respHeaders[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	var out any = string(data)
	if isJSON(resp.Header.Get("Content-Type")) {
		out = nil
		if len(bytes.TrimSpace(data)) > 0 {
			var err error
			if out, err = decodeJSON(data); err != nil {
				return nil, newError(http.StatusBadGateway, TitleUpstreamInvalid,
					"the upstream's response is not valid JSON, although its Content-Type says it is")
			}
		}
	}
	return map[string]any{
		"status":  int64(resp.StatusCode),
		"headers": respHeaders,
		"body":    out,
	}, nil
}

// upstreamError classifies a failed exchange with an upstream without
// quoting err, whose text holds the URL.
func upstreamError(ctx, sctx context.Context, err error, timeout time.Duration, failed string) error {
	if cerr := contextError(ctx); cerr != nil {
		return cerr
	}
	var ne net.Error
	if errors.Is(sctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e := newError(http.StatusGatewayTimeout, TitleUpstreamTimeout, "the upstream did not answer within %s", timeout)
		e.cause = context.DeadlineExceeded
		return e
	}
	return newError(http.StatusBadGateway, TitleUpstreamFailed, "%s", failed)
}

func tooLarge(limit int64) error {
	return newError(http.StatusBadGateway, TitleUpstreamTooLarge, "the upstream's response is larger than %d bytes", limit)
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
