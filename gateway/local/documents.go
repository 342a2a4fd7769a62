package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// document is one YAML document or JSON value of a file.
type document struct {
	// line is where the document starts, counted from 1: its first line
	// that is neither blank nor a comment, which is what an editor should
	// jump to.
	line int
	// json is the document as JSON; nil for a document that is empty or
	// only comments.
	json []byte
	// err is a syntax error, which need not be on line.
	err *syntaxError
}

// syntaxError is a YAML or JSON syntax error at a line of the file.
type syntaxError struct {
	line int
	msg  string
}

// splitDocuments splits a manifest file as kubectl does: a stream of JSON
// values when it starts with '{', else YAML documents separated by lines
// that start with "---". A YAML document that does not parse leaves the
// next ones readable; in JSON nothing after a syntax error can be found, so
// it is the last document.
func splitDocuments(data []byte) []document {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		return splitJSON(data)
	}
	return splitYAML(data)
}

func splitYAML(data []byte) []document {
	var docs []document
	lines := strings.SplitAfter(string(data), "\n")
	start := 0 // index in lines of the current document's first line
	flush := func(end int, separator string) {
		text := strings.Join(lines[start:end], "")
		docs = append(docs, yamlDocument(text, start+1))
		if rest := strings.TrimSpace(separator); rest != "" && !strings.HasPrefix(rest, "#") {
			// As kubectl's YAML reader: "--- x" is not a separator.
			docs = append(docs, document{line: end + 1, err: &syntaxError{line: end + 1, msg: "invalid document separator: --- " + rest}})
		}
	}
	for i, line := range lines {
		if strings.HasPrefix(line, "---") {
			flush(i, strings.TrimPrefix(line, "---"))
			start = i + 1
		}
	}
	flush(len(lines), "")
	return docs
}

// yamlLine finds the line of a YAML parser's error message.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlDocument converts one YAML document, whose first line is line first
// of the file.
func yamlDocument(text string, first int) document {
	doc := document{line: first}
	for i, l := range strings.SplitAfter(text, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			doc.line = first + i
			break
		}
	}
	out, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		msg, line := err.Error(), doc.line
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			line, msg = first+n-1, strings.TrimPrefix(msg, m[0])
		}
		doc.err = &syntaxError{line: line, msg: strings.TrimPrefix(msg, "yaml: ")}
		return doc
	}
	if t := bytes.TrimSpace(out); len(t) > 0 && string(t) != "null" {
		doc.json = out
	}
	return doc
}

func splitJSON(data []byte) []document {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		offset := dec.InputOffset()
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs
		}
		// The value starts at the first byte that is not white space.
		begin := int(offset) + len(data[offset:]) - len(bytes.TrimLeft(data[offset:], " \t\r\n"))
		doc := document{line: lineAt(data, begin)}
		if err != nil {
			at := begin
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				at = int(syntax.Offset)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				at = len(data)
			}
			doc.err = &syntaxError{line: lineAt(data, at), msg: strings.TrimPrefix(err.Error(), "json: ")}
			return append(docs, doc)
		}
		doc.json = raw
		docs = append(docs, doc)
	}
}

// lineAt is the line, counted from 1, of the byte at offset.
func lineAt(data []byte, offset int) int {
	offset = min(max(offset, 0), len(data))
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}
