package server

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
)

// recoverPanic, deferred by ServeHTTP, turns a panic while serving a
// request into a 500 problem, a log line with the request ID and a count.
// net/http would recover it too, but only by closing the connection
// without an answer and logging the panic's value, which may quote the
// request. A panic in another goroutine is beyond any recover: the
// pipeline starts none.
func (g *Gateway) recoverPanic(x *exchange) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		// net/http's way to abort a response on purpose.
		panic(v)
	}
	g.metrics.Panic()
	// A runtime error's text is the runtime's own ("index out of range [3]
	// with length 2"); any other value may hold request data, so only its
	// type is logged. The stack holds function names, lines and argument
	// words, never what strings or bodies contain.
	what := fmt.Sprintf("%T", v)
	if err, ok := v.(runtime.Error); ok {
		what = err.Error()
	}
	g.log.Error("panic serving a request", "appapi", x.appAPI, "request_id", x.requestID,
		"panic", what, "stack", string(debug.Stack()))
	if x.w.code != 0 {
		// The answer has begun: break the connection, so that the client
		// cannot take a truncated answer for a whole one.
		panic(http.ErrAbortHandler)
	}
	// Headers set before the panic (a challenge, a pipeline's own) belong
	// to an answer that is not coming.
	for name := range x.w.Header() {
		if name != "X-Request-Id" {
			x.w.Header().Del(name)
		}
	}
	g.fail(x, http.StatusInternalServerError, "", "the gateway failed while serving this request; its log has the request ID", nil)
}
