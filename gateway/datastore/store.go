// Package datastore keeps the records ("App Objects") that store steps read
// and write, in an embedded SQLite file or a shared PostgreSQL database.
//
// A record is a JSON object. The store owns four of its fields: id (the
// inserted value's own string id, else a generated UUIDv7), version (1 on
// insert, one more on each write), createdAt and updatedAt (RFC 3339, UTC).
// Records are scoped by namespace, Environment and collection: two scopes
// never see each other's records, even in one database.
package datastore

import (
	"context"
	"errors"
)

// Scope is the set of records one store step sees.
type Scope struct {
	Namespace   string
	Environment string
	Collection  string
}

// Record is one stored JSON object, with id, version, createdAt and updatedAt set.
type Record = map[string]any

// Store is a datastore backend. Every method is safe for concurrent use, and
// every value and field path reaches the database as a bound parameter.
type Store interface {
	// Insert stores value as a new record and returns it. A record with the
	// same id fails with ErrConflict.
	Insert(ctx context.Context, s Scope, value map[string]any) (Record, error)
	// Get returns the record with id, or ErrNotFound.
	Get(ctx context.Context, s Scope, id string) (Record, error)
	// Query returns one page of the records that meet every filter.
	Query(ctx context.Context, s Scope, q Query) (Page, error)
	// Put replaces the fields of the record with id by value's. With ifMatch,
	// a stored version other than *ifMatch fails with ErrVersionMismatch.
	Put(ctx context.Context, s Scope, id string, value map[string]any, ifMatch *int64) (Record, error)
	// Patch applies patch to the record with id as a JSON merge patch (RFC 7386).
	Patch(ctx context.Context, s Scope, id string, patch map[string]any, ifMatch *int64) (Record, error)
	// Delete removes the record with id and says whether there was one. With
	// ifMatch, a stored version other than *ifMatch fails with ErrVersionMismatch.
	Delete(ctx context.Context, s Scope, id string, ifMatch *int64) (bool, error)
	// Ping says whether the database answers; /readyz reports it.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// FilterOp compares a record's field with a value.
type FilterOp string

// The comparisons a query filter makes.
const (
	OpEq     FilterOp = "eq"
	OpNe     FilterOp = "ne"
	OpLt     FilterOp = "lt"
	OpLte    FilterOp = "lte"
	OpGt     FilterOp = "gt"
	OpGte    FilterOp = "gte"
	OpIn     FilterOp = "in"     // Value is a []any; the field equals one of them.
	OpPrefix FilterOp = "prefix" // Value is a string; the field is a string that starts with it.
)

// Filter is one condition of a query: the field at Path compared with Value.
type Filter struct {
	// Path is the dotted field path, split: address.city is [address city].
	Path  []string
	Op    FilterOp
	Value any
}

// Order is one sort key of a query.
type Order struct {
	Path       []string
	Descending bool
}

// Query selects one page of records.
type Query struct {
	Filters []Filter
	// OrderBy sorts the records; empty means createdAt ascending. id always
	// breaks ties, so the order is total and paging is stable.
	OrderBy []Order
	// Limit is the page size: 0 means DefaultLimit; above MaxLimit is refused.
	Limit int
	// Cursor is the NextCursor of the previous page, or "" for the first page.
	Cursor string
}

// Page is one page of a query.
type Page struct {
	Items []Record
	// NextCursor continues the query after the last item; "" means there are
	// no more records.
	NextCursor string
}

// Limits on queries and records.
const (
	DefaultLimit   = 50
	MaxLimit       = 1000
	MaxRecordBytes = 1 << 20
)

// The failures a store step turns into HTTP statuses.
var (
	// ErrNotFound: no record has the id (404).
	ErrNotFound = errors.New("record not found")
	// ErrConflict: a record with the id already exists (409).
	ErrConflict = errors.New("a record with this id already exists")
	// ErrVersionMismatch: ifMatch differs from the stored version (412).
	ErrVersionMismatch = errors.New("the record's version does not match ifMatch")
	// ErrInvalid: a value, filter, limit or cursor the store cannot use (400
	// or 422); errors wrapping it say which and why.
	ErrInvalid = errors.New("invalid store request")
	// ErrTooLarge: the record would exceed MaxRecordBytes (413).
	ErrTooLarge = errors.New("record larger than 1 MiB")
	// ErrUnavailable: the database cannot be reached (503 with Retry-After).
	ErrUnavailable = errors.New("datastore unavailable")
)
