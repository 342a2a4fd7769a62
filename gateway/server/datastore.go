package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// DefaultDataDir is where the SQLite file is kept unless SetDataDir says
// otherwise: the mount point of the Environment's PersistentVolumeClaim.
const DefaultDataDir = "/var/lib/appapi"

// sqliteFile is the name of the SQLite file in the data directory.
const sqliteFile = "data.db"

// Opening a datastore: how long one attempt may take, and the backoff
// between failed attempts.
const (
	openTimeout  = 10 * time.Second
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// storeTarget is the datastore a snapshot names: its kind and where it is.
// location is a file path for SQLite and the connection URL for
// PostgreSQL, which holds a password: it is compared, never logged.
type storeTarget struct {
	kind     snapshot.DatastoreKind
	location string
}

// opener opens the datastore at a target.
type opener func(ctx context.Context, t storeTarget) (datastore.Store, error)

// storeHandle is one datastore the gateway opened or is opening, shared by
// every config whose snapshot names the same target. It is a
// datastore.Store: while the database is not open (PostgreSQL unreachable)
// every operation fails with datastore.ErrUnavailable, and a goroutine
// keeps trying to open it with backoff.
//
// A request enters the handle of the config it is served by before it runs
// and leaves after; a handle retired by a new target, or at shutdown, closes
// its database once the last request has left.
type storeHandle struct {
	target storeTarget
	log    *slog.Logger
	open   opener
	// stop ends the retries; closed is closed once the database is.
	stop   context.CancelFunc
	closed chan struct{}

	mu      sync.Mutex
	store   datastore.Store // nil until open, and again once closed
	openErr error           // why it is not open, redacted
	users   int
	retired bool
}

// newStoreHandle tries to open the datastore at t once, and if that fails,
// keeps trying in the background until it opens or is retired.
func newStoreHandle(t storeTarget, open opener, log *slog.Logger) *storeHandle {
	ctx, stop := context.WithCancel(context.Background())
	h := &storeHandle{target: t, log: log, open: open, stop: stop, closed: make(chan struct{})}
	if h.attempt(ctx) {
		return h
	}
	go h.retry(ctx)
	return h
}

// attempt opens the datastore once and says whether it is open.
func (h *storeHandle) attempt(ctx context.Context) bool {
	actx, cancel := context.WithTimeout(ctx, openTimeout)
	s, err := h.open(actx, h.target)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.openErr = h.redact(err)
		return false
	}
	if h.retired {
		// Opened after the last request left: nobody will use it.
		_ = s.Close()
		return true
	}
	h.store, h.openErr = s, nil
	h.log.Info("datastore open", "kind", string(h.target.kind))
	return true
}

func (h *storeHandle) retry(ctx context.Context) {
	backoff := firstBackoff
	for {
		h.mu.Lock()
		why := h.openErr
		h.mu.Unlock()
		h.log.Warn("datastore not open; store steps answer 503 until it is; retrying",
			"kind", string(h.target.kind), "error", why.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if h.attempt(ctx) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// redact removes the connection URL and its password from an error of the
// datastore's driver, which may quote what it was given.
func (h *storeHandle) redact(err error) error {
	text := err.Error()
	if h.target.kind == snapshot.DatastorePostgres && h.target.location != "" {
		text = strings.ReplaceAll(text, h.target.location, "<datastore URL>")
		if u, perr := url.Parse(h.target.location); perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				text = strings.ReplaceAll(text, pw, "<password>")
				text = strings.ReplaceAll(text, url.QueryEscape(pw), "<password>")
				text = strings.ReplaceAll(text, url.PathEscape(pw), "<password>")
			}
		}
	}
	return errors.New(text)
}

// enter counts a request that may use the handle until it calls leave. It
// fails once the handle is retired. A nil handle (no datastore) always
// lets the request in.
func (h *storeHandle) enter() bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retired {
		return false
	}
	h.users++
	return true
}

func (h *storeHandle) leave() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.users--
	last := h.retired && h.users == 0
	h.mu.Unlock()
	if last {
		h.closeStore()
	}
}

// retire stops new requests from entering and closes the database once the
// requests inside have left. It returns the channel closed then.
func (h *storeHandle) retire() <-chan struct{} {
	h.mu.Lock()
	already := h.retired
	h.retired = true
	idle := h.users == 0
	h.mu.Unlock()
	if !already {
		h.stop()
		if idle {
			h.closeStore()
		}
	}
	return h.closed
}

func (h *storeHandle) closeStore() {
	h.mu.Lock()
	s := h.store
	h.store = nil
	h.openErr = errors.New("closed")
	h.mu.Unlock()
	if s != nil {
		if err := s.Close(); err != nil {
			h.log.Warn("closing the datastore failed", "kind", string(h.target.kind), "error", h.redact(err).Error())
		}
	}
	close(h.closed)
}

