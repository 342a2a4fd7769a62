package datastore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// A migration is one step of the schema, applied once, in a transaction
// that also records its version in appapi_schema_migrations. Migrations
// are only ever appended: a later one adds tables, columns or indexes (or
// copies data into new ones) and never drops data a previous version of
// the gateway wrote. Two gateways starting on one new database both run
// migrate: the second waits on, then skips, the version the first records.
type migration struct {
	version    int64
	statements []string
}

const cursorKeyName = "cursor-key"

// migrate brings the schema up to date and returns the cursor key, created
// once per database so that every replica signs cursors alike.
func migrate(ctx context.Context, b backend) ([]byte, error) {
	var key []byte
	var err error
	for range maxAttempts {
		if key, err = migrateOnce(ctx, b); err == nil || !b.retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return key, err
}

func migrateOnce(ctx context.Context, b backend) ([]byte, error) {
	if _, err := b.writes().exec(ctx, "CREATE TABLE IF NOT EXISTS appapi_schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"); err != nil {
		return nil, err
	}
	for _, m := range b.migrations() {
		err := b.inTx(ctx, func(c conn) error {
			bd := &builder{d: b}
			n, err := c.exec(ctx, "INSERT INTO appapi_schema_migrations (version, applied_at) VALUES ("+bd.arg(m.version)+", "+bd.arg(now())+") ON CONFLICT (version) DO NOTHING", bd.args...)
			if err != nil || n == 0 { // n == 0: applied before, maybe by another gateway
				return err
			}
			for _, stmt := range m.statements {
				if _, err := c.exec(ctx, stmt); err != nil {
					return fmt.Errorf("schema version %d: %w", m.version, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return cursorKey(ctx, b)
}

func cursorKey(ctx context.Context, b backend) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	bd := &builder{d: b}
	if _, err := b.writes().exec(ctx, "INSERT INTO appapi_meta (name, value) VALUES ("+bd.arg(cursorKeyName)+", "+bd.arg(hex.EncodeToString(fresh))+") ON CONFLICT (name) DO NOTHING", bd.args...); err != nil {
		return nil, err
	}
	bd = &builder{d: b}
	r, err := b.writes().query(ctx, "SELECT value FROM appapi_meta WHERE name = "+bd.arg(cursorKeyName), bd.args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var value string
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the cursor key is missing from appapi_meta", ErrUnavailable)
	}
	if err := r.Scan(&value); err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(value)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%w: the cursor key in appapi_meta is not hex of 16 bytes or more", ErrUnavailable)
	}
	return key, r.Err()
}
