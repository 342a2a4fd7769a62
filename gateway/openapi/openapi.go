// Package openapi describes the routes of a snapshot as an OpenAPI 3.1
// document, so that the callers of an Environment's App APIs can read, test
// and generate clients for them.
//
// The document is built as plain Go values and marshalled here rather than
// through an OpenAPI library: OpenAPI 3.1 schemas are JSON Schema 2020-12, the
// dialect AppAPI request schemas are written in, so they are embedded as they
// are, which libraries modelling schemas as structs cannot promise.
package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/pathtemplate"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Version is the OpenAPI version of the documents Build writes.
const Version = "3.1.0"

// Names of the shared components.
const (
	problemName = "Problem"
	bearerName  = "bearer"

	// requestSchemaSuffix follows a route's name to name its request schema
	// in components.schemas, when it is there. Route names are lower case, so
	// never Problem.
	requestSchemaSuffix = "-request"

	jsonMediaType    = "application/json"
	problemMediaType = "application/problem+json"
)

// Build returns an OpenAPI 3.1 document of the snapshot's routes, as served by
// the gateway at serverURL, an absolute http or https URL. With an empty
// serverURL the document has no server, which OpenAPI reads as "/": WithServer
// must add one before the document is served (see Server). The document is
// indented JSON and depends only on its arguments: paths, methods and every
// other object's keys are sorted, so equal snapshots give equal bytes.
//
// Routes whose paths differ only in parameter names, such as GET
// /orders/{id} and DELETE /orders/{orderId}, match the same requests, and
// OpenAPI allows only one of the two paths: their operations share the path
// that sorts first, with its parameter names.
func Build(s *snapshot.Snapshot, serverURL string) ([]byte, error) {
	if s == nil {
		return nil, errors.New("openapi: no snapshot")
	}
	doc := document{
		OpenAPI: Version,
		Info: info{
			Title:   fmt.Sprintf("appapi environment %s/%s", s.Namespace, s.Environment),
			Version: strconv.FormatInt(s.Generation, 10),
		},
		Paths:      map[string]map[string]*operation{},
		Components: newComponents(),
	}
	if serverURL != "" {
		u, err := absoluteURL(serverURL)
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		doc.Servers = []Server{{URL: u}}
	}

	groups, err := groupRoutes(s.Routes)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, g := range groups {
		item := map[string]*operation{}
		for _, r := range g.routes {
			op, err := buildOperation(r, g.path, g.tmpl, doc.Components.Schemas)
			if err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", r.route.Name, err))
				continue
			}
			item[strings.ToLower(r.route.Method)] = op
		}
		doc.Paths[g.path] = item
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}

	return encode(doc)
}

// encode writes a document as Build does.
func encode(doc any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return buf.Bytes(), nil
}

// pathGroup is the routes that match the same requests paths, whatever their
// methods, and the one path they are documented under.
type pathGroup struct {
	path   string
	tmpl   pathtemplate.Template
	routes []parsedRoute
}

type parsedRoute struct {
	route *snapshot.Route
	tmpl  pathtemplate.Template
}

// groupRoutes groups the routes by path key, sorted by the documented path,
// and refuses two routes that serve the same method and path.
func groupRoutes(routes []snapshot.Route) ([]*pathGroup, error) {
	byKey := map[string]*pathGroup{}
	var errs []error
	for i := range routes {
		r := &routes[i]
		if !v1alpha1.IsMethod(r.Method) {
			errs = append(errs, fmt.Errorf("route %s: method %q is not one of %s", r.Name, r.Method, strings.Join(v1alpha1.Methods, ", ")))
			continue
		}
		tmpl, err := pathtemplate.Parse(r.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", r.Name, err))
			continue
		}
		g := byKey[tmpl.Key()]
		if g == nil {
			g = &pathGroup{path: r.Path, tmpl: tmpl}
			byKey[tmpl.Key()] = g
		}
		if i := slices.IndexFunc(g.routes, func(o parsedRoute) bool { return o.route.Method == r.Method }); i >= 0 {
			errs = append(errs, fmt.Errorf("route %s: %s %s is also served by %s", r.Name, r.Method, r.Path, g.routes[i].route.Name))
			continue
		}
		if r.Path < g.path {
			g.path, g.tmpl = r.Path, tmpl
		}
		g.routes = append(g.routes, parsedRoute{route: r, tmpl: tmpl})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	groups := make([]*pathGroup, 0, len(byKey))
	for _, g := range byKey {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *pathGroup) int { return strings.Compare(a.path, b.path) })
	return groups, nil
}

