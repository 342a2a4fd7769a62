package server

import (
	"context"
	"net/http"

	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/upstream"
)

// SetUpstreamClient replaces the client of http steps before a snapshot
// is loaded, for tests that need an upstream side that misbehaves.
func (g *Gateway) SetUpstreamClient(c *http.Client) { g.client = upstream.NewStandard(c) }

// BodyCost is the cost model, for tests that compare it with measurements.
var BodyCost = bodyCost

// CountCloses makes the datastores the gateway opens from now on report
// each Close to closed, with the location they were opened at.
func (g *Gateway) CountCloses(closed chan<- string) {
	open := g.openStore
	g.openStore = func(ctx context.Context, t storeTarget) (datastore.Store, error) {
		s, err := open(ctx, t)
		if err != nil {
			return nil, err
		}
		return reportingClose{Store: s, location: t.location, closed: closed}, nil
	}
}

type reportingClose struct {
	datastore.Store
	location string
	closed   chan<- string
}

func (r reportingClose) Close() error {
	err := r.Store.Close()
	r.closed <- r.location
	return err
}
