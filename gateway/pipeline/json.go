package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"strconv"
	"strings"

	"github.com/appapi-dev/appapi/gateway/jsonnumber"
)

// MaxDepth bounds how deeply a document the gateway parses may nest: the
// arrays and objects of JSON request bodies and upstream responses, and the
// elements of xmlToJson documents. Real documents nest a few levels and
// rarely thirty; 128 takes any of them, keeps every walk over a value
// (conversion for expressions, schema validation, encoding) far from the
// stack's limit, and stays well below the 1,000 levels expressions allow
// the values they build (gateway/expr), so an expression can wrap any input.
const MaxDepth = 128

// MaxResponseDepth bounds the nesting of a response body, because encoding
// recurses once per level and a value deep enough would overflow the stack
// and end the process with every request in flight. Parsed documents stop
// at MaxDepth (an XML document's JSON form at twice that, counting the lists
// of repeated elements) and expressions at 1,000 levels, so only a
// pipeline that builds something new without them reaches it.
const MaxResponseDepth = 1000

// ExceedsDepth reports whether v nests maps and lists more than limit
// levels deep; a scalar is level 0. It descends only into map[string]any
// and []any, which is what decoded documents and expression results are
// made of, and never more than limit+1 levels, so its own recursion is
// bounded.
func ExceedsDepth(v any, limit int) bool {
	switch t := v.(type) {
	case map[string]any:
		if limit == 0 {
			return true
		}
		for _, e := range t {
			if ExceedsDepth(e, limit-1) {
				return true
			}
		}
	case []any:
		if limit == 0 {
			return true
		}
		for _, e := range t {
			if ExceedsDepth(e, limit-1) {
				return true
			}
		}
	}
	return false
}

// decodeJSON decodes a request's or an upstream's JSON the same way, so that
// expressions see the same types wherever a value came from: integral
// numbers as int64, so that request.body.quantity + 1 and steps.order.body.id
// + 1 work as written, and the others as float64. A document that nests
// deeper than MaxDepth, or holds a number beyond float64's range, is
// refused: RFC 8259 lets a parser limit both, and the alternatives are a
// stack overflow and an infinity that JSON cannot encode again.
//
// An error completes a sentence about the document ("the request body " +
// err.Error()). It gives the byte at which the problem is but never quotes
// the input.
func decodeJSON(data []byte) (any, error) {
	// Before decoding: encoding/json nests up to 10,000 levels itself.
	depthAt, numberAt := scanJSONLimits(data)
	if depthAt > 0 {
		return nil, fmt.Errorf("nests arrays and objects more than %d levels deep (at byte %d)", MaxDepth, depthAt)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonSyntaxOnly(err)
	}
	// More() is false before a stray ']' or '}', which would pass unnoticed.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("is not valid JSON: data after the JSON value")
	}
	// After decoding, so that a syntax error is reported as one even when
	// the scan took part of it for a number.
	if numberAt > 0 {
		return nil, fmt.Errorf("has a number beyond the range of a 64-bit float, about ±1.8e308 (at byte %d)", numberAt)
	}
	// scanJSONLimits has refused the numbers float64 cannot hold, and
	// MaxDepth bounds the recursion.
	return jsonnumber.Convert(v), nil
}

// scanJSONLimits finds, without decoding, the first bracket that opens
// more than MaxDepth levels and the first number that overflows a float64,
// each as a 1-based byte position like encoding/json's offsets, or 0. It
// is exact for valid JSON; for other input the decoder reports the error.
func scanJSONLimits(data []byte) (depthAt, numberAt int) {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return i + 1, 0
			}
		case c == ']' || c == '}':
			depth--
		case c == '-' || '0' <= c && c <= '9':
			start := i
			for i+1 < len(data) && isNumberByte(data[i+1]) {
				i++
			}
			if numberAt == 0 && overflows(data[start:i+1]) {
				numberAt = start + 1
			}
		}
	}
	return 0, numberAt
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// overflows reports whether a JSON number is beyond float64's range. Only
// an exponent or more than 309 characters (1e308 has 309 digits) can take
// it there, so everyday numbers are not parsed twice.
func overflows(num []byte) bool {
	if len(num) <= 309 && !bytes.ContainsAny(num, "eE") {
		return false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	return err != nil && math.IsInf(f, 0)
}

func jsonSyntaxOnly(err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("is not valid JSON: syntax error at byte %d", syntax.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("is not valid JSON: unexpected end of input")
	}
	return errors.New("is not valid JSON")
}

// isJSON reports whether a Content-Type is application/json or +json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// encodeJSON encodes compactly, without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