// buildOperation documents one route, served under path (whose template is
// tmpl: the same key as the route's own, perhaps other parameter names). It
// adds the schemas the operation refers to to schemas.
func buildOperation(r parsedRoute, path string, tmpl pathtemplate.Template, schemas map[string]any) (*operation, error) {
	rt := r.route
	op := &operation{
		OperationID: rt.Name,
		Summary:     rt.Method + " " + rt.Path,
		Responses:   map[string]any{},
	}

	// Path parameters, in order. The names are the documented path's; a
	// parameter named otherwise by the route says under which name its
	// pipeline reads it.
	own := r.tmpl.Params()
	for i, name := range tmpl.Params() {
		p := &parameter{Name: name, In: "path", Required: true, Schema: map[string]any{"type": "string"}}
		if i < len(own) && own[i] != name {
			p.Description = fmt.Sprintf("Read by the pipeline as request.params.%s.", own[i])
		}
		op.Parameters = append(op.Parameters, p)
	}

	for i, q := range rt.Query {
		p, err := queryParameter(q)
		if err != nil {
			return nil, fmt.Errorf("query[%d] (%s): %w", i, q.Name, err)
		}
		op.Parameters = append(op.Parameters, p)
	}

	switch rt.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		body, err := requestBody(rt, schemas)
		if err != nil {
			return nil, err
		}
		op.RequestBody = body
	}

	token := rt.Authentication.Mode != v1alpha1.AuthenticationNone
	if token {
		op.Security = []map[string][]string{{bearerName: {}}}
		if len(rt.Authentication.AllowedTokens) > 0 {
			names := slices.Sorted(slices.Values(rt.Authentication.AllowedTokens))
			op.Description = "Only these ApiTokens may call this endpoint: " + strings.Join(names, ", ") + "."
		}
	} else {
		op.Security = []map[string][]string{}
	}

	buildResponses(op, rt, token)
	return op, nil
}

// queryParameter documents a declared query parameter. Its default is
// written as the value the pipeline parses it to.
func queryParameter(q v1alpha1.QueryParameter) (*parameter, error) {
	typ := q.Type
	switch typ {
	case "":
		typ = v1alpha1.QueryString
	case v1alpha1.QueryString, v1alpha1.QueryInteger, v1alpha1.QueryNumber, v1alpha1.QueryBoolean:
	default:
		return nil, fmt.Errorf("type %q is not string, integer, number or boolean", typ)
	}
	schema := map[string]any{"type": string(typ)}
	p := &parameter{Name: q.Name, In: "query", Required: q.Required, Schema: schema}
	if q.Default != nil {
		v, err := pipeline.ParseQueryValue(typ, *q.Default)
		if err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
		// NaN and infinities parse as numbers but have no JSON form.
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			p.Description = fmt.Sprintf("Defaults to %s.", *q.Default)
		} else {
			schema["default"] = v
		}
	}
	return p, nil
}

