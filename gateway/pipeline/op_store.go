package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/datastore"
	"github.com/appapi-dev/appapi/gateway/expr"
)

// storeOp reads or writes records of one collection of the Environment's
// datastore. Its output is the record (insert, get, put, patch), a page
// {items, nextCursor} (query) or {deleted} (delete).
type storeOp struct {
	collection string
	operation  v1alpha1.StoreVerb
	id         *expr.Program
	value      *expr.Program
	ifMatch    *expr.Program
	limit      *expr.Program
	cursor     *expr.Program
	filters    []storeFilter
	orderBy    []datastore.Order
}

// storeFilter is one compiled condition of a query.
type storeFilter struct {
	field string // as written, for messages
	path  []string
	op    datastore.FilterOp
	value *expr.Program
}

// storeRetryAfter is what a caller is told to wait when the datastore
// cannot be reached: the gateway retries opening it in the background.
const storeRetryAfter = 5 * time.Second

func init() {
	register("store", compileStore)
}

func compileStore(c *compiler, s *v1alpha1.Step) (operation, error) {
	st := s.Store
	op := &storeOp{collection: st.Collection, operation: st.Operation}
	var err error
	fields := []struct {
		name   string
		source string
		into   **expr.Program
	}{
		{"store.id", st.ID, &op.id},
		{"store.value", st.Value, &op.value},
		{"store.ifMatch", st.IfMatch, &op.ifMatch},
		{"store.limit", st.Limit, &op.limit},
		{"store.cursor", st.Cursor, &op.cursor},
	}
	for _, f := range fields {
		if *f.into, err = c.program(f.name, f.source); err != nil {
			return nil, err
		}
	}
	for i, f := range st.Filter {
		field := fmt.Sprintf("store.filter[%d].value", i)
		value, err := c.program(field, f.Value)
		if err != nil {
			return nil, err
		}
		op.filters = append(op.filters, storeFilter{field: f.Field, path: strings.Split(f.Field, "."), op: datastore.FilterOp(f.Op), value: value})
	}
	for _, o := range st.OrderBy {
		op.orderBy = append(op.orderBy, datastore.Order{Path: strings.Split(o.Field, "."), Descending: o.Direction == "desc"})
	}
	// The CRD's rules say which fields each operation takes; a snapshot
	// written by hand (or by an older manager) is checked here too, so that
	// a missing field is a compile error and not a failure on every request.
	needs := map[v1alpha1.StoreVerb][]string{
		v1alpha1.StoreInsert: {"value"},
		v1alpha1.StoreGet:    {"id"},
		v1alpha1.StoreQuery:  nil,
		v1alpha1.StorePut:    {"id", "value"},
		v1alpha1.StorePatch:  {"id", "value"},
		v1alpha1.StoreDelete: {"id"},
	}
	required, known := needs[st.Operation]
	if !known {
		return nil, c.fail(v1alpha1.ReasonInvalidSpec, "store.operation", "%q is not insert, get, query, put, patch or delete", string(st.Operation))
	}
	for _, name := range required {
		if (name == "id" && op.id == nil) || (name == "value" && op.value == nil) {
			return nil, c.fail(v1alpha1.ReasonInvalidSpec, "store."+name, "%s requires %s", st.Operation, name)
		}
	}
	return op, nil
}

func (op *storeOp) run(ctx context.Context, x *execution) (any, *Result, error) {
	store := x.rt.Store
	if store == nil {
		return nil, nil, newError(http.StatusServiceUnavailable, TitleNoDatastore,
			"the Environment has no datastore: set its spec.datastore to sqlite or postgres")
	}
	start := time.Now()
	out, err := op.perform(ctx, x, store)
	if obs := x.rt.StoreObserver; obs != nil && !failedBeforeStore(err) {
		obs.StoreDone(op.collection, string(op.operation), storeOutcome(err), time.Since(start))
	}
	if err != nil {
		return nil, nil, op.failure(ctx, err)
	}
	return out, nil, nil
}