// current returns the open database, or an ErrUnavailable error saying why
// there is none.
func (h *storeHandle) current() (datastore.Store, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.store == nil {
		return nil, fmt.Errorf("%w: %s datastore not open", datastore.ErrUnavailable, h.target.kind)
	}
	return h.store, nil
}

// ready says whether the database is open and answers. The error is words
// for /readyz: never the driver's text, which may name the server.
func (h *storeHandle) ready(ctx context.Context) error {
	s, err := h.current()
	if err != nil {
		return fmt.Errorf("%s not open", h.target.kind)
	}
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("%s unreachable", h.target.kind)
	}
	return nil
}

func (h *storeHandle) Insert(ctx context.Context, sc datastore.Scope, value map[string]any) (datastore.Record, error) {
	s, err := h.current()
	if err != nil {
		return nil, err
	}
	return s.Insert(ctx, sc, value)
}

func (h *storeHandle) Get(ctx context.Context, sc datastore.Scope, id string) (datastore.Record, error) {
	s, err := h.current()
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, sc, id)
}

func (h *storeHandle) Query(ctx context.Context, sc datastore.Scope, q datastore.Query) (datastore.Page, error) {
	s, err := h.current()
	if err != nil {
		return datastore.Page{}, err
	}
	return s.Query(ctx, sc, q)
}

func (h *storeHandle) Put(ctx context.Context, sc datastore.Scope, id string, value map[string]any, ifMatch *int64) (datastore.Record, error) {
	s, err := h.current()
	if err != nil {
		return nil, err
	}
	return s.Put(ctx, sc, id, value, ifMatch)
}

func (h *storeHandle) Patch(ctx context.Context, sc datastore.Scope, id string, patch map[string]any, ifMatch *int64) (datastore.Record, error) {
	s, err := h.current()
	if err != nil {
		return nil, err
	}
	return s.Patch(ctx, sc, id, patch, ifMatch)
}

func (h *storeHandle) Delete(ctx context.Context, sc datastore.Scope, id string, ifMatch *int64) (bool, error) {
	s, err := h.current()
	if err != nil {
		return false, err
	}
	return s.Delete(ctx, sc, id, ifMatch)
}

func (h *storeHandle) Ping(ctx context.Context) error {
	s, err := h.current()
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

// Close retires the handle; the database closes once no request uses it.
func (h *storeHandle) Close() error {
	h.retire()
	return nil
}

// storeTargetOf is the datastore snapshot s names, or false when none.
func (g *Gateway) storeTargetOf(s *snapshot.Snapshot) (storeTarget, bool) {
	if s.Datastore == nil {
		return storeTarget{}, false
	}
	t := storeTarget{kind: s.Datastore.Kind}
	switch t.kind {
	case snapshot.DatastoreSQLite:
		t.location = filepath.Join(g.dataDir, sqliteFile)
	case snapshot.DatastorePostgres:
		t.location = s.Credentials.DatastoreURL
	}
	return t, true
}

// storeFor returns the handle of the datastore s names: the current one
// when it names the same, else a new one (nil when it names none). fresh
// says the handle is new, so the caller retires it if s is not served.
func (g *Gateway) storeFor(s *snapshot.Snapshot, cur *storeHandle) (h *storeHandle, fresh bool) {
	t, ok := g.storeTargetOf(s)
	if !ok {
		return nil, false
	}
	if cur != nil && cur.target == t {
		return cur, false
	}
	return newStoreHandle(t, g.openStore, g.log), true
}

// openDatastore opens the datastore at t with the backends of the
// datastore package; SQLite's directory is created, readable by the
// gateway only, when missing.
func openDatastore(ctx context.Context, t storeTarget) (datastore.Store, error) {
	switch t.kind {
	case snapshot.DatastoreSQLite:
		if err := os.MkdirAll(filepath.Dir(t.location), 0o700); err != nil {
			return nil, err
		}
		return datastore.OpenSQLite(ctx, t.location)
	case snapshot.DatastorePostgres:
		return datastore.OpenPostgres(ctx, t.location)
	}
	return nil, fmt.Errorf("datastore kind %q is not sqlite or postgres", t.kind)
}

// Close closes the datastore once the requests using it have finished, or
// ctx is done. Call it after the HTTP servers have shut down.
func (g *Gateway) Close(ctx context.Context) error {
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	cfg := g.current.Load()
	if cfg == nil || cfg.datastore == nil {
		return nil
	}
	select {
	case <-cfg.datastore.retire():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the datastore is still in use: %w", ctx.Err())
	}
}
