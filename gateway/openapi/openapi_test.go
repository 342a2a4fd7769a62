package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

func ptr[T any](v T) *T { return &v }

const orderSchema = `{
  "type": "object",
  "required": ["customer", "items"],
  "properties": {
    "customer": {"type": "string", "minLength": 1},
    "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}}
  },
  "$defs": {
    "item": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}}}
  }
}`

// testSnapshot has a GET with path and query parameters, a POST with a
// request schema, a redirect, routes without authentication, a path with
// three methods and a respond step.
func testSnapshot() *snapshot.Snapshot {
	token := v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}
	none := v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone}
	return &snapshot.Snapshot{
		Header: snapshot.Header{Version: snapshot.Version, Namespace: "shop", Environment: "prod", Generation: 7},
		Routes: []snapshot.Route{
			{
				Name: "create-order", Method: "POST", Path: "/orders", Authentication: token,
				RequestSchema: json.RawMessage(orderSchema),
				Response:      v1alpha1.Response{Status: ptr[int32](201), Headers: map[string]string{"x-order-id": "{{ steps.save.body.id }}"}},
			},
			{Name: "delete-order", Method: "DELETE", Path: "/orders/{orderId}", Authentication: token, Response: v1alpha1.Response{Status: ptr[int32](204)}},
			{
				Name: "get-order", Method: "GET", Path: "/orders/{orderId}",
				Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken, AllowedTokens: []string{"reader", "admin"}},
				Query: []v1alpha1.QueryParameter{
					{Name: "q", Type: v1alpha1.QueryString, Required: true},
					{Name: "limit", Type: v1alpha1.QueryInteger, Default: ptr("10")},
					{Name: "ratio", Type: v1alpha1.QueryNumber, Default: ptr("0.5")},
					{Name: "expand", Type: v1alpha1.QueryBoolean, Default: ptr("true")},
					{Name: "sort", Default: ptr("name")},
				},
				Steps: []v1alpha1.Step{{Name: "missing", When: "false", Respond: &v1alpha1.RespondOperation{Status: ptr[int32](404), Body: "{'missing': true}"}}},
			},
			{
				Name: "go", Method: "GET", Path: "/go/{code}", Authentication: none,
				Response: v1alpha1.Response{Redirect: "https://example.com/{{ request.params.code }}"},
			},
			{Name: "health", Method: "GET", Path: "/healthz", Authentication: none},
			{Name: "replace-order", Method: "PUT", Path: "/orders/{orderId}", Authentication: token},
		},
	}
}

// load parses and validates a document with kin-openapi, which validates
// OpenAPI 3.1 documents, schemas included, against JSON Schema 2020-12.
func load(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("LoadFromData: %v\n%s", err, b)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, kin-openapi does not read it as 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.IsOpenAPI31OrLater(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("Validate: %v\n%s", err, b)
	}
	return doc
}

func build(t *testing.T, s *snapshot.Snapshot, serverURL string) []byte {
	t.Helper()
	b, err := Build(s, serverURL)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

type param struct {
	Name, In string
	Required bool
	Type     string
	Default  any
}

func params(op *openapi3.Operation) []param {
	var out []param
	for _, p := range op.Parameters {
		s := p.Value.Schema.Value
		out = append(out, param{Name: p.Value.Name, In: p.Value.In, Required: p.Value.Required, Type: strings.Join(*s.Type, ","), Default: s.Default})
	}
	return out
}

func statuses(op *openapi3.Operation) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for code := range op.Responses.Map() {
			if !yield(code) {
				return
			}
		}
	})
}