// perform evaluates the step's fields and runs the operation against store.
func (op *storeOp) perform(ctx context.Context, x *execution, store datastore.Store) (any, error) {
	scope := datastore.Scope{Namespace: x.rt.Namespace, Environment: x.rt.Environment, Collection: op.collection}
	var id string
	var value map[string]any
	var ifMatch *int64
	var err error
	if op.id != nil {
		if id, err = op.evalID(ctx, x); err != nil {
			return nil, err
		}
	}
	if op.value != nil {
		if value, err = op.evalValue(ctx, x); err != nil {
			return nil, err
		}
	}
	if op.ifMatch != nil {
		if ifMatch, err = op.evalIfMatch(ctx, x); err != nil {
			return nil, err
		}
	}
	switch op.operation {
	case v1alpha1.StoreInsert:
		return store.Insert(ctx, scope, value)
	case v1alpha1.StoreGet:
		return store.Get(ctx, scope, id)
	case v1alpha1.StorePut:
		return store.Put(ctx, scope, id, value, ifMatch)
	case v1alpha1.StorePatch:
		return store.Patch(ctx, scope, id, value, ifMatch)
	case v1alpha1.StoreDelete:
		deleted, err := store.Delete(ctx, scope, id, ifMatch)
		if err != nil {
			return nil, err
		}
		return map[string]any{"deleted": deleted}, nil
	}
	q, err := op.query(ctx, x)
	if err != nil {
		return nil, err
	}
	page, err := store.Query(ctx, scope, q)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(page.Items))
	for i, r := range page.Items {
		items[i] = r
	}
	var next any
	if page.NextCursor != "" {
		next = page.NextCursor
	}
	return map[string]any{"items": items, "nextCursor": next}, nil
}

func (op *storeOp) evalID(ctx context.Context, x *execution) (string, error) {
	v, err := x.eval(ctx, "store.id", op.id)
	if err != nil {
		return "", err
	}
	id, ok := v.(string)
	if !ok || id == "" {
		return "", invalidStoreValue("store.id must be a non-empty string, got %s", describe(v))
	}
	return id, nil
}

func (op *storeOp) evalValue(ctx context.Context, x *execution) (map[string]any, error) {
	v, err := x.eval(ctx, "store.value", op.value)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidStoreValue("store.value must be a map (a JSON object), got %s", expr.TypeName(v))
	}
	return m, nil
}

// evalIfMatch reads the version the caller last read. An int is taken as
// is; so is a string of digits, optionally quoted as an entity tag, since
// that is how an If-Match header carries it.
func (op *storeOp) evalIfMatch(ctx context.Context, x *execution) (*int64, error) {
	v, err := x.eval(ctx, "store.ifMatch", op.ifMatch)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	n, ok := wholeNumber(v)
	if !ok {
		return nil, invalidStoreValue("store.ifMatch must be the record's version, a whole number such as 3 or \"3\", got %s", describe(v))
	}
	return &n, nil
}

// query evaluates the filters, limit and cursor of a query.
func (op *storeOp) query(ctx context.Context, x *execution) (datastore.Query, error) {
	q := datastore.Query{OrderBy: op.orderBy}
	for i, f := range op.filters {
		field := fmt.Sprintf("store.filter[%d].value", i)
		v, err := x.eval(ctx, field, f.value)
		if err != nil {
			return q, err
		}
		switch f.op {
		case datastore.OpIn:
			if _, ok := v.([]any); !ok {
				return q, invalidStoreValue("%s (field %s, op in) must be a list, got %s", field, f.field, expr.TypeName(v))
			}
		case datastore.OpPrefix:
			if _, ok := v.(string); !ok {
				return q, invalidStoreValue("%s (field %s, op prefix) must be a string, got %s", field, f.field, expr.TypeName(v))
			}
		}
		q.Filters = append(q.Filters, datastore.Filter{Path: f.path, Op: f.op, Value: v})
	}
	if op.limit != nil {
		v, err := x.eval(ctx, "store.limit", op.limit)
		if err != nil {
			return q, err
		}
		if v != nil {
			n, ok := wholeNumber(v)
			if !ok || n < 1 || n > datastore.MaxLimit {
				return q, invalidStoreValue("store.limit must be a whole number from 1 to %d, got %s", datastore.MaxLimit, describe(v))
			}
			q.Limit = int(n)
		}
	}
	if op.cursor != nil {
		v, err := x.eval(ctx, "store.cursor", op.cursor)
		if err != nil {
			return q, err
		}
		switch c := v.(type) {
		case nil:
		case string:
			q.Cursor = c
		default:
			return q, invalidStoreValue("store.cursor must be a string (the nextCursor of the previous page) or null, got %s", expr.TypeName(v))
		}
	}
	return q, nil
}

