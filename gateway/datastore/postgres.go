package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres opens a pool of connections to the PostgreSQL database at
// url. It fails only for a URL it cannot use; a server that does not answer
// makes Ping and every operation fail with ErrUnavailable until it does, and
// the schema is created or upgraded by the first call that reaches it. No
// error message holds the URL, which may hold a password.
//
// The SQL uses no extension and no advisory lock, so that it also runs on
// PostgreSQL-compatible distributed databases.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: the PostgreSQL URL cannot be parsed (it is not quoted here: it may hold a password)", ErrInvalid)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: the PostgreSQL URL's settings cannot be used", ErrInvalid)
	}
	s := newSQLStore(&pgBackend{pool: pool})
	_ = s.prepare(ctx) // an early start: Ping and every call try again until it succeeds
	return s, nil
}

type pgBackend struct {
	postgresDialect
	pool *pgxpool.Pool
}

func (b *pgBackend) reads() conn  { return pgConn{b.pool} }
func (b *pgBackend) writes() conn { return pgConn{b.pool} }

func (b *pgBackend) inTx(ctx context.Context, fn func(conn) error) error {
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
}

func (b *pgBackend) migrations() []migration {
	return []migration{{version: 1, statements: []string{
		"CREATE TABLE IF NOT EXISTS appapi_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
		`CREATE TABLE IF NOT EXISTS appapi_records (
			namespace TEXT COLLATE "C" NOT NULL, environment TEXT COLLATE "C" NOT NULL,
			collection TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL,
			version BIGINT NOT NULL, created_at TEXT COLLATE "C" NOT NULL, updated_at TEXT COLLATE "C" NOT NULL,
			doc JSONB NOT NULL,
			PRIMARY KEY (namespace, environment, collection, id))`,
		"CREATE INDEX IF NOT EXISTS appapi_records_created ON appapi_records (namespace, environment, collection, created_at, id)",
		"CREATE INDEX IF NOT EXISTS appapi_records_doc ON appapi_records USING GIN (doc)",
	}}}
}

// retryable: serialization failures and deadlocks, and the races of two
// gateways creating the schema at once (unique_violation on the catalog,
// duplicate_table, duplicate_object).
func (b *pgBackend) retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01", "23505", "42P07", "42710":
		return true
	}
	return false
}

// failure keeps the server's message and SQLSTATE, which name no
// connection setting, and replaces a network error's (which may name the
// host) by what happened.
func (b *pgBackend) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("datastore: %w", ctx.Err())
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("%w: PostgreSQL: %s (SQLSTATE %s)", ErrUnavailable, pgErr.Message, pgErr.Code)
	}
	var dnsErr *net.DNSError
	reason := "cannot connect to PostgreSQL"
	switch {
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
		reason = "PostgreSQL did not answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "PostgreSQL refused the connection"
	case errors.As(err, &dnsErr):
		reason = "PostgreSQL's host name does not resolve"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		reason = "PostgreSQL closed the connection"
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, reason)
}

func (b *pgBackend) close() error {
	b.pool.Close()
	return nil
}

// postgresDialect compares extracted text with COLLATE "C" (bytes of
// UTF-8), which is SQLite's BINARY; the key columns are declared so.
type postgresDialect struct{}

func (postgresDialect) placeholder(n int, v any) string {
	switch v.(type) {
	case jsonDoc:
		return fmt.Sprintf("$%d::jsonb", n)
	case int64:
		return fmt.Sprintf("$%d::int8", n)
	case float64:
		return fmt.Sprintf("$%d::float8", n)
	default:
		return fmt.Sprintf("$%d::text", n)
	}
}

func (postgresDialect) stringColumns() map[string]string {
	return map[string]string{fieldID: "id", fieldCreatedAt: "created_at", fieldUpdatedAt: "updated_at"}
}

func (postgresDialect) versionNumber() string { return "version::float8" }

// pathKey walks object keys with -> on text arguments: unlike #>, it never
// reads a segment as an array index, as SQLite's quoted path does not.
func (postgresDialect) pathKey(path []string) sortKey {
	walk := func(b *builder, textLast bool) string {
		s := "doc"
		for i, seg := range path {
			op := " -> "
			if textLast && i == len(path)-1 {
				op = " ->> "
			}
			s += op + b.arg(seg)
		}
		return "(" + s + ")"
	}
	return sortKey{
		fixedRank: -1,
		rank: func(b *builder) string {
			return "CASE jsonb_typeof(" + walk(b, false) + ") WHEN 'boolean' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END"
		},
		num: func(b *builder) string {
			typ := walk(b, false)
			num := walk(b, true)
			return "CASE jsonb_typeof(" + typ + ") WHEN 'number' THEN (" + num + ")::float8 WHEN 'boolean' THEN CASE WHEN " + walk(b, true) + " = 'true' THEN 1.0::float8 ELSE 0.0::float8 END ELSE 0.0::float8 END"
		},
		str: func(b *builder) string {
			typ := walk(b, false)
			return "(CASE WHEN jsonb_typeof(" + typ + ") = 'string' THEN " + walk(b, true) + " ELSE '' END) COLLATE \"C\""
		},
	}
}

func (postgresDialect) hasPrefix(b *builder, str func(*builder) string, prefix string) string {
	s := str(b)
	n := b.arg(prefix)
	return "left(" + s + ", char_length(" + n + ")) = " + b.arg(prefix)
}

// equalityHint adds doc @> {"a":{"b":v}}, which the GIN index answers, for
// strings and booleans; numbers are left out because jsonb compares them as
// decimals and the filter as 64-bit floats.
func (postgresDialect) equalityHint(b *builder, path []string, v scalar) string {
	var value any
	switch v.Rank {
	case rankString:
		value = v.Str
	case rankBool:
		value = v.Num == 1
	default:
		return ""
	}
	for i := len(path) - 1; i >= 0; i-- {
		value = map[string]any{path[i]: value}
	}
	doc, _ := json.Marshal(value) // strings and a boolean
	return "doc @> " + b.arg(jsonDoc(doc)) + " AND "
}

func (postgresDialect) docColumn() string { return "doc::text" }

func (postgresDialect) castComponent(kind componentKind, sql string) string {
	switch kind {
	case kindInt:
		return "(" + sql + ")::int8"
	case kindFloat:
		return "(" + sql + ")::float8"
	default:
		return sql
	}
}

// pgConn runs statements on a pool or transaction.
type pgConn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

func (c pgConn) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (c pgConn) query(ctx context.Context, sql string, args ...any) (rows, error) {
	r, err := c.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}
