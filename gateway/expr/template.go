package expr

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Template is text with `{{ expression }}` parts. It is safe for concurrent
// use.
type Template struct {
	segments []segment
	steps    []string
	dynSteps bool
}

// segment is either literal text (prog == nil) or one expression.
type segment struct {
	text   string
	prog   *Program
	source string // the expression between {{ and }}, trimmed
	offset int    // byte offset of the "{{" in the template source
}

// CompileTemplate splits source into literal text and expressions and
// compiles each expression. Positions in errors, at compile time and at run
// time, are line:column of the whole template.
//
// There is no escape for a literal "{{"; write {{ '{{' }} instead.
func (e *Compiler) CompileTemplate(source string) (*Template, error) {
	t := &Template{}
	names := map[string]struct{}{}
	pos := 0
	for {
		open := strings.Index(source[pos:], "{{")
		if open < 0 {
			t.appendText(source[pos:])
			break
		}
		open += pos
		t.appendText(source[pos:open])
		start := open + 2
		end, ok := scanExpression(source, start)
		if !ok {
			return nil, fmt.Errorf("invalid template: unterminated {{ at offset %d", open)
		}
		if strings.TrimSpace(source[start:end]) == "" {
			return nil, fmt.Errorf("invalid template: empty expression {{ }} at offset %d", open)
		}
		// Pad the expression to where it sits in the template so that CEL
		// reports positions as line:column of the template.
		prog, err := e.Compile(blankOut(source[:start]) + source[start:end])
		if err != nil {
			return nil, fmt.Errorf("invalid template expression at offset %d: %w", open, err)
		}
		for _, n := range prog.steps {
			names[n] = struct{}{}
		}
		t.dynSteps = t.dynSteps || prog.dynSteps
		t.segments = append(t.segments, segment{prog: prog, source: strings.TrimSpace(source[start:end]), offset: open})
		pos = end + 2
	}
	t.steps = make([]string, 0, len(names))
	for n := range names {
		t.steps = append(t.steps, n)
	}
	slices.Sort(t.steps)
	return t, nil
}

func (t *Template) appendText(s string) {
	if s != "" {
		t.segments = append(t.segments, segment{text: s})
	}
}

// StepRefs is the union of the parts' Program.StepRefs.
func (t *Template) StepRefs() []string { return slices.Clone(t.steps) }

// DynamicStepAccess reports whether any part has Program.DynamicStepAccess.
func (t *Template) DynamicStepAccess() bool { return t.dynSteps }

// IsLiteral reports whether the template has no expressions, so Render
// always returns the source unchanged.
func (t *Template) IsLiteral() bool {
	for _, s := range t.segments {
		if s.prog != nil {
			return false
		}
	}
	return true
}

// Part is one piece of a template: literal text, or an expression's source.
type Part struct {
	Text       string
	Expression string
}

// Parts returns the template's pieces in order, for callers that check
// where expressions sit, such as in the host of a URL.
func (t *Template) Parts() []Part {
	out := make([]Part, len(t.segments))
	for i, s := range t.segments {
		if s.prog != nil {
			out[i].Expression = s.source
		} else {
			out[i].Text = s.text
		}
	}
	return out
}

