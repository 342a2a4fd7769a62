// Package router matches requests to App API endpoints. It runs on every
// request, so the matching tables are built once in New and Lookup allocates
// only the parameter slice of a match (nothing for a path without parameters).
package router

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/appapi-dev/appapi/gateway/httpsyntax"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
)

// Entry is what the router needs of an endpoint; Handler is opaque to the router.
type Entry[H any] struct {
	Method  string
	Path    pathtemplate.Template
	Handler H
}

// Match is the result of a successful Lookup.
type Match[H any] struct {
	Handler H
	// Params are in path order.
	Params []Param
}

// Param is one path parameter of a match. Value is the request segment as
// given to Lookup: the router neither decodes nor cleans it.
type Param struct{ Name, Value string }

// Router is immutable after New, so any number of goroutines may call Lookup.
type Router[H any] struct {
	root node[H]
	n    int
}

// mapThreshold is the number of literal children above which a node hashes
// instead of comparing: a handful of length-then-bytes string comparisons is
// cheaper than hashing the segment, and most nodes have one or two children.
const mapThreshold = 8

type node[H any] struct {
	lits   []edge[H]
	litMap map[string]*node[H]
	param  *node[H]
	// end serves templates ending here without a trailing slash, endSlash
	// those with one: HTTP treats /orders and /orders/ as different resources.
	end, endSlash *leaf[H]
}

type edge[H any] struct {
	seg  string
	next *node[H]
}

// leaf is one Key: every method registered for it shares the parameter
// positions but may name the parameters differently.
type leaf[H any] struct {
	handlers []handler[H] // sorted by method
	// allow is the Allow header for a 405 when this leaf alone matches the
	// path, which is nearly always, so that answer costs no allocation.
	allow    string
	paramPos []int // indexes of the parameter segments
}

type handler[H any] struct {
	method string
	h      H
	names  []string
	// path and entry locate the handler's Entry in error messages.
	path  string
	entry int
}

// New builds a router. It refuses two entries with the same method and Key,
// since one of them could never be reached, and templates that Parse would
// not have produced, since the matcher relies on what Parse guarantees
// (no empty, dot or slash-containing literal).
func New[H any](entries []Entry[H]) (*Router[H], error) {
	r := &Router[H]{n: len(entries)}
	for i, e := range entries {
		path, err := check(e)
		if err != nil {
			return nil, fmt.Errorf("router: entry %d: %w", i, err)
		}
		n := &r.root
		var pos []int
		for j, s := range e.Path.Segments {
			if s.Param != "" {
				pos = append(pos, j)
				if n.param == nil {
					n.param = &node[H]{}
				}
				n = n.param
				continue
			}
			if n.litMap == nil {
				n.litMap = map[string]*node[H]{}
			}
			c := n.litMap[s.Literal]
			if c == nil {
				c = &node[H]{}
				n.litMap[s.Literal] = c
			}
			n = c
		}
		lp := &n.end
		if e.Path.TrailingSlash {
			lp = &n.endSlash
		}
		if *lp == nil {
			*lp = &leaf[H]{paramPos: pos}
		}
		l := *lp
		for _, h := range l.handlers {
			if h.method == e.Method {
				return nil, fmt.Errorf("router: entries %d and %d are the same route: %s %s and %s %s both match %s",
					h.entry, i, h.method, h.path, e.Method, path, e.Path.Key())
			}
		}
		l.handlers = append(l.handlers, handler[H]{method: e.Method, h: e.Handler, names: e.Path.Params(), path: path, entry: i})
	}
	r.root.freeze()
	return r, nil
}

func check[H any](e Entry[H]) (string, error) {
	// A method that is not a token could not arrive, and would corrupt the
	// comma-separated Allow header.
	if !httpsyntax.IsToken(e.Method) {
		return "", fmt.Errorf("method %q is not an HTTP token", e.Method)
	}
	path := pattern(e.Path)
	// Templates built by hand rather than by Parse get the same checks.
	t, err := pathtemplate.Parse(path)
	if err != nil {
		return "", err
	}
	if !slices.Equal(t.Segments, e.Path.Segments) || t.TrailingSlash != e.Path.TrailingSlash {
		return "", fmt.Errorf("template %+v is not what Parse makes of %q", e.Path, path)
	}
	return path, nil
}

// pattern writes a template back in the form Parse reads.
func pattern(t pathtemplate.Template) string {
	if len(t.Segments) == 0 {
		if t.TrailingSlash {
			return "//"
		}
		return "/"
	}
	var b strings.Builder
	for _, s := range t.Segments {
		b.WriteByte('/')
		if s.Param != "" {
			b.WriteString("{" + s.Param + "}")
		} else {
			b.WriteString(s.Literal)
		}
	}
	if t.TrailingSlash {
		b.WriteByte('/')
	}
	return b.String()
}