func TestBuild(t *testing.T) {
	b := build(t, testSnapshot(), "https://gw.example.com/")
	doc := load(t, b)

	if doc.OpenAPI != "3.1.0" || doc.Info.Title != "appapi environment shop/prod" || doc.Info.Version != "7" {
		t.Errorf("openapi %q, info %+v", doc.OpenAPI, doc.Info)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://gw.example.com" {
		t.Errorf("servers = %+v", doc.Servers)
	}
	if got, want := slices.Sorted(func(yield func(string) bool) {
		for p := range doc.Paths.Map() {
			yield(p)
		}
	}), []string{"/go/{code}", "/healthz", "/orders", "/orders/{orderId}"}; !slices.Equal(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}

	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	ids := map[string]string{}
	for key, op := range ops {
		ids[key] = op.OperationID
	}
	if diff := cmp.Diff(map[string]string{
		"POST /orders":             "create-order",
		"DELETE /orders/{orderId}": "delete-order",
		"GET /orders/{orderId}":    "get-order",
		"PUT /orders/{orderId}":    "replace-order",
		"GET /go/{code}":           "go",
		"GET /healthz":             "health",
	}, ids); diff != "" {
		t.Errorf("operationIds (-want +got):\n%s", diff)
	}

	// Parameters: the path's, then the declared query parameters with their
	// JSON types and defaults of those types.
	if diff := cmp.Diff([]param{
		{Name: "orderId", In: "path", Required: true, Type: "string"},
		{Name: "q", In: "query", Required: true, Type: "string"},
		{Name: "limit", In: "query", Type: "integer", Default: 10.0},
		{Name: "ratio", In: "query", Type: "number", Default: 0.5},
		{Name: "expand", In: "query", Type: "boolean", Default: true},
		{Name: "sort", In: "query", Type: "string", Default: "name"},
	}, params(ops["GET /orders/{orderId}"])); diff != "" {
		t.Errorf("get-order parameters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]param{{Name: "code", In: "path", Required: true, Type: "string"}}, params(ops["GET /go/{code}"])); diff != "" {
		t.Errorf("go parameters (-want +got):\n%s", diff)
	}
	if got := ops["GET /healthz"].Parameters; len(got) != 0 {
		t.Errorf("health parameters = %v, want none", got)
	}

	// Security: a bearer token, or explicitly none.
	bearer := openapi3.SecurityRequirements{{"bearer": {}}}
	for key, wantToken := range map[string]bool{
		"POST /orders": true, "DELETE /orders/{orderId}": true, "GET /orders/{orderId}": true,
		"PUT /orders/{orderId}": true, "GET /go/{code}": false, "GET /healthz": false,
	} {
		op := ops[key]
		if op.Security == nil {
			t.Errorf("%s: no security, want it explicit", key)
			continue
		}
		if wantToken {
			if diff := cmp.Diff(bearer, *op.Security); diff != "" {
				t.Errorf("%s security (-want +got):\n%s", key, diff)
			}
		} else if len(*op.Security) != 0 {
			t.Errorf("%s security = %v, want []", key, *op.Security)
		}
		// 401 and 403 only where a token is required.
		for _, code := range []int{401, 403} {
			if got := op.Responses.Status(code) != nil; got != wantToken {
				t.Errorf("%s: has %d = %v, want %v", key, code, got, wantToken)
			}
		}
	}
	bs := doc.Components.SecuritySchemes["bearer"].Value
	if bs.Type != "http" || bs.Scheme != "bearer" || bs.BearerFormat != "JWT" {
		t.Errorf("bearer scheme = %+v", bs)
	}
	if d := ops["GET /orders/{orderId}"].Description; d != "Only these ApiTokens may call this endpoint: admin, reader." {
		t.Errorf("get-order description = %q", d)
	}

	// Responses.
	for key, want := range map[string][]string{
		"POST /orders":             {"201", "400", "401", "403", "404", "413", "500", "502", "504"},
		"DELETE /orders/{orderId}": {"204", "400", "401", "403", "404", "413", "500", "502", "504"},
		"GET /orders/{orderId}":    {"200", "400", "401", "403", "404", "413", "500", "502", "504"},
		"GET /go/{code}":           {"302", "400", "404", "413", "500", "502", "504"},
		"GET /healthz":             {"200", "400", "404", "413", "500", "502", "504"},
	} {
		if diff := cmp.Diff(want, statuses(ops[key])); diff != "" {
			t.Errorf("%s statuses (-want +got):\n%s", key, diff)
		}
	}
	health := ops["GET /healthz"].Responses
	if ok := health.Status(200).Value.Content.Get("application/json"); ok == nil {
		t.Errorf("health 200 has no application/json content")
	}
	for _, code := range []int{400, 404, 413, 500, 502, 504} {
		if r := health.Status(code); r.Ref != "#/components/responses/Problem" {
			t.Errorf("health %d = %q, want the Problem response", code, r.Ref)
		}
	}
	redirect := ops["GET /go/{code}"].Responses.Status(302).Value
	if h := redirect.Headers["Location"]; h == nil || !h.Value.Required || redirect.Content != nil {
		t.Errorf("302 = %+v, want a required Location header and no content", redirect)
	}
	if ops["DELETE /orders/{orderId}"].Responses.Status(204).Value.Content != nil {
		t.Errorf("204 has content")
	}
	if ops["POST /orders"].Responses.Status(201).Value.Headers["X-Order-Id"] == nil {
		t.Errorf("201 does not list the X-Order-Id header")
	}
	// The respond step answers 404 too: its body or a problem.
	notFound := ops["GET /orders/{orderId}"].Responses.Status(404).Value
	if notFound.Content.Get("application/json") == nil || notFound.Content.Get("application/problem+json") == nil {
		t.Errorf("get-order 404 content = %v, want JSON and a problem", notFound.Content)
	}
	problem := doc.Components.Responses["Problem"].Value.Content.Get("application/problem+json")
	if problem == nil || problem.Schema.Ref != "#/components/schemas/Problem" {
		t.Fatalf("Problem response = %+v", doc.Components.Responses["Problem"].Value)
	}
	schema := doc.Components.Schemas["Problem"].Value
	for _, name := range []string{"type", "title", "status", "detail", "instance", "requestId", "errors"} {
		if schema.Properties[name] == nil {
			t.Errorf("Problem has no property %s", name)
		}
	}
	if err := schema.VisitJSON(map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400.0, "requestId": "r1",
		"errors": []any{map[string]any{"pointer": "/items/0/sku", "message": "missing"}}}, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("a problem document does not match the Problem schema: %v", err)
	}

	// Request bodies: the schema where there is one; any optional body otherwise.
	body := ops["POST /orders"].RequestBody.Value
	if !body.Required {
		t.Errorf("create-order body is not required")
	}
	// The schema refers to its own $defs: it is a component.
	if ref := body.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/create-order-request" {
		t.Errorf("create-order body schema ref = %q", ref)
	}
	itemRef := body.Content.Get("application/json").Schema.Value.Properties["items"].Value.Items
	if want := "#/components/schemas/create-order-request/$defs/item"; itemRef.Ref != want {
		t.Errorf("items ref = %q, want %q", itemRef.Ref, want)
	}
	bodySchema := body.Content.Get("application/json").Schema.Value
	if err := bodySchema.VisitJSON(map[string]any{"customer": "c", "items": []any{map[string]any{"sku": "a", "quantity": 2.0}}}, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("a valid order does not match: %v", err)
	}
	if err := bodySchema.VisitJSON(map[string]any{"customer": "c", "items": []any{map[string]any{"quantity": 0.0}}}, openapi3.EnableJSONSchema2020()); err == nil {
		t.Errorf("an order item without sku matches")
	}
	generic := ops["PUT /orders/{orderId}"].RequestBody.Value
	if generic.Required || generic.Content.Get("application/json") == nil {
		t.Errorf("replace-order body = %+v, want optional JSON", generic)
	}
	for _, key := range []string{"GET /orders/{orderId}", "DELETE /orders/{orderId}", "GET /healthz"} {
		if ops[key].RequestBody != nil {
			t.Errorf("%s has a request body", key)
		}
	}
}

