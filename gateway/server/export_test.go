package server

import (
	"net/http"

	"github.com/appapi-dev/appapi/gateway/upstream"
)

// SetUpstreamClient replaces the client of http steps before a snapshot
// is loaded, for tests that need an upstream side that misbehaves.
func (g *Gateway) SetUpstreamClient(c *http.Client) { g.client = upstream.NewStandard(c) }

// BodyCost is the cost model, for tests that compare it with measurements.
var BodyCost = bodyCost
