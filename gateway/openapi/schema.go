package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// embedSchema returns a request schema to embed in the document at the
// location whose JSON pointer tokens are at, and whether it rewrote
// references, so that the schema is valid only at that location.
//
// A schema without references is returned byte for byte. The gateway
// compiles a schema as a document of its own, so its references, such as
// #/$defs/item, are relative to the schema; once embedded they would be
// relative to the OpenAPI document. They are rewritten to the schema's
// location in the document: references to a fragment (a JSON pointer or an
// $anchor) of the schema or of one of its $id resources, and references to
// an $id of the schema written as it is. The $id keywords are then removed,
// as they would make the rewritten references relative to them again. Other
// references, which the gateway would refuse anyway, are left as they are.
func embedSchema(raw json.RawMessage, at []string) (any, bool, error) {
	if !json.Valid(raw) {
		return nil, false, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keeps numbers as written
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, false, err
	}
	e := embedder{base: "#" + pointer(at), resources: map[string]string{}, anchors: map[string]string{}}
	e.collect(root, "", "")
	if !e.rewrite(root, "", "") {
		return raw, false, nil
	}
	dropIDs(root)
	return root, true, nil
}

type embedder struct {
	// base is the URI fragment of the schema's location in the document.
	base string
	// resources are the pointers, from the schema's root, of the subschemas with an $id, by $id.
	resources map[string]string
	// anchors are the pointers of anchored subschemas, by the pointer of
	// their resource, "#", and the anchor's name.
	anchors map[string]string
}

// collect records the resources and anchors of the subschema at ptr.
func (e *embedder) collect(node any, ptr, resource string) {
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	if id, ok := m["$id"].(string); ok {
		resource = ptr
		if _, dup := e.resources[id]; !dup {
			e.resources[id] = ptr
		}
	}
	for _, kw := range []string{"$anchor", "$dynamicAnchor"} {
		if name, ok := m[kw].(string); ok {
			if _, dup := e.anchors[resource+"#"+name]; !dup {
				e.anchors[resource+"#"+name] = ptr
			}
		}
	}
	subschemas(m, ptr, func(child any, childPtr string) { e.collect(child, childPtr, resource) })
}

// rewrite rewrites the references of the subschema at ptr and reports
// whether it changed one.
func (e *embedder) rewrite(node any, ptr, resource string) bool {
	m, ok := node.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m["$id"].(string); ok {
		resource = ptr
	}
	changed := false
	if ref, ok := m["$ref"].(string); ok {
		if to, ok := e.resolve(ref, resource); ok && to != ref {
			m["$ref"] = to
			changed = true
		}
	}
	subschemas(m, ptr, func(child any, childPtr string) {
		if e.rewrite(child, childPtr, resource) {
			changed = true
		}
	})
	return changed
}

// resolve returns the document reference of a schema reference written in
// the resource at the pointer resource, or false when it is not one of the
// schema's own.
func (e *embedder) resolve(ref, resource string) (string, bool) {
	uri, fragment, _ := strings.Cut(ref, "#")
	target := resource
	if uri != "" {
		ptr, ok := e.resources[uri]
		if !ok {
			return "", false
		}
		target = ptr
	}
	switch {
	case fragment == "":
		return e.base + target, true
	case strings.HasPrefix(fragment, "/"):
		// Already a JSON pointer in URI fragment form.
		return e.base + target + fragment, true
	default:
		name, err := url.PathUnescape(fragment)
		if err != nil {
			return "", false
		}
		ptr, ok := e.anchors[target+"#"+name]
		if !ok {
			return "", false
		}
		return e.base + ptr, true
	}
}

// dropIDs removes the $id keyword of every subschema.
func dropIDs(node any) {
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	delete(m, "$id")
	subschemas(m, "", func(child any, _ string) { dropIDs(child) })
}

// Keywords whose values are subschemas, in draft 2020-12 and, for schemas
// whose $schema names it, draft 7. Other values, such as const or examples,
// are data: a "$ref" in them is not a reference.
var (
	schemaKeywords = []string{
		"additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if",
		"items", "not", "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties",
	}
	schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaMapKeywords  = []string{"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
)

// subschemas calls f with each direct subschema of m and its pointer.
func subschemas(m map[string]any, ptr string, f func(child any, childPtr string)) {
	list := func(kw string, v any) {
		if items, ok := v.([]any); ok {
			for i, item := range items {
				f(item, ptr+"/"+kw+"/"+strconv.Itoa(i))
			}
		}
	}
	for _, kw := range schemaKeywords {
		switch v := m[kw].(type) {
		case map[string]any, bool:
			f(v, ptr+"/"+token(kw))
		case []any: // draft 7 items as a list
			list(token(kw), v)
		}
	}
	for _, kw := range schemaListKeywords {
		list(token(kw), m[kw])
	}
	for _, kw := range schemaMapKeywords {
		children, ok := m[kw].(map[string]any)
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(children)) {
			switch child := children[name].(type) {
			case map[string]any, bool: // draft 7 dependencies may also be lists of names
				f(child, ptr+"/"+token(kw)+"/"+token(name))
			}
		}
	}
}

// pointer is the JSON pointer, in URI fragment form, of the tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(token(t))
	}
	return b.String()
}

// token escapes one JSON pointer token (RFC 6901) for a URI fragment (RFC 3986).
func token(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if fragmentChar(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return b.String()
}

// fragmentChar reports whether c may appear as itself in a URI fragment.
func fragmentChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}
