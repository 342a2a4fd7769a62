// Package upstream sends the requests of http steps and reads their
// answers, each whole and within a size limit.
//
// A Client has two ways to an upstream. Plain http:// upstreams go over
// fasthttp's HTTP/1.1 connection pools, one per host:port, driven from the
// goroutine of the request itself: net/http's Transport hands every request
// to a writer and a reader goroutine per connection and waits on channels
// for them, which under proxy load costs about as much CPU as the rest of the
// gateway. Everything else goes over net/http: https:// (HTTP/2 by ALPN, and
// the standard library's certificate verification), a URL with user
// information, and a URL that the environment's HTTP_PROXY/NO_PROXY settings
// send through a proxy. Both ways keep the same contract: redirects are
// answers, not followed; the body is read whole but never past the limit;
// the step's timeout and the caller's context bound the whole exchange; and
// errors never quote the URL.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpproxy"
)

// Request is one request to an upstream.
type Request struct {
	Method string
	URL    *url.URL
	// Host, if not empty, is sent as the Host header instead of the URL's
	// host.
	Host string
	// Header holds the fields to send, each name once. Host, Content-Length,
	// Transfer-Encoding and Trailer are not taken from here: the client
	// frames the message itself, as net/http does.
	Header []Field
	// Body is sent as it is; nil sends none.
	Body []byte
}

// Field is one header field.
type Field struct{ Name, Value string }

// Response is an upstream's answer, read whole. Release it once Body is no
// longer needed.
type Response struct {
	Status int
	// Header has the fields as a step's output shows them: lower-case
	// names, and the values of a repeated field joined with ", ".
	Header map[string]any
	// ContentType is the Content-Type field's value, or "".
	ContentType string
	// Body is valid until Release.
	Body []byte

	// What Body lies in: one of them.
	fast *fasthttp.Response
	buf  *bytes.Buffer
}

// Release gives back what the response holds; its Body must not be used
// afterwards.
func (r *Response) Release() {
	if r.fast != nil {
		fasthttp.ReleaseResponse(r.fast)
	}
	if r.buf != nil {
		putBuffer(r.buf)
	}
	*r = Response{}
}

// The errors of Do, besides the caller's context.Canceled and
// context.DeadlineExceeded (when the context ended first). None of them
// quotes the URL, which may hold secrets.
var (
	ErrTimeout  = errors.New("the upstream did not answer within the step's timeout")
	ErrTooLarge = errors.New("the upstream's response is larger than the limit")
	ErrConnect  = errors.New("connection to the upstream failed")
	ErrRead     = errors.New("reading the upstream's response failed")
	ErrRequest  = errors.New("the request cannot be built from the URL and method")
)

// Defaults of the connection pools.
const (
	// MaxIdleConnsPerHost is how many idle connections to one upstream are
	// kept for reuse; more are closed when their request ends.
	MaxIdleConnsPerHost = 64
	// IdleConnTimeout closes a connection idle this long.
	IdleConnTimeout = 90 * time.Second
	// maxIdleConns bounds the idle connections of the net/http side over
	// all hosts.
	maxIdleConns = 512
)

// Client sends requests to upstreams; it is safe for concurrent use.
type Client struct {
	// standard serves what the fast side does not.
	standard *http.Client
	// fast is false when every request goes to standard.
	fast bool
	// proxy says which http:// URLs the environment sends through a proxy;
	// nil when it sends none.
	proxy func(*url.URL) (*url.URL, error)
	// hosts holds the fast side's pools, a *fastHost by host:port.
	hosts sync.Map
}

// New returns the client of http steps: plain http:// upstreams over
// fasthttp, the rest over a net/http client with pooled connections that
// follows no redirects.
func New() *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.IdleConnTimeout = IdleConnTimeout
	c := &Client{standard: &http.Client{Transport: t, CheckRedirect: answerRedirects}, fast: true}
	// What http.ProxyFromEnvironment decides, read once as it is.
	if cfg := httpproxy.FromEnvironment(); cfg.HTTPProxy != "" {
		c.proxy = cfg.ProxyFunc()
	}
	return c
}

