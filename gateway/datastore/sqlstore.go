package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// dialect is the SQL that differs between SQLite and PostgreSQL.
type dialect interface {
	// placeholder is the SQL for the n-th bound argument, whose value is v.
	placeholder(n int, v any) string
	// stringColumns maps the store's string fields to their columns.
	stringColumns() map[string]string
	// versionNumber is the version column as a number of the num part.
	versionNumber() string
	// pathKey is the sort key of the document's field at path.
	pathKey(path []string) sortKey
	// hasPrefix is true when str starts with prefix, compared literally.
	hasPrefix(b *builder, str func(*builder) string, prefix string) string
	// equalityHint is SQL ending in " AND " that lets an index find the
	// records whose field at path equals v, or "".
	equalityHint(b *builder, path []string, v scalar) string
	// docColumn selects the document as JSON text.
	docColumn() string
	// castComponent gives an order component the type its cursor value has.
	castComponent(kind componentKind, sql string) string
}

// jsonDoc is a bound argument holding a JSON document.
type jsonDoc string

// conn runs statements: a pool, a connection or a transaction.
type conn interface {
	exec(ctx context.Context, sql string, args ...any) (int64, error)
	query(ctx context.Context, sql string, args ...any) (rows, error)
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// backend is one database: SQLite or PostgreSQL.
type backend interface {
	dialect
	// reads runs the statements of get and query; writes those that write.
	reads() conn
	writes() conn
	// inTx runs fn in one transaction.
	inTx(ctx context.Context, fn func(conn) error) error
	migrations() []migration
	// retryable says whether a failed statement may succeed when run again
	// (a serialization failure, or a race between two gateways creating the
	// schema).
	retryable(err error) bool
	// failure turns a database error into one wrapping ErrUnavailable (or the
	// context's error) whose message holds no connection secret.
	failure(ctx context.Context, err error) error
	close() error
}

// sqlStore is the Store both backends share: the record model, the
// optimistic writes and the keyset queries, over a backend's SQL.
type sqlStore struct {
	b backend

	mu        sync.Mutex
	ready     bool
	cursorKey []byte
	// lastTry and lastErr keep a failed preparation's error for
	// retryPrepareAfter, so that requests arriving while the database is
	// down fail at once instead of each waiting for a connection attempt.
	lastTry time.Time
	lastErr error
}

// retryPrepareAfter is how long a failed preparation answers for itself.
const retryPrepareAfter = time.Second

// maxAttempts bounds how often a statement is retried, and how often a
// write re-reads a record that another write changed meanwhile.
const maxAttempts = 100

func newSQLStore(b backend) *sqlStore { return &sqlStore{b: b} }

// prepare creates or upgrades the schema and reads the cursor key the
// first time it succeeds; until then every operation tries again, so a
// gateway started before its database comes up recovers by itself.
func (s *sqlStore) prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if s.lastErr != nil && time.Since(s.lastTry) < retryPrepareAfter {
		return s.lastErr
	}
	key, err := migrate(ctx, s.b)
	if err != nil {
		err = s.fail(ctx, err)
		if ctx.Err() == nil { // a caller's deadline says nothing about the database
			s.lastTry, s.lastErr = time.Now(), err
		}
		return err
	}
	s.cursorKey, s.ready = key, true
	return nil
}

// fail passes the store's own errors through and turns the database's into
// ErrUnavailable (or the context's error).
func (s *sqlStore) fail(ctx context.Context, err error) error {
	for _, own := range []error{ErrNotFound, ErrConflict, ErrVersionMismatch, ErrInvalid, ErrTooLarge, ErrUnavailable} {
		if errors.Is(err, own) {
			return err
		}
	}
	return s.b.failure(ctx, err)
}

