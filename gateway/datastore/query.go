package datastore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The order of values of different JSON types, the same in both backends:
// a field that is missing or null sorts first, then booleans (false before
// true), numbers (as 64-bit floats), strings (by their UTF-8 bytes), arrays
// and objects. Arrays are equal to each other, and so are objects: the next
// order key, and finally id, decides between them.
const (
	rankNull   = 0
	rankBool   = 1
	rankNumber = 2
	rankString = 3
	rankArray  = 4
	rankObject = 5
)

// scalar is a filter's value as the sort key compares it.
type scalar struct {
	Rank int     `json:"r"`
	Num  float64 `json:"n,omitempty"`
	Str  string  `json:"s,omitempty"`
}

// filter is a checked Filter.
type filter struct {
	Path   []string `json:"p"`
	Op     FilterOp `json:"o"`
	Values []scalar `json:"v"` // one, or the list of in
}

// checkedQuery is a Query whose filters, order, limit and cursor were checked.
type checkedQuery struct {
	filters []filter
	order   []Order
	limit   int
}

func checkQuery(q Query) (checkedQuery, error) {
	c := checkedQuery{order: q.OrderBy, limit: q.Limit}
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return c, fmt.Errorf("%w: limit %d is outside 1 to %d", ErrInvalid, q.Limit, MaxLimit)
	case q.Limit == 0:
		c.limit = DefaultLimit
	}
	if len(q.Filters) > MaxFilters || len(q.OrderBy) > MaxOrderKeys {
		return c, fmt.Errorf("%w: a query has at most %d filters and %d order keys", ErrInvalid, MaxFilters, MaxOrderKeys)
	}
	for i, f := range q.Filters {
		cf, err := checkFilter(f)
		if err != nil {
			return c, fmt.Errorf("%w: filter %d (%s): %w", ErrInvalid, i+1, strings.Join(f.Path, "."), err)
		}
		c.filters = append(c.filters, cf)
	}
	if len(c.order) == 0 {
		c.order = []Order{{Path: []string{fieldCreatedAt}}}
	}
	for i, o := range c.order {
		if err := checkPath(o.Path); err != nil {
			return c, fmt.Errorf("%w: orderBy %d: %w", ErrInvalid, i+1, err)
		}
	}
	return c, nil
}

func checkPath(path []string) error {
	if len(path) == 0 || len(path) > MaxPathSegments {
		return fmt.Errorf("a field path has 1 to %d segments", MaxPathSegments)
	}
	for _, seg := range path {
		if seg == "" || !storableString(seg) {
			return fmt.Errorf("a field path segment must be non-empty UTF-8 without NUL")
		}
	}
	return nil
}

func checkFilter(f Filter) (filter, error) {
	c := filter{Path: f.Path, Op: f.Op}
	if err := checkPath(f.Path); err != nil {
		return c, err
	}
	switch f.Op {
	case OpIn:
		list, ok := f.Value.([]any)
		if strs, isStrings := f.Value.([]string); isStrings {
			list, ok = make([]any, len(strs)), true
			for i, s := range strs {
				list[i] = s
			}
		}
		if !ok {
			return c, fmt.Errorf("in compares with a list, not %s", jsonType(f.Value))
		}
		if len(list) > MaxInValues {
			return c, fmt.Errorf("in compares with at most %d values, not %d", MaxInValues, len(list))
		}
		for _, v := range list {
			s, err := toScalar(v)
			if err != nil {
				return c, err
			}
			c.Values = append(c.Values, s)
		}
		return c, nil
	case OpPrefix:
		s, ok := f.Value.(string)
		if !ok {
			return c, fmt.Errorf("prefix compares with a string, not %s", jsonType(f.Value))
		}
		if !storableString(s) {
			return c, fmt.Errorf("the prefix must be UTF-8 without NUL")
		}
		c.Values = []scalar{{Rank: rankString, Str: s}}
		return c, nil
	case OpEq, OpNe, OpLt, OpLte, OpGt, OpGte:
		s, err := toScalar(f.Value)
		if err != nil {
			return c, err
		}
		if s.Rank == rankNull && f.Op != OpEq && f.Op != OpNe {
			return c, fmt.Errorf("%s cannot compare with null; eq and ne can", f.Op)
		}
		c.Values = []scalar{s}
		return c, nil
	default:
		return c, fmt.Errorf("unknown op %q: use eq, ne, lt, lte, gt, gte, in or prefix", f.Op)
	}
}

