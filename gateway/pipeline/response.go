package pipeline

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// response is a compiled answer: the response block, or a respond step's.
type response struct {
	status   int
	headers  map[string]*expr.Template
	body     *expr.Program
	redirect *expr.Template
}

// response compiles what a respond step (field "respond") and the response
// block (field "") share.
func (c *compiler) response(field string, status *int32, headers map[string]string, body, redirect string) (response, error) {
	if field != "" {
		field += "."
	}
	out := response{status: http.StatusOK}
	if redirect != "" {
		out.status = http.StatusFound
	}
	if status != nil {
		out.status = int(*status)
	}
	if out.status < 100 || out.status > 599 {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, field+"status", "%d is not an HTTP status code", out.status)
	}
	if redirect != "" && !isRedirectStatus(out.status) {
		return out, c.fail(v1alpha1.ReasonInvalidSpec, field+"status", "a redirect needs 301, 302, 303, 307 or 308, not %d", out.status)
	}
	var err error
	if out.headers, err = c.headers(field+"headers", headers); err != nil {
		return out, err
	}
	if out.body, err = c.program(field+"body", body); err != nil {
		return out, err
	}
	if out.redirect, err = c.template(field+"redirect", redirect); err != nil || out.redirect == nil {
		return out, err
	}
	return out, c.checkRedirect(field+"redirect", redirect, out.redirect)
}

// checkRedirect refuses a redirect that could never be valid, and one whose
// scheme and host are given (literal text, or a {{ vars.<name> }} base URL)
// but could be extended by a value: "https://example.org{{ x }}" sends
// callers to example.org.evil.com when x is ".evil.com". The destination of
// a redirect that starts with another expression ({{ steps.target }}) is
// that value, checked when it is rendered.
func (c *compiler) checkRedirect(field, source string, t *expr.Template) error {
	if t.IsLiteral() {
		if !validRedirect(source) {
			return c.fail(v1alpha1.ReasonInvalidSpec, field, "%q is not an absolute http or https URL without user information, or a path starting with a single /", source)
		}
		return nil
	}
	first := t.Parts()[0]
	if !hasHTTPScheme(first.Text) && !configVariable.MatchString(first.Expression) {
		return nil
	}
	if _, err := urlAuthorityParts(t); err != nil {
		return c.fail(v1alpha1.ReasonInvalidSpec, field,
			"%v: the scheme and host of a redirect must be literal text or {{ vars.<name> }}, so that configuration decides where callers are sent, e.g. https://example.org/pets/{{ request.params.id }} or /pets/{{ request.params.id }}", err)
	}
	return nil
}

func isRedirectStatus(s int) bool {
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308
}

// answer renders resp; field ("respond." or "response.") names its fields
// in errors. Without a body expression the body is def, the last step's
// output for the response block.
func (x *execution) answer(ctx context.Context, field string, resp *response, def any) (*Result, error) {
	if resp.redirect != nil {
		// A redirect has no body, and must not leak what the steps computed.
		def = nil
	}
	res := &Result{Status: resp.status, Body: def}
	if len(resp.headers) > 0 {
		res.Headers = make(http.Header, len(resp.headers))
		for _, name := range slices.Sorted(maps.Keys(resp.headers)) {
			v, err := x.render(ctx, fmt.Sprintf("%sheaders[%s]", field, name), resp.headers[name], nil)
			if err != nil {
				return nil, err
			}
			if !validHeaderValue(v) {
				return nil, newError(http.StatusInternalServerError, TitleInvalidHeader,
					"the response header %q is not a valid header (a line break or control character in its value?)", name)
			}
			res.Headers.Set(name, v)
		}
	}
	if resp.body != nil {
		v, err := x.eval(ctx, field+"body", resp.body)
		if err != nil {
			return nil, err
		}
		res.Body = v
	}
	if resp.redirect != nil {
		loc, err := x.render(ctx, field+"redirect", resp.redirect, nil)
		if err != nil {
			return nil, err
		}
		if !validRedirect(loc) {
			return nil, newError(http.StatusInternalServerError, TitleInvalidRedirect,
				"the redirect is not an absolute http or https URL or a path starting with a single /")
		}
		res.Redirect = loc
	}
	return res, nil
}

// validRedirect accepts absolute http(s) URLs without user info, and
// absolute paths. "//host" and "/\host" are refused: browsers read both as
// a URL on another host.
func validRedirect(s string) bool {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	if s[0] == '/' {
		return len(s) == 1 || (s[1] != '/' && s[1] != '\\')
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// validHeaderValue refuses control characters other than tab, which would
// end the header early (response splitting) or be refused by net/http.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
