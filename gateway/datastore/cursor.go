package datastore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A cursor is the last record's order values and the digest of the query
// that read it, signed with the database's cursor key (HMAC-SHA256): a
// gateway replica or restart accepts it, and a changed cursor, or one from
// another query, is refused.
type cursorPayload struct {
	Shape  []byte `json:"q"`
	Values []any  `json:"k"`
}

var errBadCursor = fmt.Errorf("%w: the cursor is not the nextCursor of this query (same collection, filter and orderBy)", ErrInvalid)

// shape is the digest of what a cursor is bound to: scope, filters and order.
func shape(s Scope, q checkedQuery) []byte {
	data, _ := json.Marshal(struct {
		Scope   Scope
		Filters []filter
		Order   []Order
	}{s, q.filters, q.order}) // marshals plain data: cannot fail
	sum := sha256.Sum256(data)
	return sum[:16]
}

func encodeCursor(key []byte, shape []byte, values []any) string {
	payload, _ := json.Marshal(cursorPayload{Shape: shape, Values: values}) // strings and numbers only
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// decodeCursor returns the order values a cursor holds, typed as comps say.
func decodeCursor(key []byte, shape []byte, comps []component, cursor string) ([]any, error) {
	p64, mac64, ok := strings.Cut(cursor, ".")
	if !ok {
		return nil, errBadCursor
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sum, err2 := base64.RawURLEncoding.DecodeString(mac64)
	if err1 != nil || err2 != nil {
		return nil, errBadCursor
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return nil, errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var p cursorPayload
	if err := dec.Decode(&p); err != nil || !bytes.Equal(p.Shape, shape) || len(p.Values) != len(comps) {
		return nil, errBadCursor
	}
	values := make([]any, len(comps))
	for i, c := range comps {
		v, err := typed(c.kind, p.Values[i])
		if err != nil {
			return nil, errBadCursor
		}
		values[i] = v
	}
	return values, nil
}

func typed(kind componentKind, v any) (any, error) {
	switch kind {
	case kindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kindInt:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseInt(string(n), 10, 64)
		}
	case kindFloat:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseFloat(string(n), 64)
		}
	}
	return nil, errBadCursor
}