// toScalar turns a filter value into the sort key it compares with; arrays
// and objects cannot be compared.
func toScalar(v any) (scalar, error) {
	switch t := v.(type) {
	case nil:
		return scalar{Rank: rankNull}, nil
	case bool:
		if t {
			return scalar{Rank: rankBool, Num: 1}, nil
		}
		return scalar{Rank: rankBool}, nil
	case string:
		if !storableString(t) {
			return scalar{}, fmt.Errorf("a string value must be UTF-8 without NUL")
		}
		return scalar{Rank: rankString, Str: t}, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return scalar{}, fmt.Errorf("the number %s is beyond a 64-bit float", t)
		}
		return scalar{Rank: rankNumber, Num: f}, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return scalar{}, fmt.Errorf("values compared are null, booleans, numbers or strings, not %s", jsonType(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return scalar{}, fmt.Errorf("the number %v has no JSON form", f)
	}
	return scalar{Rank: rankNumber, Num: f}, nil
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int8:
		return float64(t), true
	case int16:
		return float64(t), true
	case int32:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint:
		return float64(t), true
	case uint8:
		return float64(t), true
	case uint16:
		return float64(t), true
	case uint32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float32:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// builder collects a statement's bound arguments in the order their
// placeholders appear in its text.
type builder struct {
	d    dialect
	args []any
}

func (b *builder) arg(v any) string {
	placeholder := b.d.placeholder(len(b.args)+1, v)
	if doc, ok := v.(jsonDoc); ok {
		v = string(doc)
	}
	b.args = append(b.args, v)
	return placeholder
}

// sortKey is the SQL for the three parts a field's value sorts by: its type
// rank, its number (booleans as 0 and 1) and its string. Each function adds
// its arguments when called, so a part is written once where it is called.
// A field the store keeps in a column has a fixed rank and one part.
type sortKey struct {
	fixedRank int // the rank of a column's values, or -1
	rank      func(*builder) string
	num       func(*builder) string // nil: the field is never a number
	str       func(*builder) string // nil: the field is never a string
}

// columnKeys are the store's fields kept in columns, used instead of the
// document so that the default order follows an index.
func keyFor(d dialect, path []string) sortKey {
	if len(path) == 1 {
		if col, ok := d.stringColumns()[path[0]]; ok {
			return sortKey{fixedRank: rankString, str: constSQL(col)}
		}
		if path[0] == fieldVersion {
			return sortKey{fixedRank: rankNumber, num: constSQL(d.versionNumber())}
		}
	}
	return d.pathKey(path)
}

func constSQL(s string) func(*builder) string { return func(*builder) string { return s } }

var sqlOps = map[FilterOp]string{OpEq: "=", OpNe: "=", OpLt: "<", OpLte: "<=", OpGt: ">", OpGte: ">=", OpIn: "="}

// condition writes a filter as SQL that is true for the records it keeps.
func (b *builder) condition(f filter) string {
	switch f.Op {
	case OpNe:
		return "NOT " + b.compare(f.Path, "=", f.Values[0])
	case OpIn:
		if len(f.Values) == 0 {
			return "1 = 0"
		}
		terms := make([]string, len(f.Values))
		for i, v := range f.Values {
			terms[i] = b.compare(f.Path, "=", v)
		}
		return "(" + strings.Join(terms, " OR ") + ")"
	case OpPrefix:
		key := keyFor(b.d, f.Path)
		rank := b.rankIs(key, rankString)
		if rank == "" {
			return "1 = 0"
		}
		return "(" + rank + b.d.hasPrefix(b, key.str, f.Values[0].Str) + ")"
	default:
		return b.compare(f.Path, sqlOps[f.Op], f.Values[0])
	}
}

// compare is true when the field at path has v's type and compares with
// it by op; a field of another type never compares.
func (b *builder) compare(path []string, op string, v scalar) string {
	key := keyFor(b.d, path)
	hint := ""
	if op == "=" && key.fixedRank < 0 {
		hint = b.d.equalityHint(b, path, v)
	}
	rank := b.rankIs(key, v.Rank)
	if rank == "" {
		return "1 = 0"
	}
	switch v.Rank {
	case rankBool, rankNumber:
		return "(" + hint + rank + key.num(b) + " " + op + " " + b.arg(v.Num) + ")"
	case rankString:
		return "(" + hint + rank + key.str(b) + " " + op + " " + b.arg(v.Str) + ")"
	default: // null: the rank alone
		return "(" + hint + strings.TrimSuffix(rank, " AND ") + ")"
	}
}

// rankIs returns "<rank> = r AND ", "1 = 1 AND " for a column of that rank,
// or "" when the field can never have rank r.
func (b *builder) rankIs(key sortKey, r int) string {
	if key.fixedRank >= 0 {
		if key.fixedRank != r {
			return ""
		}
		return "1 = 1 AND "
	}
	return key.rank(b) + " = " + b.arg(int64(r)) + " AND "
}

// component is one column of the order: part of a key, or the id.
type component struct {
	kind       componentKind
	descending bool
	sql        func(*builder) string
}

type componentKind int

const (
	kindInt componentKind = iota
	kindFloat
	kindString
)

// components lists the order's columns, with the id as the last tie-breaker.
func components(d dialect, order []Order) []component {
	var out []component
	byID := false
	for _, o := range order {
		key := keyFor(d, o.Path)
		if key.fixedRank < 0 {
			out = append(out, component{kindInt, o.Descending, key.rank})
		}
		if key.num != nil {
			out = append(out, component{kindFloat, o.Descending, key.num})
		}
		if key.str != nil {
			out = append(out, component{kindString, o.Descending, key.str})
		}
		byID = byID || slices.Equal(o.Path, []string{fieldID})
	}
	if !byID {
		out = append(out, component{kindString, false, constSQL(d.stringColumns()[fieldID])})
	}
	return out
}

// after is true for the rows that come after values in the order.
func (b *builder) after(comps []component, values []any) string {
	sameDirection := true
	for _, c := range comps {
		sameDirection = sameDirection && c.descending == comps[0].descending
	}
	cmp := func(c component) string {
		if c.descending {
			return " < "
		}
		return " > "
	}
	if sameDirection {
		cols, vals := make([]string, len(comps)), make([]string, len(comps))
		for i := range comps {
			cols[i] = fmt.Sprintf("q.k%d", i)
			vals[i] = b.arg(values[i])
		}
		return "(" + strings.Join(cols, ", ") + ")" + cmp(comps[0]) + "(" + strings.Join(vals, ", ") + ")"
	}
	terms := make([]string, len(comps))
	for i, c := range comps {
		var parts []string
		for j := range i {
			parts = append(parts, fmt.Sprintf("q.k%d = %s", j, b.arg(values[j])))
		}
		parts = append(parts, fmt.Sprintf("q.k%d%s%s", i, cmp(c), b.arg(values[i])))
		terms[i] = "(" + strings.Join(parts, " AND ") + ")"
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// selectPage writes the statement that reads one page (and one record
// more, to know whether another page follows).
func selectPage(d dialect, s Scope, q checkedQuery, comps []component, after []any) (string, []any) {
	b := &builder{d: d}
	var sql strings.Builder
	sql.WriteString("SELECT q.doc")
	for i := range comps {
		fmt.Fprintf(&sql, ", q.k%d", i)
	}
	sql.WriteString(" FROM (SELECT " + d.docColumn() + " AS doc")
	for i, c := range comps {
		fmt.Fprintf(&sql, ", %s AS k%d", d.castComponent(c.kind, c.sql(b)), i)
	}
	sql.WriteString(" FROM appapi_records WHERE " + b.scope(s))
	for _, f := range q.filters {
		sql.WriteString(" AND " + b.condition(f))
	}
	sql.WriteString(") AS q")
	if after != nil {
		sql.WriteString(" WHERE " + b.after(comps, after))
	}
	sql.WriteString(" ORDER BY ")
	for i, c := range comps {
		if i > 0 {
			sql.WriteString(", ")
		}
		fmt.Fprintf(&sql, "q.k%d", i)
		if c.descending {
			sql.WriteString(" DESC")
		}
	}
	sql.WriteString(" LIMIT " + b.arg(int64(q.limit+1)))
	return sql.String(), b.args
}

func (b *builder) scope(s Scope) string {
	return "namespace = " + b.arg(s.Namespace) + " AND environment = " + b.arg(s.Environment) + " AND collection = " + b.arg(s.Collection)
}

// sqlitePath is SQLite's JSON path for the object keys of path, each
// quoted with JSON's escapes, so no key is read as path syntax.
func sqlitePath(path []string) string {
	var sb strings.Builder
	sb.WriteString("$")
	for _, seg := range path {
		var quoted bytes.Buffer
		enc := json.NewEncoder(&quoted)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(seg) // a string always encodes
		sb.WriteString(".")
		sb.Write(bytes.TrimSuffix(quoted.Bytes(), []byte("\n")))
	}
	return sb.String()
}
