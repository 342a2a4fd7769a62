package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: binaries stay static
)

// OpenSQLite opens (creating it with mode 0600 if missing) the SQLite file
// at path and brings its schema up to date. The file is in WAL mode: one
// connection writes, so writes are serialised, while others read; a write
// that finds the file locked (by another process) waits up to 10 s.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	if strings.ContainsAny(path, "?#") || path == "" {
		return nil, fmt.Errorf("%w: the SQLite path %q is empty or holds ? or #", ErrInvalid, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	writer.SetMaxOpenConns(1)
	reader, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	reader.SetMaxOpenConns(4)
	s := newSQLStore(&sqliteBackend{writer: writer, reader: reader})
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

type sqliteBackend struct {
	sqliteDialect
	writer, reader *sql.DB
}

func (b *sqliteBackend) reads() conn  { return sqlConn{b.reader} }
func (b *sqliteBackend) writes() conn { return sqlConn{b.writer} }

func (b *sqliteBackend) inTx(ctx context.Context, fn func(conn) error) error {
	tx, err := b.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlConn{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (b *sqliteBackend) migrations() []migration {
	return []migration{{version: 1, statements: []string{
		"CREATE TABLE IF NOT EXISTS appapi_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
		`CREATE TABLE IF NOT EXISTS appapi_records (
			namespace TEXT NOT NULL, environment TEXT NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
			version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL,
			PRIMARY KEY (namespace, environment, collection, id))`,
		"CREATE INDEX IF NOT EXISTS appapi_records_created ON appapi_records (namespace, environment, collection, created_at, id)",
	}}}
}

// retryable is false: a locked file is waited for by busy_timeout, and one
// connection writes.
// retryable is true for SQLITE_BUSY and SQLITE_LOCKED (extended codes
// included) that outlast busy_timeout or skip it: SQLite answers BUSY at
// once, without waiting, where waiting could deadlock, as when two
// connections open a new file and both switch it to WAL. The statement or
// transaction then runs again from the start.
func (b *sqliteBackend) retryable(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.Code() & 0xff {
	case sqliteBusy, sqliteLocked:
		return true
	}
	return false
}

// SQLite's primary result codes that say another connection holds a lock.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

func (b *sqliteBackend) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("datastore: %w", ctx.Err())
	}
	return fmt.Errorf("%w: SQLite: %v", ErrUnavailable, err)
}

func (b *sqliteBackend) close() error {
	errR := b.reader.Close()
	if err := b.writer.Close(); err != nil {
		return err
	}
	return errR
}

// sqliteDialect compares with BINARY collation (bytes of UTF-8), which is
// PostgreSQL's COLLATE "C".
type sqliteDialect struct{}

func (sqliteDialect) placeholder(int, any) string { return "?" }

func (sqliteDialect) stringColumns() map[string]string {
	return map[string]string{fieldID: "id", fieldCreatedAt: "created_at", fieldUpdatedAt: "updated_at"}
}

func (sqliteDialect) versionNumber() string { return "version" }

func (sqliteDialect) pathKey(path []string) sortKey {
	p := sqlitePath(path)
	return sortKey{
		fixedRank: -1,
		rank: func(b *builder) string {
			return "CASE json_type(doc, " + b.arg(p) + ") WHEN 'false' THEN 1 WHEN 'true' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END"
		},
		num: func(b *builder) string {
			typ := b.arg(p)
			return "COALESCE(CAST(CASE WHEN json_type(doc, " + typ + ") IN ('integer', 'real', 'true') THEN json_extract(doc, " + b.arg(p) + ") END AS REAL), 0.0)"
		},
		str: func(b *builder) string {
			typ := b.arg(p)
			return "CASE WHEN json_type(doc, " + typ + ") = 'text' THEN json_extract(doc, " + b.arg(p) + ") ELSE '' END"
		},
	}
}

func (sqliteDialect) hasPrefix(b *builder, str func(*builder) string, prefix string) string {
	s := str(b)
	n := b.arg(prefix)
	return "substr(" + s + ", 1, length(" + n + ")) = " + b.arg(prefix)
}

func (sqliteDialect) equalityHint(*builder, []string, scalar) string { return "" }

func (sqliteDialect) docColumn() string { return "doc" }

func (sqliteDialect) castComponent(_ componentKind, sql string) string { return sql }

// sqlConn runs statements on a database/sql pool or transaction.
type sqlConn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
}

func (c sqlConn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c sqlConn) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error { return r.r.Scan(dest...) }
func (r sqlRows) Err() error             { return r.r.Err() }
func (r sqlRows) Close()                 { _ = r.r.Close() }