// TestBuildJSON checks what kin-openapi's model hides: JSON types of
// defaults, an explicit empty security, a schema embedded as written.
func TestBuildJSON(t *testing.T) {
	s := testSnapshot()
	s.Routes[0].RequestSchema = json.RawMessage(`{"type": "object", "properties": {"n": {"type": "integer", "maximum": 10000000000000000000001}}}`)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				Schema map[string]json.RawMessage
			}
			RequestBody struct {
				Content map[string]struct{ Schema json.RawMessage }
			}
			Security json.RawMessage
		}
	}
	if err := json.Unmarshal(build(t, s, ""), &doc); err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, p := range doc.Paths["/orders/{orderId}"]["get"].Parameters {
		defaults[p.Name] = string(p.Schema["default"])
	}
	if diff := cmp.Diff(map[string]string{"orderId": "", "q": "", "limit": "10", "ratio": "0.5", "expand": "true", "sort": `"name"`}, defaults); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got := string(doc.Paths["/healthz"]["get"].Security); got != "[]" {
		t.Errorf("health security = %s, want []", got)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, s.Routes[0].RequestSchema); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Compact(&got, doc.Paths["/orders"]["post"].RequestBody.Content["application/json"].Schema); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("request schema = %s, want it as written: %s", got.String(), want.String())
	}
}

func TestBuildEmpty(t *testing.T) {
	b := build(t, &snapshot.Snapshot{Header: snapshot.Header{Version: snapshot.Version, Namespace: "ns", Environment: "dev", Generation: 1}}, "")
	doc := load(t, b)
	if doc.Paths.Len() != 0 || len(doc.Servers) != 0 || doc.Info.Title != "appapi environment ns/dev" || doc.Info.Version != "1" {
		t.Errorf("document = %s", b)
	}
	if doc.Components.Schemas["Problem"] == nil || doc.Components.SecuritySchemes["bearer"] == nil {
		t.Errorf("components missing: %s", b)
	}
}

func TestBuildDeterministic(t *testing.T) {
	first := build(t, testSnapshot(), "http://gw")
	for range 20 {
		if b := build(t, testSnapshot(), "http://gw"); !bytes.Equal(b, first) {
			t.Fatalf("Build gave different bytes:\n%s\nthen\n%s", first, b)
		}
	}
	reversed := testSnapshot()
	slices.Reverse(reversed.Routes)
	if b := build(t, reversed, "http://gw"); !bytes.Equal(b, first) {
		t.Fatalf("Build depends on the order of routes:\n%s\nthen\n%s", first, b)
	}
}

