package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/gateway/expr"
)

// defaultClient serves http steps of a Runtime without an HTTPClient.
var defaultClient = NewUpstreamClient()

// NewUpstreamClient is the client of http steps: connections pooled per
// upstream, and redirects not followed. A redirect is the upstream's answer
// (its status and Location are in the step's output): following it would
// send the step's headers, API keys included, to a host that configuration
// did not choose.
func NewUpstreamClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (rt *Runtime) client() *http.Client {
	if rt.HTTPClient != nil {
		return rt.HTTPClient
	}
	return defaultClient
}

// http runs an http step. Its output is {status, headers, body}. None of
// its errors mentions the URL: it may hold secrets, and the upstream's
// address is internal.
func (x *execution) http(ctx context.Context, st *Step) (any, error) {
	h := st.Source.HTTP
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}

	raw, err := st.URL.RenderRawPrefix(ctx, x.act, expr.EscapeURLValue, st.URLRawParts)
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
	if len(st.Query) > 0 {
		values := make(url.Values, len(st.Query))
		for _, name := range slices.Sorted(maps.Keys(st.Query)) {
			v, err := x.render(ctx, "http.query["+name+"]", st.Query[name], nil)
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
	case st.Body != nil:
		v, err := x.eval(ctx, "http.body", st.Body)
		if err != nil {
			return nil, err
		}
		if body, err = encodeJSON(v); err != nil {
			return nil, newError(http.StatusInternalServerError, TitleInvalidValue,
				"the body cannot be encoded as JSON (NaN or infinity?)")
		}
		contentType = "application/json"
	case st.BodyText != nil:
		s, err := x.render(ctx, "http.bodyText", st.BodyText, nil)
		if err != nil {
			return nil, err
		}
		body = []byte(s)
		contentType = "text/plain; charset=utf-8"
	}

	headers := make(http.Header, len(st.Headers)+1)
	host := ""
	for _, name := range slices.Sorted(maps.Keys(st.Headers)) {
		v, err := x.render(ctx, "http.headers["+name+"]", st.Headers[name], nil)
		if err != nil {
			return nil, err
		}
		if !validHeaderName(name) || !validHeaderValue(v) {
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
	if st.Timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, st.Timeout)
	}
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(sctx, method, u.String(), reader)
	if err != nil {
		return nil, newError(http.StatusBadGateway, TitleUpstreamFailed, "the request cannot be built from the URL and method")
	}
	req.Header = headers
	if host != "" {
		req.Host = host
	}

	resp, err := x.rt.client().Do(req)
	if err != nil {
		return nil, upstreamError(ctx, sctx, err, st.Timeout, "connection to the upstream failed")
	}
	defer func() { _ = resp.Body.Close() }()

	limit := x.rt.maxUpstreamBodyBytes()
	if resp.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, upstreamError(ctx, sctx, err, st.Timeout, "reading the upstream's response failed")
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
			if out, err = DecodeJSON(data); err != nil {
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

// isJSON reports whether a Content-Type is application/json or +json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// encodeJSON encodes compactly, without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