// Render evaluates every part and joins them with the literal text. Values
// are formatted as text (strings as is, numbers in shortest form, null as
// nothing, timestamps as RFC 3339, lists and maps as compact JSON) and then
// passed through escape, if not nil. Literal text is never escaped: it was
// written by the pipeline author and is trusted to have the right syntax.
func (t *Template) Render(ctx context.Context, in Activation, escape func(string) string) (string, error) {
	var b strings.Builder
	for _, s := range t.segments {
		if s.prog == nil {
			b.WriteString(s.text)
			continue
		}
		text, err := s.value(ctx, in)
		if err != nil {
			return "", err
		}
		if escape != nil {
			text = escape(text)
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// RenderParts evaluates every part and returns their text in the order of
// Parts: literal text as written, values formatted as Render formats them
// and not escaped. It is for callers that insert a value differently
// depending on where it stands, such as in a URL's host, path or query.
func (t *Template) RenderParts(ctx context.Context, in Activation) ([]string, error) {
	out := make([]string, len(t.segments))
	for i, s := range t.segments {
		if s.prog == nil {
			out[i] = s.text
			continue
		}
		text, err := s.value(ctx, in)
		if err != nil {
			return nil, err
		}
		out[i] = text
	}
	return out, nil
}

// value evaluates an expression part and formats its value as text.
func (s *segment) value(ctx context.Context, in Activation) (string, error) {
	v, err := s.prog.Eval(ctx, in)
	if err != nil {
		return "", fmt.Errorf("template expression at offset %d: %w", s.offset, err)
	}
	text, err := formatText(v)
	if err != nil {
		return "", fmt.Errorf("template expression at offset %d: %w", s.offset, &EvalError{Reason: safeReason(err)})
	}
	return text, nil
}

// EscapeURLValue percent-escapes everything except RFC 3986 unreserved
// characters (letters, digits, "-", ".", "_", "~"), so an inserted value can
// be neither a path separator nor the start of a query or fragment, and can
// add no query parameter ("&", "=") in either the path or the query. Spaces
// become %20, never "+", which means a space only in queries.
//
// A value that is exactly "." or ".." is left as is; a caller inserting into
// a path segment must reject those itself if the upstream normalises dot
// segments.
func EscapeURLValue(s string) string {
	// QueryEscape escapes all but the unreserved set and turns " " into "+";
	// a literal "+" has already become %2B, so every "+" left was a space.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// blankOut returns whitespace that occupies the same lines and columns (in
// characters, as CEL counts them) as s.
func blankOut(s string) string {
	lines := strings.Count(s, "\n")
	col := utf8.RuneCountInString(s[strings.LastIndexByte(s, '\n')+1:])
	return strings.Repeat("\n", lines) + strings.Repeat(" ", col)
}

// scanExpression returns the index of the "}}" that ends the expression
// starting at start. A "}}" inside a string literal or a comment does not end
// it, and neither does one that closes nested map literals: braces are
// counted so that {{ {'a': {'b': 1}} }} works.
func scanExpression(src string, start int) (int, bool) {
	depth := 0
	for i := start; i < len(src); {
		switch c := src[i]; {
		case c == '"' || c == '\'':
			next, ok := skipString(src, i)
			if !ok {
				return 0, false
			}
			i = next
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			nl := strings.IndexByte(src[i:], '\n')
			if nl < 0 {
				return 0, false
			}
			i += nl + 1
			continue
		case c == '{':
			depth++
		case c == '}':
			if depth > 0 {
				depth--
			} else if i+1 < len(src) && src[i+1] == '}' {
				return i, true
			}
		}
		i++
	}
	return 0, false
}

// skipString returns the index just past the string literal whose opening
// quote is at src[i], following CEL's lexical rules for triple-quoted and
// raw (r"...") strings.
func skipString(src string, i int) (int, bool) {
	quote := src[i]
	raw := isRawPrefix(src, i)
	if i+2 < len(src) && src[i+1] == quote && src[i+2] == quote {
		closing := strings.Repeat(string(quote), 3)
		for j := i + 3; j < len(src); j++ {
			if !raw && src[j] == '\\' {
				j++
				continue
			}
			if strings.HasPrefix(src[j:], closing) {
				return j + 3, true
			}
		}
		return 0, false
	}
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if !raw {
				j++
			}
		case quote:
			return j + 1, true
		case '\n', '\r':
			// CEL forbids line breaks in single-quoted strings; stopping here
			// keeps one stray quote from swallowing the rest of the template.
			return 0, false
		}
	}
	return 0, false
}

// isRawPrefix reports whether the quote at src[i] is preceded by a string
// prefix containing r or R (r, R, rb, br, ... in any case), which is not
// itself the tail of an identifier.
func isRawPrefix(src string, i int) bool {
	raw := false
	j := i - 1
	for ; j >= 0 && i-j <= 2; j-- {
		if c := src[j]; c == 'r' || c == 'R' {
			raw = true
		} else if c != 'b' && c != 'B' {
			break
		}
	}
	if !raw {
		return false
	}
	if j >= 0 && isIdentChar(src[j]) {
		return false
	}
	return true
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
