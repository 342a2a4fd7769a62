package pipeline

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

var errUnsupportedCharset = errors.New("unsupported charset")

// xmlToJSON converts an XML document to the value of its JSON form:
//
//   - The result is a map with one key, the root element's name.
//   - An element with neither attributes nor child elements is its text
//     ("" when empty).
//   - Any other element is a map: attributes as "@name", child elements by
//     name, and its text, trimmed, as "#text" unless it is only whitespace.
//   - Child elements of the same name become a list, in document order.
//   - Names are local names: namespace prefixes and xmlns declarations are
//     dropped.
//   - Every value is a string: XML does not say which text is a number.
//
// A document that is not well-formed, or nests elements more than MaxDepth
// levels deep, is a 400 *RunError.
func xmlToJSON(doc string) (any, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "us-ascii") || strings.EqualFold(label, "ascii") {
			return input, nil
		}
		return nil, errUnsupportedCharset
	}
	var stack []*xmlElement
	var root map[string]any
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, invalidXML("the document has more than one root element")
			}
			if len(stack) == MaxDepth {
				line, _ := d.InputPos()
				return nil, invalidXML(fmt.Sprintf("the document nests elements more than %d levels deep (line %d)", MaxDepth, line))
			}
			el := &xmlElement{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				el.fields()["@"+a.Name.Local] = a.Value
			}
			stack = append(stack, el)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, invalidXML("the document has text outside its root element")
			}
		case xml.EndElement:
			el := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				root = map[string]any{el.name: el.value()}
			} else {
				stack[len(stack)-1].add(el.name, el.value())
			}
		}
	}
	if root == nil {
		return nil, invalidXML("the document has no root element")
	}
	return root, nil
}

type xmlElement struct {
	name string
	m    map[string]any
	text strings.Builder
}

func (el *xmlElement) fields() map[string]any {
	if el.m == nil {
		el.m = map[string]any{}
	}
	return el.m
}

func (el *xmlElement) add(name string, v any) {
	m := el.fields()
	prev, ok := m[name]
	switch {
	case !ok:
		m[name] = v
	default:
		// Element values are strings or maps, so a list is always one made here.
		if list, isList := prev.([]any); isList {
			m[name] = append(list, v)
		} else {
			m[name] = []any{prev, v}
		}
	}
}

func (el *xmlElement) value() any {
	if el.m == nil {
		return el.text.String()
	}
	if t := strings.TrimSpace(el.text.String()); t != "" {
		el.m["#text"] = t
	}
	return el.m
}

func invalidXML(detail string) *RunError {
	return newError(http.StatusBadRequest, TitleInvalidXML, "%s", detail)
}

// xmlError describes a decoding error by its line only: the decoder's
// message quotes the document.
func xmlError(err error) *RunError {
	if errors.Is(err, errUnsupportedCharset) {
		return invalidXML("the document declares an encoding other than UTF-8")
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) && se.Line > 0 {
		return invalidXML(fmt.Sprintf("the document is not well-formed XML (line %d)", se.Line))
	}
	return invalidXML("the document is not well-formed XML")
}
