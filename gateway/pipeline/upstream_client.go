package pipeline

import (
	"net/http"
	"time"
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
