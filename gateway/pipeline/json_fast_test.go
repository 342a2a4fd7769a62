package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

// jsonDocuments are documents upstreams send, and the edges of JSON that
// the fast decoder handles itself or leaves to decodeJSON.
var jsonDocuments = []string{
	`{"id":42,"tags":["x"],"price":1.5,"ok":true,"none":null,"off":false}`,
	` {"nested": {"a": [1, 2, {"b": []}], "c": {}}} `,
	`[]`, `{}`, `0`, `-0`, `1.0`, `1e2`, `-1E-2`, `1.5e+300`, `"text"`, `true`, `null`,
	`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `-9223372036854775809`,
	`123456789012345678`, `1234567890123456789`, `99999999999999999999999`,
	`1e400`, `-1e400`, `01`, `-`, `1.`, `.5`, `1e`, `+1`, `0x10`,
	`"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\x"`, "\"tab\there\"",
	`"é ✓ 😀"`, "\"\xff\xfe\"", `{"a":1,"a":2}`, `{"a" : 1 , "b" : [ 1 , 2 ] }`,
	`{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `{"a":1}}`, `[1]]`, `{"a":1} x`, `tru`, `nul`, `falsey`,
	`"unterminated`, `[`, `{`, `{"a":`, "\t\n\r 7 \r\n",
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1),
}

// TestDecodeJSONFastAgrees: the fast decoder gives decodeJSON's value or
// decodeJSON's error.
func TestDecodeJSONFastAgrees(t *testing.T) {
	for _, doc := range jsonDocuments {
		agree(t, []byte(doc))
	}
}

func FuzzDecodeJSONFast(f *testing.F) {
	for _, doc := range jsonDocuments {
		f.Add([]byte(doc))
	}
	f.Fuzz(agree)
}

func agree(t *testing.T, doc []byte) {
	want, wantErr := decodeJSON(doc)
	got, gotErr := decodeJSONFast(doc)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("%q: error %v, decodeJSON's %v", doc, gotErr, wantErr)
	}
	// reflect, not cmp: cmp's diff of deeply nested lists takes minutes.
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: %#v, decodeJSON's %#v", doc, got, want)
	}
}