// wholeNumber reads an int, a double without a fraction, or a string of
// decimal digits (optionally in double quotes, as an entity tag is).
func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float64:
		return int64(n), n == math.Trunc(n) && math.Abs(n) < 1<<53
	case string:
		s := strings.TrimSpace(n)
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
		i, err := strconv.ParseInt(s, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// describe names a value's type; for a string that does not fit, it says
// so without repeating the string, which came from the caller.
func describe(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return "an empty string"
		}
		return "a string that is not one"
	}
	return expr.TypeName(v)
}

func invalidStoreValue(format string, args ...any) *RunError {
	return newError(http.StatusUnprocessableEntity, TitleInvalidStoreRequest, format, args...)
}

// failedBeforeStore says whether err is the step's own (an expression or a
// value of the wrong type), so the datastore was never asked.
func failedBeforeStore(err error) bool {
	var e *RunError
	return errors.As(err, &e)
}

// failure turns a datastore error into the RunError a caller is answered
// with. Only the errors the datastore package defines say why; anything
// else is a 500 whose text (which may name the database) is not shown.
func (op *storeOp) failure(ctx context.Context, err error) error {
	var re *RunError
	if errors.As(err, &re) {
		return re
	}
	if cerr := contextError(ctx); cerr != nil {
		return cerr
	}
	where := fmt.Sprintf("collection %s", op.collection)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return newError(http.StatusNotFound, TitleRecordNotFound, "%s has no record with this id", where)
	case errors.Is(err, datastore.ErrConflict):
		return newError(http.StatusConflict, TitleRecordExists, "%s already has a record with this id", where)
	case errors.Is(err, datastore.ErrVersionMismatch):
		return newError(http.StatusPreconditionFailed, TitleVersionMismatch,
			"the record in %s has another version than ifMatch: read it again and retry with its version", where)
	case errors.Is(err, datastore.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, TitleRecordTooLarge, "a record in %s may be at most %d bytes as JSON", where, datastore.MaxRecordBytes)
	case errors.Is(err, datastore.ErrInvalid):
		// The datastore words these for the caller: which value and why,
		// after the sentinel's text, which the title already says.
		why := strings.TrimPrefix(err.Error(), datastore.ErrInvalid.Error()+": ")
		return newError(http.StatusUnprocessableEntity, TitleInvalidStoreRequest, "%s: %s", where, why)
	case errors.Is(err, datastore.ErrUnavailable):
		e := newError(http.StatusServiceUnavailable, TitleDatastoreUnavailable, "the datastore cannot be reached; retry shortly")
		e.RetryAfter = storeRetryAfter
		return e
	}
	return newError(http.StatusInternalServerError, TitleDatastoreFailed, "the datastore could not run the %s", op.operation)
}

// storeOutcome is the outcome label of a store operation's metric.
func storeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, datastore.ErrNotFound):
		return "not_found"
	case errors.Is(err, datastore.ErrConflict):
		return "conflict"
	case errors.Is(err, datastore.ErrVersionMismatch):
		return "precondition_failed"
	case errors.Is(err, datastore.ErrInvalid):
		return "invalid"
	case errors.Is(err, datastore.ErrTooLarge):
		return "too_large"
	case errors.Is(err, datastore.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}
