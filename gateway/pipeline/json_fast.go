package pipeline

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// decodeJSONFast returns what decodeJSON returns, value or error, for
// upstream bodies, a step's hottest input. It decodes the documents
// upstreams usually send in one pass, straight to the values expressions
// see (int64 for integral numbers in range, float64 for the others),
// without encoding/json's reflection, its json.Number strings and the walk
// that converts them. Anything it does not decode itself (a \u escape,
// invalid UTF-8, a number beyond float64, nesting deeper than MaxDepth, any
// syntax error) goes to decodeJSON, which then gives its value or its
// error.
func decodeJSONFast(data []byte) (any, error) {
	p := fastJSON{data: data}
	p.space()
	v, ok := p.value(0)
	if p.space(); !ok || p.i != len(data) {
		return decodeJSON(data)
	}
	return v, nil
}

// fastJSON is a decoder positioned at data[i]. Its methods report false
// when they leave the input to decodeJSON.
type fastJSON struct {
	data []byte
	i    int
}

func (p *fastJSON) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastJSON) value(depth int) (any, bool) {
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *fastJSON) literal(word string) bool {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *fastJSON) object(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		key, ok := p.string()
		if !ok {
			return nil, false
		}
		if p.space(); p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[key.(string)] = v
		if more, ok := p.next('}'); !ok || !more {
			return m, ok
		}
	}
}

func (p *fastJSON) array(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := p.next(']'); !ok || !more {
			return a, ok
		}
	}
}

// next reads what follows a member of an object or an element of an array:
// a comma, after which more follow, or close, which ends it.
func (p *fastJSON) next(close byte) (more, ok bool) {
	if p.space(); p.i >= len(p.data) {
		return false, false
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		p.space()
		return true, true
	case close:
		p.i++
		return false, true
	}
	return false, false
}

// string decodes a string without \u escapes.
func (p *fastJSON) string() (any, bool) {
	p.i++ // "
	start := p.i
	ascii, escaped := true, false
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			raw := p.data[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false
			}
			if !escaped {
				return string(raw), true
			}
			return unescape(raw)
		case c == '\\':
			escaped = true
			p.i++
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// unescape resolves the escapes of a string's raw text but \u, which it
// leaves to decodeJSON.
func unescape(raw []byte) (any, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default:
			return nil, false
		}
	}
	return string(out), true
}

// number decodes a number of JSON's grammar as jsonnumber.Convert converts it.
func (p *fastJSON) number() (any, bool) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return nil, false
	}
	integral := true
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, false
		}
		integral = false
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, false
		}
		integral = false
	}
	text := p.data[start:p.i]
	if integral {
		if n, ok := parseInt64(text); ok {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

func (p *fastJSON) digits() int {
	start := p.i
	for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

// parseInt64 parses an integer of JSON's grammar, false when it is out of
// int64's range.
func parseInt64(text []byte) (int64, bool) {
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	if len(text) > 18 { // may overflow: let strconv decide
		n, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			if neg && string(text) == "9223372036854775808" {
				return math.MinInt64, true
			}
			return 0, false
		}
		if neg {
			n = -n
		}
		return n, true
	}
	var n int64
	for _, c := range text {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
