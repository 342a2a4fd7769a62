package router

import (
	"slices"
	"strings"

	"github.com/appapi-dev/appapi/gateway/pathtemplate"
)

// naive is the obvious router: scan every template and keep the most specific
// match. It is the oracle for the trie in the tests and the baseline in the
// benchmarks, so it is written for plain correctness, using pathtemplate only.
type naive[H any] struct {
	entries []Entry[H]
}

func (r *naive[H]) Lookup(method, path string) (m Match[H], status int, allow string) {
	if !strings.HasPrefix(path, "/") {
		return m, 404, ""
	}
	var segs []string
	trailing := false
	if path != "/" {
		body := path[1:]
		if strings.HasSuffix(body, "/") {
			trailing = true
			body = body[:len(body)-1]
		}
		segs = strings.Split(body, "/")
	}
	best := -1
	var methods []string
	for i, e := range r.entries {
		if !naiveMatch(e.Path, segs, trailing) {
			continue
		}
		if e.Method != method {
			methods = append(methods, e.Method)
			continue
		}
		if best < 0 || moreSpecific(e.Path, r.entries[best].Path) {
			best = i
		}
	}
	if best >= 0 {
		e := r.entries[best]
		m.Handler = e.Handler
		for j, s := range e.Path.Segments {
			if s.Param != "" {
				m.Params = append(m.Params, Param{Name: s.Param, Value: segs[j]})
			}
		}
		return m, 200, ""
	}
	if len(methods) == 0 {
		return m, 404, ""
	}
	slices.Sort(methods)
	return m, 405, strings.Join(slices.Compact(methods), ", ")
}

func naiveMatch(t pathtemplate.Template, segs []string, trailing bool) bool {
	if len(t.Segments) != len(segs) || t.TrailingSlash != trailing {
		return false
	}
	for i, s := range t.Segments {
		v := segs[i]
		if s.Param != "" {
			if v == "" || v == "." || v == ".." {
				return false
			}
		} else if s.Literal != v {
			return false
		}
	}
	return true
}

// moreSpecific reports whether a beats b, two templates matching the same
// path: at the first position where they differ, the literal wins.
func moreSpecific(a, b pathtemplate.Template) bool {
	for i := range a.Segments {
		pa, pb := a.Segments[i].Param != "", b.Segments[i].Param != ""
		if pa != pb {
			return pb
		}
	}
	return false
}
