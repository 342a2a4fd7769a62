package upstream

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The fast side sends each request from the calling goroutine over a
// connection of fasthttp's pool for its host:port: no goroutine per
// connection and no channel hand-off per request. It drives the pool's
// connections itself (AcquireConn, ReleaseConn) rather than through
// HostClient.Do, because Do knows neither a context nor a limit per request.

// readBufferSize bounds the response header the fast side reads, as
// net/http's MaxResponseHeaderBytes does (nginx's proxy_buffer_size is 4 or
// 8 KiB). Each request in flight holds one such buffer.
const readBufferSize = 16 << 10

// userAgent is what net/http sends when the step sets no User-Agent.
const userAgent = "Go-http-client/1.1"

// longAgo is a deadline in the past: setting it interrupts a connection's
// reads and writes at once.
var longAgo = time.Unix(1, 0)

// fastHost is the pool of connections to one host:port.
type fastHost struct {
	hc *fasthttp.HostClient
}

func (c *Client) fastHost(addr string) *fastHost {
	if h, ok := c.hosts.Load(addr); ok {
		return h.(*fastHost)
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	h := &fastHost{hc: &fasthttp.HostClient{
		Addr: addr,
		// net/http bounds idle connections only; MaxIdleConnsPerHost is
		// kept by release.
		MaxConns:            math.MaxInt32,
		MaxIdleConnDuration: IdleConnTimeout,
		ReadBufferSize:      readBufferSize,
		// net.Dialer as net/http dials: both address families, and the
		// resolver asked at each dial rather than fasthttp's cache.
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			d := *dialer
			d.Timeout = timeout
			return d.Dial("tcp", addr)
		},
	}}
	actual, _ := c.hosts.LoadOrStore(addr, h)
	return actual.(*fastHost)
}

// hostPort is the address to dial for a URL's host.
func hostPort(host, port string) string {
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port)
}

func (c *Client) doFast(ctx context.Context, req *Request, d deadline, limit int64) (*Response, error) {
	if !d.at.IsZero() && !time.Now().Before(d.at) {
		return nil, d.failure(ctx, ErrTimeout, ErrConnect)
	}
	h := c.fastHost(hostPort(req.URL.Hostname(), req.URL.Port()))
	freq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(freq)
	buildFastRequest(freq, req)

	fresp := fasthttp.AcquireResponse()
	max := int(min(limit, math.MaxInt))
	for {
		reused, phase, err := h.exchange(ctx, freq, fresp, d, max, !replayable(req))
		if err == nil {
			break
		}
		// A reused connection that the upstream had closed fails before
		// any answer: net/http sends a replayable request again.
		if reused && phase == errStale && replayable(req) && ctx.Err() == nil {
			continue
		}
		fasthttp.ReleaseResponse(fresp)
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return nil, ErrTooLarge
		}
		if phase == errStale {
			phase = ErrConnect
		}
		return nil, d.failure(ctx, err, phase)
	}

	header := make(map[string]any, fresp.Header.Len())
	for name, value := range fresp.Header.All() {
		addLowerField(header, lowerNameOf(name), string(value))
	}
	return &Response{
		Status:      fresp.StatusCode(),
		Header:      header,
		ContentType: string(fresp.Header.ContentType()),
		Body:        fresp.Body(),
		fast:        fresp,
	}, nil
}

// buildFastRequest writes req into freq, with the request line and the
// Host field as net/http writes them.
func buildFastRequest(freq *fasthttp.Request, req *Request) {
	freq.Header.SetMethod(req.Method)
	freq.Header.SetRequestURI(req.URL.RequestURI())
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	freq.Header.SetHost(host)
	freq.UseHostHeader = true
	ua := false
	for _, f := range req.Header {
		if framingField(f.Name) {
			continue
		}
		freq.Header.Set(f.Name, f.Value)
		ua = ua || strings.EqualFold(f.Name, "User-Agent")
	}
	if !ua {
		freq.Header.SetUserAgent(userAgent)
	}
	if req.Body != nil {
		freq.SetBodyRaw(req.Body)
	}
}

// errStale is the phase of a failure on a connection before any byte of
// the answer: writing the request, or the first read.
var errStale = errors.New("connection closed before the answer")

// exchange sends freq on a connection of the pool and reads the answer into
// fresp. reused says whether the connection had served a request before.
// once says that the request must not be sent twice: it then goes on a
// reused connection only if the upstream has not closed it.
func (h *fastHost) exchange(ctx context.Context, freq *fasthttp.Request, fresp *fasthttp.Response, d deadline, limit int, once bool) (reused bool, phase, err error) {
	var wait time.Duration
	if !d.at.IsZero() {
		wait = time.Until(d.at)
	}
	cc, err := h.hc.AcquireConn(wait, false)
	for err == nil && once && !cc.LastUseTime().IsZero() && closedByPeer(cc.Conn()) {
		h.hc.CloseConn(cc)
		cc, err = h.hc.AcquireConn(wait, false)
	}
	if err != nil {
		return false, ErrConnect, err
	}
	reused = !cc.LastUseTime().IsZero()
	conn := cc.Conn()
	if err := conn.SetDeadline(d.at); err != nil {
		h.hc.CloseConn(cc)
		return reused, errStale, err
	}
	// The caller leaving interrupts the exchange; the connection is then
	// closed, since the function may still run when this one returns.
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	}

	bw := h.hc.AcquireWriter(conn)
	err = freq.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	h.hc.ReleaseWriter(bw)
	if err != nil {
		stop()
		h.hc.CloseConn(cc)
		return reused, errStale, err
	}

	fresp.Reset()
	fresp.Header.SetNoDefaultContentType(true)
	fresp.SkipBody = freq.Header.IsHead()
	br := h.hc.AcquireReader(conn)
	err = fresp.ReadLimitBody(br, limit)
	h.hc.ReleaseReader(br)
	interrupted := !stop()
	switch {
	case err != nil:
		h.hc.CloseConn(cc)
		// The header parser reports any failure of the first read as
		// io.EOF itself.
		if err == io.EOF {
			return reused, errStale, err
		}
		return reused, ErrRead, err
	case interrupted || fresp.ConnectionClose() || freq.Header.ConnectionClose() || fresp.StatusCode() == fasthttp.StatusSwitchingProtocols ||
		h.hc.IdleConnsCount() >= MaxIdleConnsPerHost:
		h.hc.CloseConn(cc)
	default:
		h.hc.ReleaseConn(cc)
	}
	return reused, nil, nil
}
