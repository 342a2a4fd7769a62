package docs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/gateway/snapshot"
	"github.com/appapi-dev/appapi/internal/demoupstream"
	"sigs.k8s.io/yaml"
)

func compileY(t *testing.T, env *expr.Env, y string) (*pipeline.Route, error) {
	var app v1alpha1.AppAPI
	if err := yaml.UnmarshalStrict([]byte(y), &app); err != nil {
		t.Fatal(err)
	}
	r := &snapshot.Route{Name: app.Name, Method: app.Spec.Method, Path: app.Spec.Path, Query: app.Spec.Query,
		Authentication: app.Spec.Authentication, Steps: app.Spec.Steps, Response: app.Spec.Response}
	if app.Spec.RequestSchema != nil {
		r.RequestSchema = app.Spec.RequestSchema.Raw
	}
	return pipeline.Compile(env, r)
}

func show(v any, err error) {
	b, _ := json.Marshal(v)
	fmt.Printf("  => %s err=%v\n", b, err)
	if pe, ok := err.(*pipeline.Error); ok {
		fmt.Printf("     status=%d title=%q detail=%q step=%q viol=%v\n", pe.Status, pe.Title, pe.Detail, pe.Step, pe.Violations)
	}
}

func TestScratch(t *testing.T) {
	env, _ := expr.NewEnv()
	up := httptest.NewServer(demoupstream.Handler())
	defer up.Close()
	rt := &pipeline.Runtime{Vars: map[string]string{"petstoreURL": up.URL}, Secrets: map[string]string{"jwtKey": "k"}}
	run := func(name, y string, req *pipeline.Request) {
		fmt.Println("==", name)
		r, err := compileY(t, env, y)
		if err != nil {
			fmt.Println("  compile:", err, err.(*pipeline.Error).Reason)
			return
		}
		if req == nil {
			req = &pipeline.Request{Method: "GET", Path: "/x"}
		}
		res, err := r.Run(context.Background(), rt, req, map[string]any{"name": "t", "id": "i"})
		if res != nil {
			show(map[string]any{"status": res.Status, "headers": res.Headers, "body": res.Body, "redirect": res.Redirect}, err)
		} else {
			show(nil, err)
		}
	}
	base := "apiVersion: appapi.dev/v1alpha1\nkind: AppAPI\nmetadata: {name: x}\nspec:\n  environment: demo\n  method: GET\n  path: /x\n"
	run("ssrf", base+"  steps:\n  - name: a\n    http: {url: 'http://{{ request.query.host }}/v2/animals/1'}\n", &pipeline.Request{Query: map[string]any{"host": up.Listener.Addr().String()}})
	run("upper", base+"  steps:\n  - name: a\n    http: {url: 'HTTP://x/{{ request.query.host }}'}\n", nil)
	run("upperlit", base+"  steps:\n  - name: a\n    http: {url: 'HTTP://example.org/'}\n", nil)
	run("dot", base+"  steps:\n  - name: a\n    http: {url: '{{ vars.petstoreURL }}/v2/animals/{{ request.query.id }}'}\n", &pipeline.Request{Query: map[string]any{"id": ".."}})
	run("slash", base+"  steps:\n  - name: a\n    http: {url: '{{ vars.petstoreURL }}/v2/animals/{{ request.query.id }}'}\n", &pipeline.Request{Query: map[string]any{"id": "1/x?y"}})
	run("expr", base+"  steps:\n  - name: shape\n    transform: {value: 'request.body.items.size()'}\n", &pipeline.Request{Body: map[string]any{}})
	run("exprresp", base+"  response: {body: 'request.body.items'}\n", &pipeline.Request{Body: map[string]any{}})
	run("schema", base+`  steps:
  - name: input
    validate:
      schema:
        type: object
        required: [name, email]
        additionalProperties: false
        properties:
          name: {type: string, minLength: 1, nullable: true}
          email: {type: string, pattern: "^[^@]+@[^@]+$", format: email}
          age: {type: integer, minimum: 0}
`, &pipeline.Request{Body: map[string]any{"name": "", "age": -1.5, "extra": 1}})
	run("schema07", base+`  steps:
  - name: input
    onError: Continue
    validate:
      schema:
        $schema: "http://json-schema.org/draft-07/schema#"
        properties:
          email: {type: string, format: email}
`, &pipeline.Request{Body: map[string]any{"email": "nope"}})
	run("xml", base+`  steps:
  - name: parse
    xmlToJson: {value: request.text}
`, &pipeline.Request{Text: `<?xml version="1.0"?><order id="7" xmlns:x="urn:x"><x:item sku="a">  Apple </x:item><item sku="b"/><note> hi <b>x</b> </note><qty>2</qty></order>`})
	run("xmlbad", base+`  steps:
  - name: parse
    xmlToJson: {value: request.text}
`, &pipeline.Request{Text: "<a>\n<b></a>"})
	run("jwt", base+`  steps:
  - name: sign
    jwt: {algorithm: HS256, key: jwtKey, claims: "{'sub': token.name, 'nbf': now}", expiresIn: 15m}
`, nil)
	run("redirect", base+"  response: {redirect: '//evil'}\n", nil)
	run("lastwait", base+"  steps:\n  - name: a\n    transform: {value: '1'}\n  - name: w\n    wait: {duration: 1ms}\n", nil)
	run("skipped", base+"  steps:\n  - name: a\n    when: 'false'\n    transform: {value: '1'}\n  - name: b\n    transform: {value: 'steps.a'}\n", nil)
	run("hasskipped", base+"  steps:\n  - name: a\n    when: 'false'\n    transform: {value: '1'}\n  - name: b\n    transform: {value: \"has(steps.a) ? 1 : 2\"}\n", nil)
	run("continue", base+"  steps:\n  - name: a\n    onError: Continue\n    http: {url: 'http://127.0.0.1:1/'}\n  - name: b\n    transform: {value: 'steps.a'}\n", nil)
	run("upstreamnum", base+"  steps:\n  - name: a\n    http: {url: '{{ vars.petstoreURL }}/v2/animals/1'}\n  - name: b\n    transform: {value: 'steps.a.body.animal.id + 1'}\n", nil)
	run("hdr", base+"  steps:\n  - name: a\n    transform: {value: \"request.headers[?'x-request-id'].orValue('none')\"}\n", nil)
	run("varsopt", base+"  steps:\n  - name: a\n    transform: {value: \"vars.?maintenance.orValue('false') == 'true'\"}\n", nil)
	run("badref", base+"  steps:\n  - name: a\n    transform: {value: 'steps.b'}\n  - name: b\n    transform: {value: '1'}\n", nil)
	run("badexpr", base+"  steps:\n  - name: a\n    transform: {value: 'request.body.'}\n", nil)
	run("extref", base+"  requestSchema: {$ref: 'https://example.org/s.json'}\n", nil)
	run("nomap", base+"  steps:\n  - name: a\n    jwt: {algorithm: HS256, key: jwtKey, claims: \"'x'\"}\n", nil)
}