// requestBody documents the body of a POST, PUT or PATCH route: the route's
// JSON Schema when it has one, or any optional body otherwise.
//
// The schema is embedded as written, unless it has references to itself,
// such as #/$defs/item: those would be relative to the OpenAPI document once
// embedded, so the schema goes to components.schemas, named after the route,
// with its references rewritten to where it is. (References into an
// operation's request body would do as well for OpenAPI, but tools such as
// kin-openapi validate values only against references to components.)
func requestBody(rt *snapshot.Route, schemas map[string]any) (*requestBodyObject, error) {
	if len(bytes.TrimSpace(rt.RequestSchema)) == 0 {
		// The pipeline reads JSON and forms as values and any other body as text.
		return &requestBodyObject{
			Required: false,
			Content:  map[string]mediaType{jsonMediaType: {Schema: map[string]any{}}, "*/*": {}},
		}, nil
	}
	name := rt.Name + requestSchemaSuffix
	schema, moved, err := embedSchema(rt.RequestSchema, []string{"components", "schemas", name})
	if err != nil {
		return nil, fmt.Errorf("requestSchema: %w", err)
	}
	if moved {
		schemas[name] = schema
		schema = ref("schemas", name)
	}
	return &requestBodyObject{
		Description: "A JSON body that must match the schema; a mismatch gets 400 listing each violation.",
		Required:    true,
		Content:     map[string]mediaType{jsonMediaType: {Schema: schema}},
	}, nil
}

// problemStatuses are the statuses of the errors the gateway answers with a
// problem document on any route; 401 and 403 only on routes that require a token.
var problemStatuses = []int{
	http.StatusBadRequest,
	http.StatusUnauthorized,
	http.StatusForbidden,
	http.StatusNotFound,
	http.StatusRequestEntityTooLarge,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusGatewayTimeout,
}

// buildResponses documents the route's answer, the answers of its respond
// steps (early returns) and the gateway's errors.
func buildResponses(op *operation, rt *snapshot.Route, token bool) {
	answers := map[int]*response{}
	add := func(status *int32, headers map[string]string, redirect bool) {
		code := http.StatusOK
		if redirect {
			code = http.StatusFound
		}
		if status != nil {
			code = int(*status)
		}
		res := answers[code]
		if res == nil {
			res = &response{Description: description(code)}
			answers[code] = res
		}
		if redirect {
			res.header("Location", &header{
				Description: "Where the client is redirected.",
				Required:    true,
				Schema:      map[string]any{"type": "string", "format": "uri-reference"},
			})
		} else if hasBody(code) {
			res.media(contentType(headers), mediaType{Schema: map[string]any{}})
		}
		for name := range headers {
			switch {
			case strings.EqualFold(name, "Content-Type"):
				continue // OpenAPI ignores a Content-Type header: it is the media type.
			case redirect && strings.EqualFold(name, "Location"):
				continue // Documented above.
			}
			res.header(http.CanonicalHeaderKey(name), &header{Schema: map[string]any{"type": "string"}})
		}
	}
	add(rt.Response.Status, rt.Response.Headers, rt.Response.Redirect != "")
	for _, st := range rt.Steps {
		if st.Respond != nil {
			add(st.Respond.Status, st.Respond.Headers, st.Respond.Redirect != "")
		}
	}

	for _, code := range problemStatuses {
		if !token && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
			continue
		}
		if res := answers[code]; res != nil {
			// The pipeline answers with this status too: either body may come.
			res.media(problemMediaType, mediaType{Schema: ref("schemas", problemName)})
			continue
		}
		op.Responses[strconv.Itoa(code)] = ref("responses", problemName)
	}
	for code, res := range answers {
		op.Responses[strconv.Itoa(code)] = res
	}
}

// contentType is the media type of a body sent with these headers: the
// Content-Type they set, when it is plain text rather than a template, or JSON.
func contentType(headers map[string]string) string {
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		if strings.EqualFold(name, "Content-Type") {
			value := strings.TrimSpace(headers[name])
			if value != "" && !strings.Contains(value, "{{") {
				return value
			}
		}
	}
	return jsonMediaType
}

// hasBody reports whether a response with this status may have a body.
func hasBody(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusResetContent && code != http.StatusNotModified
}

