package openapi

import (
	"encoding/json"
	"testing"
)

func TestEmbedSchema(t *testing.T) {
	at := []string{"paths", "/a/{id}", "post", "requestBody", "content", "application/json", "schema"}
	const base = "#/paths/~1a~1%7Bid%7D/post/requestBody/content/application~1json/schema"
	tests := []struct {
		name, schema, want string
	}{
		{
			name:   "no references, kept as written",
			schema: `{"type":"object","properties":{"n":{"type":"number","maximum":1e400}},"$id":"urn:x"}`,
			want:   `{"type":"object","properties":{"n":{"type":"number","maximum":1e400}},"$id":"urn:x"}`,
		},
		{
			name:   "boolean schema",
			schema: `true`,
			want:   `true`,
		},
		{
			name:   "pointer",
			schema: `{"$defs":{"p":{"type":"integer"}},"items":{"$ref":"#/$defs/p"}}`,
			want:   `{"$defs":{"p":{"type":"integer"}},"items":{"$ref":"` + base + `/$defs/p"}}`,
		},
		{
			name:   "root, escaped names",
			schema: `{"properties":{"self":{"$ref":"#"},"a":{"$ref":"#/$defs/a~1b%25"}},"$defs":{"a/b%":{}}}`,
			want:   `{"$defs":{"a/b%":{}},"properties":{"a":{"$ref":"` + base + `/$defs/a~1b%25"},"self":{"$ref":"` + base + `"}}}`,
		},
		{
			name:   "anchor",
			schema: `{"$defs":{"p":{"$anchor":"pos","minimum":1}},"anyOf":[{"$ref":"#pos"}]}`,
			want:   `{"$defs":{"p":{"$anchor":"pos","minimum":1}},"anyOf":[{"$ref":"` + base + `/$defs/p"}]}`,
		},
		{
			name: "ids removed, nested resource",
			schema: `{"$id":"https://example.com/order","$defs":{"line":{"$id":"line","$defs":{"q":{"type":"integer"}},"properties":{"q":{"$ref":"#/$defs/q"}}}},` +
				`"properties":{"line":{"$ref":"line"},"again":{"$ref":"https://example.com/order#/$defs/line"}}}`,
			want: `{"$defs":{"line":{"$defs":{"q":{"type":"integer"}},"properties":{"q":{"$ref":"` + base + `/$defs/line/$defs/q"}}}},` +
				`"properties":{"again":{"$ref":"` + base + `/$defs/line"},"line":{"$ref":"` + base + `/$defs/line"}}}`,
		},
		{
			name:   "draft 7, data left alone",
			schema: `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"d":{"const":{"$ref":"#/x"}}},"items":[{"$ref":"#/definitions/d"}],"examples":[{"$ref":"#"}]}`,
			want:   `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"d":{"const":{"$ref":"#/x"}}},"examples":[{"$ref":"#"}],"items":[{"$ref":"` + base + `/definitions/d"}]}`,
		},
		{
			name:   "unknown references left alone",
			schema: `{"properties":{"a":{"$ref":"other.json#/x"},"b":{"$ref":"#nowhere"},"c":{"$ref":"#/$defs/c"}},"$defs":{"c":{}}}`,
			want:   `{"$defs":{"c":{}},"properties":{"a":{"$ref":"other.json#/x"},"b":{"$ref":"#nowhere"},"c":{"$ref":"` + base + `/$defs/c"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, moved, err := embedSchema(json.RawMessage(tt.schema), at)
			if err != nil {
				t.Fatal(err)
			}
			if moved != (tt.schema != tt.want) {
				t.Errorf("moved = %v", moved)
			}
			got, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("embedSchema =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`{`, `{} {}`, `{} }`} {
		if _, _, err := embedSchema(json.RawMessage(bad), at); err == nil {
			t.Errorf("embedSchema(%s) succeeded", bad)
		}
	}
}