// run runs op, again while it fails in a way that may pass, then maps its error.
func (s *sqlStore) run(ctx context.Context, sc Scope, op func() error) error {
	if err := checkScope(sc); err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	var err error
	for range maxAttempts {
		if err = op(); err == nil || !s.b.retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

func (s *sqlStore) Insert(ctx context.Context, sc Scope, value map[string]any) (Record, error) {
	id, err := insertID(value)
	if err != nil {
		return nil, err
	}
	t := now()
	doc, err := encodeRecord(stamp(value, id, 1, t, t))
	if err != nil {
		return nil, err
	}
	err = s.run(ctx, sc, func() error {
		b := &builder{d: s.b}
		n, err := s.b.writes().exec(ctx, "INSERT INTO appapi_records (namespace, environment, collection, id, version, created_at, updated_at, doc) VALUES ("+
			b.arg(sc.Namespace)+", "+b.arg(sc.Environment)+", "+b.arg(sc.Collection)+", "+b.arg(id)+", "+b.arg(int64(1))+", "+b.arg(t)+", "+b.arg(t)+", "+b.arg(jsonDoc(doc))+
			") ON CONFLICT (namespace, environment, collection, id) DO NOTHING", b.args...)
		if err == nil && n == 0 {
			return fmt.Errorf("%w: %q", ErrConflict, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodeRecord(doc)
}

func (s *sqlStore) Get(ctx context.Context, sc Scope, id string) (Record, error) {
	if !storableID(id) {
		return nil, checkScopeThen(sc, ErrNotFound)
	}
	var rec Record
	err := s.run(ctx, sc, func() error {
		found, err := s.read(ctx, s.b.reads(), sc, id)
		if err != nil {
			return err
		}
		rec, err = decodeRecord([]byte(found.doc))
		return err
	})
	return rec, err
}

func checkScopeThen(sc Scope, err error) error {
	if invalid := checkScope(sc); invalid != nil {
		return invalid
	}
	return err
}

type stored struct {
	version   int64
	createdAt string
	doc       string
}

// read returns the record with id, or ErrNotFound.
func (s *sqlStore) read(ctx context.Context, c conn, sc Scope, id string) (stored, error) {
	b := &builder{d: s.b}
	r, err := c.query(ctx, "SELECT version, created_at, "+s.b.docColumn()+" FROM appapi_records WHERE "+b.scope(sc)+" AND id = "+b.arg(id), b.args...)
	if err != nil {
		return stored{}, err
	}
	defer r.Close()
	var st stored
	if !r.Next() {
		if err := r.Err(); err != nil {
			return stored{}, err
		}
		return stored{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := r.Scan(&st.version, &st.createdAt, &st.doc); err != nil {
		return stored{}, err
	}
	return st, r.Err()
}

func (s *sqlStore) Put(ctx context.Context, sc Scope, id string, value map[string]any, ifMatch *int64) (Record, error) {
	if err := checkSameID(value, id); err != nil {
		return nil, err
	}
	return s.update(ctx, sc, id, ifMatch, func(map[string]any) (map[string]any, error) { return value, nil })
}

func (s *sqlStore) Patch(ctx context.Context, sc Scope, id string, patch map[string]any, ifMatch *int64) (Record, error) {
	if err := checkSameID(patch, id); err != nil {
		return nil, err
	}
	return s.update(ctx, sc, id, ifMatch, func(old map[string]any) (map[string]any, error) {
		return mergePatch(old, patch).(map[string]any), nil // an object patch gives an object
	})
}

// update writes change(record) over the record with id if its version is
// still the one read: a write that lost the race reads the record again,
// so no update is lost and each version is written once.
func (s *sqlStore) update(ctx context.Context, sc Scope, id string, ifMatch *int64, change func(map[string]any) (map[string]any, error)) (Record, error) {
	if !storableID(id) {
		return nil, checkScopeThen(sc, fmt.Errorf("%w: %q", ErrNotFound, id))
	}
	var doc []byte
	err := s.run(ctx, sc, func() error {
		for range maxAttempts {
			old, err := s.read(ctx, s.b.writes(), sc, id)
			if err != nil {
				return err
			}
			if ifMatch != nil && *ifMatch != old.version {
				return fmt.Errorf("%w: ifMatch %d, stored version %d", ErrVersionMismatch, *ifMatch, old.version)
			}
			fields, err := decodeRaw([]byte(old.doc))
			if err != nil {
				return err
			}
			if fields, err = change(fields); err != nil {
				return err
			}
			t := now()
			if doc, err = encodeRecord(stamp(fields, id, old.version+1, old.createdAt, t)); err != nil {
				return err
			}
			b := &builder{d: s.b}
			n, err := s.b.writes().exec(ctx, "UPDATE appapi_records SET version = "+b.arg(old.version+1)+", updated_at = "+b.arg(t)+", doc = "+b.arg(jsonDoc(doc))+
				" WHERE "+b.scope(sc)+" AND id = "+b.arg(id)+" AND version = "+b.arg(old.version), b.args...)
			if err != nil || n == 1 {
				return err
			}
		}
		return fmt.Errorf("%w: the record changed %d times while this write tried", ErrUnavailable, maxAttempts)
	})
	if err != nil {
		return nil, err
	}
	return decodeRecord(doc)
}

func (s *sqlStore) Delete(ctx context.Context, sc Scope, id string, ifMatch *int64) (bool, error) {
	if !storableID(id) {
		return false, checkScopeThen(sc, nil)
	}
	var deleted bool
	err := s.run(ctx, sc, func() error {
		for range maxAttempts {
			b := &builder{d: s.b}
			sql := "DELETE FROM appapi_records WHERE " + b.scope(sc) + " AND id = " + b.arg(id)
			if ifMatch != nil {
				sql += " AND version = " + b.arg(*ifMatch)
			}
			n, err := s.b.writes().exec(ctx, sql, b.args...)
			if err != nil || n > 0 || ifMatch == nil {
				deleted = n > 0
				return err
			}
			// Nothing deleted with ifMatch: missing, or another version.
			old, err := s.read(ctx, s.b.writes(), sc, id)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if old.version != *ifMatch {
				return fmt.Errorf("%w: ifMatch %d, stored version %d", ErrVersionMismatch, *ifMatch, old.version)
			}
		}
		return fmt.Errorf("%w: the record changed %d times while this delete tried", ErrUnavailable, maxAttempts)
	})
	return deleted, err
}

func (s *sqlStore) Query(ctx context.Context, sc Scope, q Query) (Page, error) {
	cq, err := checkQuery(q)
	if err != nil {
		return Page{}, err
	}
	var page Page
	err = s.run(ctx, sc, func() error {
		page, err = s.query(ctx, sc, cq, q.Cursor)
		return err
	})
	return page, err
}

func (s *sqlStore) query(ctx context.Context, sc Scope, q checkedQuery, cursor string) (Page, error) {
	comps := components(s.b, q.order)
	sh := shape(sc, q)
	var after []any
	if cursor != "" {
		var err error
		if after, err = decodeCursor(s.cursorKey, sh, comps, cursor); err != nil {
			return Page{}, err
		}
	}
	sql, args := selectPage(s.b, sc, q, comps, after)
	r, err := s.b.reads().query(ctx, sql, args...)
	if err != nil {
		return Page{}, err
	}
	defer r.Close()
	page := Page{Items: []Record{}}
	var last []any
	for r.Next() {
		if len(page.Items) == q.limit {
			page.NextCursor = encodeCursor(s.cursorKey, sh, last)
			break
		}
		var doc string
		dest, values := scanTargets(comps)
		if err := r.Scan(append([]any{&doc}, dest...)...); err != nil {
			return Page{}, err
		}
		rec, err := decodeRecord([]byte(doc))
		if err != nil {
			return Page{}, err
		}
		page.Items = append(page.Items, rec)
		last = values()
	}
	return page, r.Err()
}

// scanTargets returns where to scan a row's order components, and a
// function that reads them once scanned.
func scanTargets(comps []component) ([]any, func() []any) {
	dest := make([]any, len(comps))
	for i, c := range comps {
		switch c.kind {
		case kindInt:
			dest[i] = new(int64)
		case kindFloat:
			dest[i] = new(float64)
		default:
			dest[i] = new(string)
		}
	}
	return dest, func() []any {
		values := make([]any, len(dest))
		for i, d := range dest {
			switch p := d.(type) {
			case *int64:
				values[i] = *p
			case *float64:
				values[i] = *p
			case *string:
				values[i] = *p
			}
		}
		return values
	}
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	r, err := s.b.reads().query(ctx, "SELECT 1")
	if err == nil {
		for r.Next() {
		}
		err = r.Err()
		r.Close()
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

func (s *sqlStore) Close() error { return s.b.close() }
