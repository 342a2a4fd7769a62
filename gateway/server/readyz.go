package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// pingTimeout bounds how long /readyz waits for the datastore to answer.
const pingTimeout = 2 * time.Second

// readyCheck is one thing /readyz checks.
type readyCheck struct {
	name  string
	check func(ctx context.Context) error
}

// readyChecks are the checks of /readyz, in the order it reports them.
func (g *Gateway) readyChecks() []readyCheck {
	return []readyCheck{
		{"snapshot", func(context.Context) error { return g.Ready() }},
		{"datastore", g.datastoreReady},
	}
}

// datastoreReady says whether the datastore of the served snapshot answers;
// a snapshot without a datastore (or no snapshot yet) has nothing to check.
func (g *Gateway) datastoreReady(ctx context.Context) error {
	cfg := g.current.Load()
	if cfg == nil || cfg.datastore == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return cfg.datastore.ready(ctx)
}

// serveReadyz answers /readyz as Kubernetes components do: 200 "ok" when
// every check passes, else 503 with a line per check ([+]name ok, or
// [-]name failed: reason); ?verbose lists the checks on success too, and
// ?exclude=name (repeatable) leaves a check out. The gateway's
// readinessProbe excludes the datastore, so that a database outage does not
// take the other AppAPIs out of the Service, while monitoring of /readyz
// sees it.
func (g *Gateway) serveReadyz(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	excluded := q["exclude"]
	var report strings.Builder
	failed := false
	for _, c := range g.readyChecks() {
		if slices.Contains(excluded, c.name) {
			fmt.Fprintf(&report, "[+]%s excluded: ok\n", c.name)
			continue
		}
		if err := c.check(r.Context()); err != nil {
			failed = true
			fmt.Fprintf(&report, "[-]%s failed: %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(&report, "[+]%s ok\n", c.name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case failed:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(report.String() + "readyz check failed\n"))
	case q.Has("verbose"):
		_, _ = w.Write([]byte(report.String() + "readyz check passed\n"))
	default:
		_, _ = w.Write([]byte("ok\n"))
	}
}
