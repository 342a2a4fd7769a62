package server

import (
	"net/http"

	"github.com/appapi-dev/appapi/gateway/problem"
)

// LimitInFlight answers 503 with Retry-After once max requests are being
// served, instead of accepting more: every request may hold a body of up to
// the Environment's maxRequestBytes and upstream connections, and a gateway
// that sheds load early stays up for the requests it does take. shed is
// called for each refused request.
func LimitInFlight(next http.Handler, max int, shed func()) http.Handler {
	slots := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			shed()
			id := requestID(r)
			w.Header().Set("X-Request-Id", id)
			w.Header().Set("Retry-After", "1")
			problem.Write(w, problem.Problem{Status: http.StatusServiceUnavailable, Title: "Overloaded",
				Detail: "the gateway is serving as many requests as it may; retry shortly", Instance: boundedPath(r.URL.Path),
				RequestID: id})
		}
	})
}
