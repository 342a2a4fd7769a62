package pipeline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

func TestXMLToJSON(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      any
	}{
		{name: "text only", doc: `<greeting>Hello, world</greeting>`, want: map[string]any{"greeting": "Hello, world"}},
		{name: "empty", doc: `<a/>`, want: map[string]any{"a": ""}},
		{name: "attributes and text", doc: `<price currency="EUR" net='true'> 9.50 </price>`,
			want: map[string]any{"price": map[string]any{"@currency": "EUR", "@net": "true", "#text": "9.50"}}},
		{name: "attributes only", doc: `<img src="a.png"/>`, want: map[string]any{"img": map[string]any{"@src": "a.png"}}},
		{name: "children, repeated and single", doc: `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<order id="7">
  <item sku="a"><qty>1</qty></item>
  <item sku="b"><qty>2</qty></item>
  <item sku="c"/>
  <note><![CDATA[<fragile> & "handle" with care]]></note>
  <customer>Ada &amp; Co</customer>
</order>`,
			want: map[string]any{"order": map[string]any{
				"@id": "7",
				"item": []any{
					map[string]any{"@sku": "a", "qty": "1"},
					map[string]any{"@sku": "b", "qty": "2"},
					map[string]any{"@sku": "c"},
				},
				"note":     `<fragile> & "handle" with care`,
				"customer": "Ada & Co",
			}}},
		{name: "mixed content", doc: `<p>Hello <b>bold</b> world</p>`,
			want: map[string]any{"p": map[string]any{"b": "bold", "#text": "Hello  world"}}},
		{name: "namespaces", doc: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:x">
			<soap:Body><m:Result xmlns:m="urn:m" m:code="0">ok</m:Result></soap:Body></soap:Envelope>`,
			want: map[string]any{"Envelope": map[string]any{"Body": map[string]any{"Result": map[string]any{"@code": "0", "#text": "ok"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xmlToJSON(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestXMLToJSONMalformed(t *testing.T) {
	for _, tc := range []struct{ name, doc, detail string }{
		{"unclosed", "<a>\n<b>\n</a>", "the document is not well-formed XML (line 3)"},
		{"not XML", "{\"json\": true}", "the document has text outside its root element"},
		{"empty", "", "the document has no root element"},
		{"two roots", "<a/><b/>", "the document has more than one root element"},
		{"unknown entity", "<a>&secret;</a>", "the document is not well-formed XML (line 1)"},
		{"other encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "the document declares an encoding other than UTF-8"},
		{"one level too deep", "<r>\n" + strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth) + "</r>",
			"the document nests elements more than 128 levels deep (line 2)"},
		// The attack that overflowed the stack: 5 MiB of unclosed nesting.
		{"depth bomb", strings.Repeat("<a>", 748980) + strings.Repeat("</a>", 748980),
			"the document nests elements more than 128 levels deep (line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := xmlToJSON(tc.doc)
			e, ok := err.(*RunError)
			if !ok || e.Status != 400 || e.Title != TitleInvalidXML || e.Detail != tc.detail {
				t.Errorf("error = %#v, want 400 %q", err, tc.detail)
			}
		})
	}
}

// TestXMLToJSONDepth: a document at the limit converts, and its JSON form,
// lists of repeated elements included, stays within the response's limit.
func TestXMLToJSONDepth(t *testing.T) {
	doc := strings.Repeat("<a><b/>", MaxDepth-1) + strings.Repeat("</a>", MaxDepth-1)
	v, err := xmlToJSON(doc)
	if err != nil {
		t.Fatalf("%d levels: %v", MaxDepth, err)
	}
	if !ExceedsDepth(v, MaxDepth-1) {
		t.Errorf("the JSON form of %d levels of elements nests less than that", MaxDepth)
	}
	worst := "<r>" + strings.Repeat("<a><x/><x/>", MaxDepth-2) + strings.Repeat("</a><a/>", MaxDepth-2) + "</r>"
	if v, err = xmlToJSON(worst); err != nil {
		t.Fatal(err)
	}
	if ExceedsDepth(v, 2*MaxDepth) || 2*MaxDepth > MaxResponseDepth {
		t.Errorf("the JSON form of %d levels of repeated elements nests deeper than %d, or that is beyond MaxResponseDepth", MaxDepth, 2*MaxDepth)
	}
}

func TestXMLToJSONStep(t *testing.T) {
	r := compileEndpoint(t, "x", []v1alpha1.Step{
		{Name: "parse", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: `request.text`}},
	}, body(`steps.parse.r.v`))
	res := mustRun(t, r, testRuntime(), &request{Text: `<r><v>1</v></r>`})
	if res.Body != "1" {
		t.Errorf("body = %#v", res.Body)
	}

	e := runError(t, r, testRuntime(), &request{Text: `<r><v>1</r>`}, 400)
	if e.Step != "parse" || e.Title != TitleInvalidXML || strings.Contains(e.Detail, "<") {
		t.Errorf("error = %+v", e)
	}

	r = compileEndpoint(t, "x", []v1alpha1.Step{
		{Name: "parse", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: `request.body`}},
	}, v1alpha1.Response{})
	e = runError(t, r, testRuntime(), &request{Body: map[string]any{"a": 1}}, 500)
	if e.Step != "parse" || e.Detail != "the value must be a string of XML, got map" {
		t.Errorf("error = %+v", e)
	}
	if res := mustRun(t, r, testRuntime(), &request{Body: "<a>b</a>"}); !cmp.Equal(res.Body, map[string]any{"a": "b"}) {
		t.Errorf("body = %#v", res.Body)
	}
}
