package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// refusal is what the server answers, before an endpoint sees the
// request, for a body it cannot take: unreadable, too slow or too large.
type refusal struct {
	status        int
	title, detail string
}

// readBody reads at most maxBytes, and never more than one byte past it to
// find out that a body is too large.
func readBody(r *http.Request, maxBytes int64) ([]byte, *refusal) {
	tooLarge := &refusal{status: http.StatusRequestEntityTooLarge, title: "Payload too large",
		detail: fmt.Sprintf("the request body is larger than the environment's limit of %d bytes", maxBytes)}
	if r.ContentLength > maxBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &refusal{status: http.StatusRequestTimeout, title: "Request timeout",
			detail: "the request body did not arrive within the environment's request timeout"}
	}
	if err != nil {
		return nil, &refusal{status: http.StatusBadRequest, title: "Bad request", detail: "the request body could not be read"}
	}
	if int64(len(body)) > maxBytes {
		return nil, tooLarge
	}
	return body, nil
}
