package docs

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/metrics"
	"github.com/appapi-dev/appapi/gateway/server"
	"github.com/appapi-dev/appapi/gateway/snapshot"
	"sigs.k8s.io/yaml"
)

func TestScratch3(t *testing.T) {
	gw, _ := server.New(slog.New(slog.NewJSONHandler(os.Stdout, nil)), metrics.New())
	srv := httptest.NewServer(gw)
	defer srv.Close()
	do := func(method, path, ct, body string, hdr ...string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %s -> %d ct=%q allow=%q www=%q cc=%q\n   %s\n", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Cache-Control"), b)
	}
	do("GET", "/x", "", "")
	apps := []string{`
metadata: {name: orders}
spec:
  environment: demo
  method: GET
  path: /orders/{id}
  query: [{name: limit, type: integer}]
  authentication: {mode: Token, allowedTokens: [partner]}
  steps:
  - name: a
    transform: {value: "{'id': request.params.id}"}
`, `
metadata: {name: create}
spec:
  environment: demo
  method: POST
  path: /orders
  authentication: {mode: None}
  requestSchema: {type: object, required: [email], properties: {email: {type: string}}}
  steps:
  - name: a
    transform: {value: "request.body"}
`, `
metadata: {name: slow}
spec:
  environment: demo
  method: GET
  path: /slow
  authentication: {mode: None}
  steps:
  - name: w
    wait: {duration: 5s}
`, `
metadata: {name: nan}
spec:
  environment: demo
  method: GET
  path: /nan
  authentication: {mode: None}
  response:
    headers: {X-Y: z}
    body: "double('NaN')"
`, `
metadata: {name: text}
spec:
  environment: demo
  method: GET
  path: /text
  authentication: {mode: None}
  response:
    headers: {Content-Type: text/plain}
    body: "'hi'"
`}
	s := &snapshot.Snapshot{Version: snapshot.Version, Namespace: "ns", Environment: "demo", Generation: 1,
		Settings: snapshot.Settings{MaxRequestBytes: 20, RequestTimeout: snapshot.Duration(300 * time.Millisecond)}}
	for _, y := range apps {
		var app v1alpha1.AppAPI
		if err := yaml.UnmarshalStrict([]byte(y), &app); err != nil {
			t.Fatal(err)
		}
		r := snapshot.Route{Name: app.Name, Generation: 1, Method: app.Spec.Method, Path: app.Spec.Path, Query: app.Spec.Query,
			Authentication: app.Spec.Authentication, Steps: app.Spec.Steps, Response: app.Spec.Response}
		if app.Spec.RequestSchema != nil {
			r.RequestSchema = app.Spec.RequestSchema.Raw
		}
		s.Routes = append(s.Routes, r)
	}
	exp := time.Now().Add(-time.Hour)
	s.Credentials.Tokens = []snapshot.Token{{Name: "partner", ID: "p1", Hash: snapshot.HashToken("good")}, {Name: "other", ID: "o1", Hash: snapshot.HashToken("other")}, {Name: "old", ID: "x1", Hash: snapshot.HashToken("old"), ExpiresAt: &exp}}
	if err := gw.Load(s); err != nil {
		t.Fatal(err)
	}
	do("GET", "/nope", "", "")
	do("DELETE", "/orders/1", "", "")
	do("HEAD", "/orders/1", "", "")
	do("GET", "/orders/1", "", "")
	do("GET", "/orders/1", "", "", "Authorization", "Basic abc")
	do("GET", "/orders/1", "", "", "Authorization", "Bearer nope")
	do("GET", "/orders/1", "", "", "Authorization", "Bearer old")
	do("GET", "/orders/1", "", "", "Authorization", "Bearer other")
	do("GET", "/orders/1?limit=ten", "", "", "Authorization", "Bearer good")
	do("GET", "/orders/1?limit=3", "", "", "Authorization", "Bearer good", "X-Request-Id", "abc-123")
	do("POST", "/orders", "application/json", `{"email": 1`)
	do("POST", "/orders", "application/json", `{"email": 1}]`)
	do("POST", "/orders", "application/json", `{"email": 1}`)
	do("POST", "/orders", "application/json", `{"email": "aaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	do("GET", "/slow", "", "")
	do("GET", "/nan", "", "")
	do("GET", "/text", "", "")
}
