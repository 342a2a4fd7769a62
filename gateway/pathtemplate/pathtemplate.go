// Package pathtemplate parses AppAPI paths such as /orders/{orderId}/items.
// The controllers use it to detect two AppAPIs claiming the same route and the
// gateway uses it to match requests, so both agree on what a path means.
package pathtemplate

import (
	"fmt"
	"strings"
)

// Segment is one part of a path between slashes: literal text or a parameter.
type Segment struct {
	// Literal is the text the request segment must equal, when Param is empty.
	Literal string
	// Param is the parameter name of a {name} segment.
	Param string
}

// Template is a parsed path.
type Template struct {
	Segments []Segment
	// TrailingSlash records "/orders/" as distinct from "/orders", as HTTP does.
	TrailingSlash bool
}

// Parse checks and splits a path. The API server already checks the syntax;
// Parse repeats it so that the gateway's local mode, which reads files
// directly, refuses the same paths, and adds what a regular expression cannot
// say: parameter names are unique.
func Parse(path string) (Template, error) {
	if !strings.HasPrefix(path, "/") {
		return Template{}, fmt.Errorf("path %q must start with /", path)
	}
	if path == "/" {
		return Template{}, nil
	}
	var t Template
	body := path[1:]
	if strings.HasSuffix(body, "/") {
		t.TrailingSlash = true
		body = body[:len(body)-1]
	}
	seen := map[string]bool{}
	for i, raw := range strings.Split(body, "/") {
		switch {
		case raw == "":
			return Template{}, fmt.Errorf("path %q has an empty segment at position %d", path, i+1)
		case strings.HasPrefix(raw, "{") || strings.HasSuffix(raw, "}"):
			name := strings.TrimSuffix(strings.TrimPrefix(raw, "{"), "}")
			if len(raw) < 3 || raw[0] != '{' || raw[len(raw)-1] != '}' || !isIdentifier(name) {
				return Template{}, fmt.Errorf("path %q: segment %q must be {name} with a name of letters, digits and underscores", path, raw)
			}
			if seen[name] {
				return Template{}, fmt.Errorf("path %q: parameter {%s} appears twice", path, name)
			}
			seen[name] = true
			t.Segments = append(t.Segments, Segment{Param: name})
		case raw == "." || raw == "..":
			return Template{}, fmt.Errorf("path %q: segment %q is not allowed", path, raw)
		case strings.ContainsAny(raw, "{}%?#"):
			return Template{}, fmt.Errorf("path %q: segment %q has a character that is not allowed ({, }, %%, ? or #)", path, raw)
		default:
			t.Segments = append(t.Segments, Segment{Literal: raw})
		}
	}
	return t, nil
}

// Key identifies the set of request paths the template matches, ignoring
// parameter names: /orders/{id} and /orders/{orderId} have the same key, so
// two AppAPIs with those paths and the same method conflict.
func (t Template) Key() string {
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteByte('/')
		if s.Param != "" {
			b.WriteString("{}")
		} else {
			b.WriteString(s.Literal)
		}
	}
	if t.TrailingSlash || len(t.Segments) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// Params returns the parameter names in order.
func (t Template) Params() []string {
	var names []string
	for _, s := range t.Segments {
		if s.Param != "" {
			names = append(names, s.Param)
		}
	}
	return names
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digit := r >= '0' && r <= '9'
		if !letter && !(digit && i > 0) {
			return false
		}
	}
	return true
}
