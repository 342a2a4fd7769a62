package datastore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/appapi-dev/appapi/gateway/jsonnumber"
)

// The fields of a record that the store owns.
const (
	fieldID        = "id"
	fieldVersion   = "version"
	fieldCreatedAt = "createdAt"
	fieldUpdatedAt = "updatedAt"
)

// Limits on names, beyond those of store.go.
const (
	// MaxIDBytes bounds a record's id: it is part of the primary key and of
	// the default order's index.
	MaxIDBytes = 256
	// MaxCollectionLength matches the store step's collection field.
	MaxCollectionLength = 63
	// MaxInValues bounds the list an in filter compares with.
	MaxInValues = 100
	// MaxPathSegments bounds the depth of a filter or order field path.
	MaxPathSegments = 32
	// MaxFilters and MaxOrderKeys bound a query's size (a store step allows
	// 16 filters and 4 order keys).
	MaxFilters   = 32
	MaxOrderKeys = 8
)

// timestampLayout is RFC 3339 in UTC with exactly six fractional digits, so
// that the order of the strings is the order of the times.
const timestampLayout = "2006-01-02T15:04:05.000000Z"

func now() string { return time.Now().UTC().Format(timestampLayout) }

// checkScope refuses a scope the database could not store as a key: an
// empty or over-long collection, or names that are not UTF-8 or hold NUL
// (PostgreSQL's text cannot).
func checkScope(s Scope) error {
	if s.Collection == "" || utf8.RuneCountInString(s.Collection) > MaxCollectionLength {
		return fmt.Errorf("%w: the collection name must have 1 to %d characters", ErrInvalid, MaxCollectionLength)
	}
	for what, v := range map[string]string{"namespace": s.Namespace, "environment": s.Environment, "collection": s.Collection} {
		if !storableString(v) || len(v) > 253 {
			return fmt.Errorf("%w: the %s name is not valid UTF-8 of at most 253 bytes without NUL", ErrInvalid, what)
		}
	}
	return nil
}

// storableString reports whether both databases keep s as text: valid
// UTF-8 without NUL.
func storableString(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storableID reports whether id can name a record. An id that cannot is
// refused by insert and never found by the other operations.
func storableID(id string) bool {
	return id != "" && len(id) <= MaxIDBytes && storableString(id)
}

// insertID returns the id an inserted value names, or a new UUIDv7.
func insertID(value map[string]any) (string, error) {
	v, ok := value[fieldID]
	if !ok {
		u, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("%w: generating an id: %v", ErrUnavailable, err)
		}
		return u.String(), nil
	}
	id, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: the value's id must be a string, not %s", ErrInvalid, jsonType(v))
	}
	if !storableID(id) {
		return "", fmt.Errorf("%w: the value's id must be 1 to %d bytes of UTF-8 without NUL", ErrInvalid, MaxIDBytes)
	}
	return id, nil
}

// checkSameID refuses a put value or a patch that names another record.
func checkSameID(value map[string]any, id string) error {
	if v, ok := value[fieldID]; ok && v != id {
		return fmt.Errorf("%w: the value's id differs from the record's (%q); a record's id never changes", ErrInvalid, id)
	}
	return nil
}

// stamp returns a copy of fields with the store's four fields set.
func stamp(fields map[string]any, id string, version int64, createdAt, updatedAt string) map[string]any {
	rec := maps.Clone(fields)
	if rec == nil {
		rec = map[string]any{}
	}
	rec[fieldID] = id
	rec[fieldVersion] = version
	rec[fieldCreatedAt] = createdAt
	rec[fieldUpdatedAt] = updatedAt
	return rec
}

// encodeRecord returns the JSON the database keeps, refusing what either
// database could not keep alike (NUL in strings, NaN) and records over
// MaxRecordBytes.
func encodeRecord(rec map[string]any) ([]byte, error) {
	if err := checkStrings(rec, 0); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("%w: the value cannot be encoded as JSON: %v", ErrInvalid, err)
	}
	doc := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(doc) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: the record would be %d bytes", ErrTooLarge, len(doc))
	}
	return doc, nil
}

// maxDepth bounds how deep a record nests, like the gateway's JSON decoder.
const maxDepth = 64

// checkStrings refuses strings and keys holding NUL, which PostgreSQL's
// jsonb cannot keep, so that both backends accept the same records.
func checkStrings(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: the value nests more than %d levels deep", ErrInvalid, maxDepth)
	}
	switch t := v.(type) {
	case string:
		if strings.ContainsRune(t, 0) {
			return fmt.Errorf("%w: strings in a record cannot contain the NUL character", ErrInvalid)
		}
	case map[string]any:
		for k, e := range t {
			if strings.ContainsRune(k, 0) {
				return fmt.Errorf("%w: field names in a record cannot contain the NUL character", ErrInvalid)
			}
			if err := checkStrings(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := checkStrings(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeRecord decodes a stored record the way the gateway decodes JSON:
// integral numbers as int64, the others as float64.
func decodeRecord(doc []byte) (Record, error) {
	raw, err := decodeRaw(doc)
	if err != nil {
		return nil, err
	}
	jsonnumber.Convert(raw)
	return raw, nil
}

// decodeRaw decodes a stored record keeping numbers as written, so that a
// patch re-encodes the fields it does not touch exactly.
func decodeRaw(doc []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("%w: a stored record is not a JSON object: %v", ErrUnavailable, err)
	}
	return rec, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return "a number"
	}
}