func description(code int) string {
	if text := http.StatusText(code); text != "" {
		return text
	}
	return "Status " + strconv.Itoa(code)
}

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func newComponents() components {
	return components{
		Schemas: map[string]any{
			problemName: map[string]any{
				"type":        "object",
				"description": "An error, as RFC 9457 problem details.",
				"required":    []string{"type", "title", "status", "requestId"},
				"properties": map[string]any{
					"type":      map[string]any{"type": "string", "format": "uri-reference", "description": "A URI reference that identifies the problem type."},
					"title":     map[string]any{"type": "string", "description": "A short summary of the problem type."},
					"status":    map[string]any{"type": "integer", "description": "The HTTP status code."},
					"detail":    map[string]any{"type": "string", "description": "An explanation of this occurrence of the problem."},
					"instance":  map[string]any{"type": "string", "format": "uri-reference", "description": "A URI reference that identifies this occurrence."},
					"requestId": map[string]any{"type": "string", "description": "The request's ID, as in the X-Request-Id response header and the gateway's log."},
					"errors": map[string]any{
						"type":        "array",
						"description": "Each violation, for a request that does not match its schema or declared parameters.",
						"items": map[string]any{
							"type":     "object",
							"required": []string{"pointer", "message"},
							"properties": map[string]any{
								"pointer": map[string]any{"type": "string", "description": "A JSON pointer to the offending value."},
								"message": map[string]any{"type": "string", "description": "What is wrong with it."},
							},
						},
					},
				},
			},
		},
		Responses: map[string]any{
			problemName: map[string]any{
				"description": "An error, as RFC 9457 problem details.",
				"content": map[string]mediaType{
					problemMediaType: {Schema: ref("schemas", problemName)},
				},
			},
		},
		SecuritySchemes: map[string]any{
			bearerName: map[string]any{
				"type":         "http",
				"scheme":       "bearer",
				"bearerFormat": "JWT",
				"description":  "An ApiToken of the Environment, sent as Authorization: Bearer <token>.",
			},
		},
	}
}

// The document's objects, their fields in the order the specification lists them.

type document struct {
	OpenAPI    string                           `json:"openapi"`
	Info       info                             `json:"info"`
	Servers    []Server                         `json:"servers,omitempty"`
	Paths      map[string]map[string]*operation `json:"paths"`
	Components components                       `json:"components"`
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

type components struct {
	Schemas         map[string]any `json:"schemas"`
	Responses       map[string]any `json:"responses"`
	SecuritySchemes map[string]any `json:"securitySchemes"`
}

type operation struct {
	Summary     string             `json:"summary,omitempty"`
	Description string             `json:"description,omitempty"`
	OperationID string             `json:"operationId"`
	Parameters  []*parameter       `json:"parameters,omitempty"`
	RequestBody *requestBodyObject `json:"requestBody,omitempty"`
	Responses   map[string]any     `json:"responses"`
	// Security is always written: [] says the operation needs no token.
	Security []map[string][]string `json:"security"`
}

type parameter struct {
	Name        string         `json:"name"`
	In          string         `json:"in"`
	Description string         `json:"description,omitempty"`
	Required    bool           `json:"required,omitempty"`
	Schema      map[string]any `json:"schema"`
}

type requestBodyObject struct {
	Description string               `json:"description,omitempty"`
	Content     map[string]mediaType `json:"content"`
	Required    bool                 `json:"required"`
}

type mediaType struct {
	Schema any `json:"schema,omitempty"`
}

type response struct {
	Description string               `json:"description"`
	Headers     map[string]*header   `json:"headers,omitempty"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

func (r *response) header(name string, h *header) {
	if r.Headers == nil {
		r.Headers = map[string]*header{}
	}
	if old := r.Headers[name]; old == nil || h.Required {
		r.Headers[name] = h
	}
}

func (r *response) media(name string, m mediaType) {
	if r.Content == nil {
		r.Content = map[string]mediaType{}
	}
	r.Content[name] = m
}

type header struct {
	Description string         `json:"description,omitempty"`
	Required    bool           `json:"required,omitempty"`
	Schema      map[string]any `json:"schema"`
}
