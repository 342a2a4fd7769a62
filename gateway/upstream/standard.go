package upstream

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// doStandard sends req over net/http.
func (c *Client) doStandard(ctx context.Context, req *Request, d deadline, limit int64) (*Response, error) {
	sctx, cancel := context.WithCancel(ctx)
	if !d.at.IsZero() {
		sctx, cancel = context.WithDeadline(ctx, d.at)
	}
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(sctx, req.Method, req.URL.String(), body)
	if err != nil {
		return nil, ErrRequest
	}
	hreq.Header = make(http.Header, len(req.Header))
	for _, f := range req.Header {
		if !framingField(f.Name) {
			hreq.Header.Set(f.Name, f.Value)
		}
	}
	if req.Host != "" {
		hreq.Host = req.Host
	}

	resp, err := c.standard.Do(hreq)
	if err != nil {
		return nil, d.failure(ctx, err, ErrConnect)
	}
	defer func() { _ = resp.Body.Close() }()
	// A HEAD answer's Content-Length is that of a body it does not have.
	if resp.ContentLength > limit && req.Method != http.MethodHead {
		return nil, ErrTooLarge
	}
	buf := getBuffer()
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		putBuffer(buf)
		return nil, d.failure(ctx, err, ErrRead)
	}
	if int64(buf.Len()) > limit {
		putBuffer(buf)
		return nil, ErrTooLarge
	}

	header := make(map[string]any, len(resp.Header))
	for name, values := range resp.Header {
		header[lowerName(name)] = strings.Join(values, ", ")
	}
	return &Response{
		Status:      resp.StatusCode,
		Header:      header,
		ContentType: resp.Header.Get("Content-Type"),
		Body:        buf.Bytes(),
		buf:         buf,
	}, nil
}

// buffers holds the buffers that net/http's responses are read into, so
// that reading one does not grow a new slice from 512 bytes each time.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer bounds the buffers kept for reuse: one large response
// must not pin its size in the pool.
const maxPooledBuffer = 64 << 10

func getBuffer() *bytes.Buffer {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		buffers.Put(buf)
	}
}