// NewStandard returns a client that sends every request over hc (a test's
// transport, say). Its redirect policy is replaced: redirects are answers.
func NewStandard(hc *http.Client) *Client {
	own := *hc
	own.CheckRedirect = answerRedirects
	return &Client{standard: &own}
}

// answerRedirects makes a redirect the answer: following it would send
// the step's fields, API keys included, to a host that configuration did
// not choose.
func answerRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Do sends req and reads the answer, of at most limit body bytes, before
// timeout (0 for none) and before ctx ends.
func (c *Client) Do(ctx context.Context, req *Request, timeout time.Duration, limit int64) (*Response, error) {
	d := deadlineOf(ctx, timeout)
	if c.takesFast(req.URL) {
		return c.doFast(ctx, req, d, limit)
	}
	return c.doStandard(ctx, req, d, limit)
}

// takesFast says whether u goes over the fast side: plain http, without
// user information (net/http turns it into an Authorization field), and
// not through a proxy.
func (c *Client) takesFast(u *url.URL) bool {
	if !c.fast || u.Scheme != "http" || u.User != nil {
		return false
	}
	if c.proxy != nil {
		if p, err := c.proxy(u); err != nil || p != nil {
			return false
		}
	}
	return true
}

// deadline is when an exchange must have ended, and whether that is the
// caller's deadline rather than the step's timeout.
type deadline struct {
	at       time.Time
	ofCaller bool
}

func deadlineOf(ctx context.Context, timeout time.Duration) deadline {
	var d deadline
	if timeout > 0 {
		d.at = time.Now().Add(timeout)
	}
	if at, ok := ctx.Deadline(); ok && (d.at.IsZero() || at.Before(d.at)) {
		d = deadline{at: at, ofCaller: true}
	}
	return d
}

// failure names what ended a failed exchange without quoting err, whose
// text may hold the URL. phase is ErrConnect or ErrRead.
func (d deadline) failure(ctx context.Context, err, phase error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	passed := !d.at.IsZero() && !time.Now().Before(d.at)
	if passed && d.ofCaller {
		// The context's own timer may not have fired yet.
		return context.DeadlineExceeded
	}
	if passed || isTimeout(err) {
		return ErrTimeout
	}
	return phase
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// replayable says whether a request may be sent again on a new connection
// after a reused one turned out closed, by net/http's rule: idempotent
// methods, or a request that carries an idempotency key.
func replayable(req *Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	for _, f := range req.Header {
		if strings.EqualFold(f.Name, "Idempotency-Key") || strings.EqualFold(f.Name, "X-Idempotency-Key") {
			return true
		}
	}
	return false
}

// framingField says whether a field name is one the client writes itself.
func framingField(name string) bool {
	return strings.EqualFold(name, "Host") || strings.EqualFold(name, "Content-Length") ||
		strings.EqualFold(name, "Transfer-Encoding") || strings.EqualFold(name, "Trailer")
}

// addLowerField adds a field, its name already in lower case, to a step's
// view of the response header.
func addLowerField(h map[string]any, name, value string) {
	if prev, ok := h[name]; ok {
		h[name] = prev.(string) + ", " + value
		return
	}
	h[name] = value
}

// lowerNames are the lower-case forms of the response fields most
// upstreams send, so that naming them allocates nothing.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Date", "Etag", "Expires", "Keep-Alive", "Last-Modified", "Location", "Server", "Set-Cookie", "Transfer-Encoding",
		"Vary", "X-Request-Id"} {
		m[name] = strings.ToLower(name)
	}
	return m
}()

// lowerNameOf is lowerName of a name in bytes, allocating only for a
// name outside lowerNames.
func lowerNameOf(name []byte) string {
	if lower, ok := lowerNames[string(name)]; ok {
		return lower
	}
	return strings.ToLower(string(name))
}

func lowerName(name string) string {
	if lower, ok := lowerNames[name]; ok {
		return lower
	}
	return strings.ToLower(name)
}