func (n *node[H]) freeze() {
	for _, l := range []*leaf[H]{n.end, n.endSlash} {
		if l == nil {
			continue
		}
		slices.SortFunc(l.handlers, func(a, b handler[H]) int { return strings.Compare(a.method, b.method) })
		methods := make([]string, len(l.handlers))
		for i, h := range l.handlers {
			methods[i] = h.method
		}
		l.allow = strings.Join(methods, ", ")
	}
	if len(n.litMap) <= mapThreshold {
		for s, c := range n.litMap {
			n.lits = append(n.lits, edge[H]{s, c})
		}
		// Map order is random; sorting makes the build reproducible.
		slices.SortFunc(n.lits, func(a, b edge[H]) int { return strings.Compare(a.seg, b.seg) })
		n.litMap = nil
	}
	for _, e := range n.lits {
		e.next.freeze()
	}
	for _, c := range n.litMap {
		c.freeze()
	}
	if n.param != nil {
		n.param.freeze()
	}
}

func (n *node[H]) child(seg string) *node[H] {
	if n.litMap != nil {
		return n.litMap[seg]
	}
	for i := range n.lits {
		if n.lits[i].seg == seg {
			return n.lits[i].next
		}
	}
	return nil
}

// Len returns the number of entries.
func (r *Router[H]) Len() int { return r.n }

// Lookup matches a request path (as in URL.Path) and method. It returns
// status 200 with the match, 405 with the Allow header value when the path is
// served only under other methods, or 404. A HEAD request is not served by a
// GET route: the caller decides whether it wants that.
func (r *Router[H]) Lookup(method, path string) (m Match[H], status int, allow string) {
	if path == "" || path[0] != '/' {
		return m, http.StatusNotFound, ""
	}
	s := search[H]{method: method}
	body := path[1:]
	var l *leaf[H]
	var h *handler[H]
	if body == "" {
		l, h = s.at(&r.root)
	} else {
		if body[len(body)-1] == '/' {
			s.trailing = true
			body = body[:len(body)-1]
		}
		l, h = s.walk(&r.root, body)
	}
	if h != nil {
		m.Handler = h.h
		if len(h.names) > 0 {
			m.Params = params(body, l.paramPos, h.names)
		}
		return m, http.StatusOK, ""
	}
	switch {
	case s.known == nil:
		return m, http.StatusNotFound, ""
	case !s.multi:
		return m, http.StatusMethodNotAllowed, s.known.allow
	}
	// Several templates match the path, e.g. /orders/latest and /orders/{id}:
	// rare enough to merge their methods here rather than for every pair at
	// build time.
	s = search[H]{trailing: s.trailing, collect: true}
	if body == "" && !s.trailing {
		s.at(&r.root)
	} else {
		s.walk(&r.root, body)
	}
	var methods []string
	for _, l := range s.all {
		for _, h := range l.handlers {
			methods = append(methods, h.method)
		}
	}
	slices.Sort(methods)
	return m, http.StatusMethodNotAllowed, strings.Join(slices.Compact(methods), ", ")
}

// search is the state of one Lookup. A trie node is reached by a single
// chain of segments, so the depth-first walk visits each node at most once
// even when it backtracks: the cost is bounded by the size of the trie.
type search[H any] struct {
	method   string
	trailing bool
	// known is the first template found to match the path under some other
	// method, multi whether there was more than one.
	known *leaf[H]
	multi bool
	// collect asks for every matching template in all, to merge their methods.
	collect bool
	all     []*leaf[H]
}

// walk matches rest, the remaining segments, below n. Literal children are
// tried first so that /orders/latest beats /orders/{id}, then the parameter
// child, so that a literal branch failing deeper falls back on it.
func (s *search[H]) walk(n *node[H], rest string) (*leaf[H], *handler[H]) {
	seg, tail, more := cut(rest)
	if c := n.child(seg); c != nil {
		var l *leaf[H]
		var h *handler[H]
		if more {
			l, h = s.walk(c, tail)
		} else {
			l, h = s.at(c)
		}
		if h != nil {
			return l, h
		}
	}
	// A parameter never takes an empty segment, nor a dot segment, which a
	// client or proxy might resolve differently and so reach another route.
	if n.param == nil || seg == "" || seg == "." || seg == ".." {
		return nil, nil
	}
	if more {
		return s.walk(n.param, tail)
	}
	return s.at(n.param)
}

// at checks the templates ending at n once all segments are consumed.
func (s *search[H]) at(n *node[H]) (*leaf[H], *handler[H]) {
	l := n.end
	if s.trailing {
		l = n.endSlash
	}
	if l == nil {
		return nil, nil
	}
	if s.collect {
		s.all = append(s.all, l)
		return nil, nil
	}
	for i := range l.handlers {
		if l.handlers[i].method == s.method {
			return l, &l.handlers[i]
		}
	}
	if s.known == nil {
		s.known = l
	} else {
		s.multi = true
	}
	return nil, nil
}

// params reads the parameter values from body, the request path without its
// leading and trailing slash, at the positions the matched template gives.
func params(body string, pos []int, names []string) []Param {
	ps := make([]Param, len(names))
	j := 0
	for i := 0; j < len(pos); i++ {
		seg, tail, _ := cut(body)
		if i == pos[j] {
			ps[j] = Param{Name: names[j], Value: seg}
			j++
		}
		body = tail
	}
	return ps
}

// cut splits off the first segment. strings.Cut would do, but goes through
// the general substring search; this is the innermost loop of Lookup.
func cut(s string) (seg, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