// Paths that differ only in parameter names match the same requests; OpenAPI
// allows one of them.
func TestBuildSamePathOtherNames(t *testing.T) {
	s := &snapshot.Snapshot{Header: snapshot.Header{Namespace: "ns", Environment: "dev", Generation: 3}, Routes: []snapshot.Route{
		{Name: "get", Method: "GET", Path: "/orders/{orderId}/lines/{n}", Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}},
		{Name: "delete", Method: "DELETE", Path: "/orders/{id}/lines/{line}", Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationToken}},
	}}
	doc := load(t, build(t, s, ""))
	item := doc.Paths.Value("/orders/{id}/lines/{line}")
	if doc.Paths.Len() != 1 || item == nil || item.Get == nil || item.Delete == nil {
		t.Fatalf("paths = %v", doc.Paths.InMatchingOrder())
	}
	want := []param{{Name: "id", In: "path", Required: true, Type: "string"}, {Name: "line", In: "path", Required: true, Type: "string"}}
	if diff := cmp.Diff(want, params(item.Get)); diff != "" {
		t.Errorf("get parameters (-want +got):\n%s", diff)
	}
	if d := item.Get.Parameters[0].Value.Description; d != "Read by the pipeline as request.params.orderId." {
		t.Errorf("description = %q", d)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		route snapshot.Route
		want  string
	}{
		{"same method and path", snapshot.Route{Name: "b", Method: "GET", Path: "/x/{other}"}, "route b: GET /x/{other} is also served by a"},
		{"bad path", snapshot.Route{Name: "b", Method: "GET", Path: "/x/{"}, "route b: path"},
		{"bad method", snapshot.Route{Name: "b", Method: "TRACE", Path: "/y"}, `method "TRACE"`},
		{"bad default", snapshot.Route{Name: "b", Method: "GET", Path: "/y", Query: []v1alpha1.QueryParameter{{Name: "n", Type: v1alpha1.QueryInteger, Default: ptr("x")}}}, "route b: query[0] (n): default"},
		{"bad schema", snapshot.Route{Name: "b", Method: "POST", Path: "/y", RequestSchema: json.RawMessage(`{"type":`)}, "route b: requestSchema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &snapshot.Snapshot{Header: snapshot.Header{Namespace: "ns", Environment: "dev", Generation: 1}, Routes: []snapshot.Route{
				{Name: "a", Method: "GET", Path: "/x/{id}"}, tt.route,
			}}
			_, err := Build(s, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Build(nil, ""); err == nil {
		t.Errorf("Build(nil) succeeded")
	}
}

func TestBuildNonFiniteDefault(t *testing.T) {
	s := &snapshot.Snapshot{Header: snapshot.Header{Namespace: "ns", Environment: "dev", Generation: 1}, Routes: []snapshot.Route{
		{Name: "a", Method: "GET", Path: "/a", Query: []v1alpha1.QueryParameter{{Name: "x", Type: v1alpha1.QueryNumber, Default: ptr("Inf")}}},
	}}
	doc := load(t, build(t, s, ""))
	p := doc.Paths.Value("/a").Get.Parameters[0].Value
	if p.Schema.Value.Default != nil || p.Description != "Defaults to Inf." {
		t.Errorf("parameter = %+v", p)
	}
}

// A recursive schema, with an anchor, validates values once in the document.
func TestBuildRecursiveSchema(t *testing.T) {
	s := &snapshot.Snapshot{Header: snapshot.Header{Namespace: "ns", Environment: "dev", Generation: 1}, Routes: []snapshot.Route{{
		Name: "plant", Method: "PATCH", Path: "/trees/{id}", Authentication: v1alpha1.Authentication{Mode: v1alpha1.AuthenticationNone},
		RequestSchema: json.RawMessage(`{"$id": "urn:tree", "type": "object", "required": ["name"],
			"properties": {"name": {"$ref": "#name"}, "children": {"type": "array", "items": {"$ref": "#"}}},
			"$defs": {"name": {"$anchor": "name", "type": "string", "minLength": 1}}}`),
	}}}
	doc := load(t, build(t, s, ""))
	schema := doc.Paths.Value("/trees/{id}").Patch.RequestBody.Value.Content.Get("application/json").Schema
	if schema.Ref != "#/components/schemas/plant-request" || doc.Components.Schemas["plant-request"] == nil {
		t.Fatalf("schema = %+v", schema)
	}
	good := map[string]any{"name": "a", "children": []any{map[string]any{"name": "b", "children": []any{}}}}
	if err := schema.Value.VisitJSON(good, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("a valid tree does not match: %v", err)
	}
	bad := map[string]any{"name": "a", "children": []any{map[string]any{"name": ""}}}
	if err := schema.Value.VisitJSON(bad, openapi3.EnableJSONSchema2020()); err == nil {
		t.Errorf("a child with an empty name matches")
	}
}
