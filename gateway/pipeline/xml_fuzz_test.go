package pipeline

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzXMLToJSON: converting any text never panics; a refusal is a 400
// Invalid XML that does not quote the document; a conversion nests at most
// twice MaxDepth (lists of repeated elements add a level each) and encodes
// as JSON.
func FuzzXMLToJSON(f *testing.F) {
	for _, seed := range []string{
		`<greeting>Hello, world</greeting>`,
		`<price currency="EUR" net='true'> 9.50 </price>`,
		`<order xmlns:o="urn:o"><o:item sku="1"/><o:item sku="2">two</o:item><note>&amp;&lt;</note></order>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
		`<a>&secret;</a>`, `<a/><b/>`, `text<a/>`, `<a><![CDATA[<b>]]></a>`, "",
		strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth),
		strings.Repeat("<a><x/><x/>", MaxDepth-1) + strings.Repeat("</a>", MaxDepth-1),
		// The body that overflowed the stack.
		strings.Repeat("<a>", 748980) + strings.Repeat("</a>", 748980),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := xmlToJSON(doc)
		if err != nil {
			re, ok := err.(*RunError)
			if !ok || re.Status != http.StatusBadRequest || re.Title != TitleInvalidXML || len(re.Detail) > maxDetail {
				t.Fatalf("error %#v, want 400 Invalid XML with a short detail", err)
			}
			return
		}
		if ExceedsDepth(v, 2*MaxDepth) {
			t.Fatalf("the conversion nests deeper than %d", 2*MaxDepth)
		}
		if _, err := encodeJSON(v); err != nil {
			t.Fatalf("the conversion does not encode: %v", err)
		}
	})
}
