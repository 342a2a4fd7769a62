package local

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary is a document as the tests compare it: its line, and its JSON or
// its error.
type summary struct {
	Line int
	JSON string
	Err  string
}

func summarize(docs []document) []summary {
	var out []summary
	for _, d := range docs {
		s := summary{Line: d.line, JSON: string(d.json)}
		if d.err != nil {
			s.Line, s.Err = d.err.line, d.err.msg
		}
		out = append(out, s)
	}
	return out
}

func TestSplitDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []summary
	}{
		{
			name: "YAML documents start at their first line that is not a comment",
			data: "# head\n\na: 1\n---\n# two\nb: 2\n--- # three\nc: [3]\n",
			want: []summary{{Line: 3, JSON: `{"a":1}`}, {Line: 6, JSON: `{"b":2}`}, {Line: 8, JSON: `{"c":[3]}`}},
		},
		{
			name: "empty and comment-only documents have no JSON",
			data: "---\n# nothing\n---\n\n---\nd: 4",
			want: []summary{{Line: 1}, {Line: 2}, {Line: 4}, {Line: 6, JSON: `{"d":4}`}},
		},
		{
			name: "a syntax error is reported at its line in the file, and the next document is read",
			data: "a: 1\n---\nkind: x\nspec:\n  bad: [\n---\nb: 2\n",
			want: []summary{{Line: 1, JSON: `{"a":1}`}, {Line: 5, Err: "did not find expected node content"}, {Line: 7, JSON: `{"b":2}`}},
		},
		{
			name: "an error YAML gives without a line is at the document's first line",
			data: "a: 1\n---\n\nthis: is: not yaml\n",
			want: []summary{{Line: 1, JSON: `{"a":1}`}, {Line: 4, Err: "mapping values are not allowed in this context"}},
		},
		{
			name: "--- followed by anything but a comment is not a separator",
			data: "a: 1\n--- b: 2\nc: 3\n",
			want: []summary{{Line: 1, JSON: `{"a":1}`}, {Line: 2, Err: "invalid document separator: --- b: 2"}, {Line: 3, JSON: `{"c":3}`}},
		},
		{
			name: "a JSON stream",
			data: "\n{\"a\": 1}\n\n  {\"b\":\n 2}\n",
			want: []summary{{Line: 2, JSON: `{"a": 1}`}, {Line: 4, JSON: "{\"b\":\n 2}"}},
		},
		{
			name: "a JSON syntax error ends the stream at its line",
			data: "{\"a\": 1}\n{\"b\":\n  ]\n}\n{\"c\": 3}\n",
			want: []summary{{Line: 1, JSON: `{"a": 1}`}, {Line: 3, Err: "invalid character ']' looking for beginning of value"}},
		},
		{
			name: "a truncated JSON value",
			data: "{\"a\":\n 1",
			want: []summary{{Line: 2, Err: "unexpected EOF"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, summarize(splitDocuments([]byte(tc.data)))); diff != "" {
				t.Errorf("documents of %q (-want +got):\n%s", tc.data, diff)
			}
		})
	}
}

func TestSplitDocumentsKeepsCRLFLines(t *testing.T) {
	docs := splitDocuments([]byte(strings.ReplaceAll("a: 1\n---\n\nb: 2\n", "\n", "\r\n")))
	if len(docs) != 2 || docs[1].line != 4 || string(docs[1].json) != `{"b":2}` {
		t.Errorf("CRLF file: %+v", summarize(docs))
	}
}
