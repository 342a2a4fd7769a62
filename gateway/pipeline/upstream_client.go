package pipeline

import "github.com/appapi-dev/appapi/gateway/upstream"

// defaultClient serves http steps of a Runtime without an HTTPClient.
var defaultClient = NewUpstreamClient()

// NewUpstreamClient is the client of http steps: connections pooled per
// upstream, plain http:// upstreams without a goroutine hand-off per
// request, and redirects not followed. A redirect is the upstream's answer
// (its status and Location are in the step's output): following it would
// send the step's headers, API keys included, to a host that configuration
// did not choose.
func NewUpstreamClient() *upstream.Client {
	return upstream.New()
}

func (rt *Runtime) client() *upstream.Client {
	if rt.HTTPClient != nil {
		return rt.HTTPClient
	}
	return defaultClient
}
