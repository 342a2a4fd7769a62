package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// refusal is what the server answers, before an endpoint sees the
// request, for a body it cannot take: unreadable, too slow, too large, or
// more than the memory budget has room for (503).
type refusal struct {
	status        int
	title, detail string
}

// minBodyBuffer is the first buffer of a body, which then doubles as bytes
// arrive: a caller that declares a large body and sends little of it gets
// a small buffer.
const minBodyBuffer = 4 << 10

// bodyReading is how one body is read: its limits, its deadlines and the
// memory budget it is charged against.
type bodyReading struct {
	maxBytes int64
	// deadline is when the whole body must have arrived; idle is the
	// longest pause between two reads.
	deadline time.Time
	idle     time.Duration
	rc       *http.ResponseController
	charge   *charge
}

// readBody reads at most maxBytes, and never more than one byte past it to
// find out that a body is too large. Every buffer is charged before it is
// allocated, so what slow senders hold is what they sent.
func readBody(r *http.Request, br bodyReading) ([]byte, *refusal) {
	tooLarge := &refusal{status: http.StatusRequestEntityTooLarge, title: "Payload too large",
		detail: fmt.Sprintf("the request body is larger than the environment's limit of %d bytes", br.maxBytes)}
	if r.ContentLength > br.maxBytes {
		return nil, tooLarge
	}
	bound := br.maxBytes + 1
	if r.ContentLength >= 0 {
		bound = r.ContentLength + 1 // net/http stops a body at its declared length
	}
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			size := min(max(2*int64(cap(buf)), minBodyBuffer), bound)
			if !br.charge.growTo(size) {
				return nil, &refusal{status: http.StatusServiceUnavailable, title: "Overloaded",
					detail: "the gateway's memory limit has no room for another request body; retry shortly"}
			}
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			buf = grown
		}
		// Each read must come within the idle timeout, and all of them
		// before the deadline.
		next := time.Now().Add(br.idle)
		if next.After(br.deadline) {
			next = br.deadline
		}
		_ = br.rc.SetReadDeadline(next)
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > br.maxBytes {
			return nil, tooLarge
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return buf, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			detail := "the request body did not arrive within the environment's request timeout"
			if time.Now().Before(br.deadline) {
				detail = fmt.Sprintf("the request body paused for more than %s", br.idle)
			}
			return nil, &refusal{status: http.StatusRequestTimeout, title: "Request timeout", detail: detail}
		default:
			return nil, &refusal{status: http.StatusBadRequest, title: "Bad request", detail: "the request body could not be read"}
		}
	}
}
