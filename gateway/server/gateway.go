// Package server is the gateway's HTTP side: it matches a request to an
// AppAPI, authenticates it, reads its body within the Environment's limit,
// runs the AppAPI's pipeline and writes the answer, and it swaps in new
// snapshots atomically, keeping the last good one.
package server

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/upstream"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Gateway serves the App APIs of the snapshot it loaded last.
type Gateway struct {
	current atomic.Pointer[config]
	expr    *expr.Compiler
	// client serves every snapshot, so connections to upstreams survive reloads.
	client  *upstream.Client
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	limits   Limits
	inFlight slots // pipelines running
	readers  slots // request bodies being read
	budget   budget

	// dataDir holds the SQLite file of an Environment whose datastore is sqlite.
	dataDir string
	// openStore opens a datastore; openDatastore but in tests.
	openStore opener
	// loadMu serialises Load and Close, which hand datastores over.
	loadMu sync.Mutex
}

// New returns a Gateway with no snapshot: it answers 503 until Load succeeds.
func New(log *slog.Logger, m *metrics.Metrics) (*Gateway, error) {
	env, err := expr.NewCompiler()
	if err != nil {
		return nil, err
	}
	g := &Gateway{expr: env, client: pipeline.NewUpstreamClient(), metrics: m, log: log, now: time.Now,
		dataDir: DefaultDataDir, openStore: openDatastore}
	g.SetLimits(DefaultLimits())
	return g, nil
}

// SetLimits replaces the gateway's limits; call it before serving.
func (g *Gateway) SetLimits(l Limits) {
	g.limits = l
	g.inFlight = make(slots, l.MaxInFlight)
	g.readers = make(slots, l.MaxBodyReaders)
	g.budget.limit = l.MemoryLimit
}

// SetDataDir sets the directory of the SQLite file (data.db) of an
// Environment whose datastore is sqlite; call it before the first Load.
func (g *Gateway) SetDataDir(dir string) { g.dataDir = dir }

// Load validates and compiles a snapshot and serves it from the next
// request on. A snapshot that fails validation is refused and the current
// one stays; so is one older than the current one, which a slow reader
// could otherwise deliver after a newer one, unless it is bound (the
// credentials Secret names it, so the manager published it: a restore).
func (g *Gateway) Load(s *snapshot.Snapshot) error {
	if err := s.Validate(); err != nil {
		g.metrics.Rejected()
		return fmt.Errorf("snapshot generation %d is invalid, keeping the current one: %w", s.Generation, err)
	}
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	cur := g.current.Load()
	if cur != nil && s.Generation < cur.Snapshot.Generation && !s.Bound {
		g.metrics.Rejected()
		return fmt.Errorf("snapshot generation %d is older than the served %d", s.Generation, cur.Snapshot.Generation)
	}
	var prevStore *storeHandle
	if cur != nil {
		prevStore = cur.datastore
	}
	// A datastore that cannot be opened does not stop the snapshot: its
	// store steps answer 503 while the handle retries, and every other
	// AppAPI is served.
	store, fresh := g.storeFor(s, prevStore)
	cfg, problems := compileConfig(s, cur, g.expr, g.client, g.metrics, g.metrics)
	if cfg == nil {
		if fresh {
			store.retire()
		}
		g.metrics.Rejected()
		return fmt.Errorf("snapshot generation %d: %v", s.Generation, problems)
	}
	cfg.datastore = store
	if store != nil {
		cfg.Runtime.Store = store
	}
	for _, p := range problems {
		g.log.Warn("route left out of the snapshot", "generation", s.Generation, "error", p.Error())
	}
	g.current.Store(cfg)
	if prevStore != nil && prevStore != store {
		// Requests still running on the previous config keep it until
		// they finish; it closes then.
		prevStore.retire()
	}
	g.metrics.Loaded(s.Generation, cfg.Router.Len(), cfg.Tokens.Len())
	g.log.Info("snapshot loaded", "generation", s.Generation, "routes", cfg.Router.Len(), "tokens", cfg.Tokens.Len())
	return nil
}

// Ready says whether a snapshot is loaded.
func (g *Gateway) Ready() error {
	if g.current.Load() == nil {
		return errNoConfig
	}
	return nil
}
