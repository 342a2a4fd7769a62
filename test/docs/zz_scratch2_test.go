package docs

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/demoupstream"
)

func TestScratch2(t *testing.T) {
	env, _ := expr.NewEnv()
	up := httptest.NewServer(demoupstream.Handler())
	defer up.Close()
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	rt := &pipeline.Runtime{Vars: map[string]string{"petstoreURL": up.URL}}
	base := "apiVersion: appapi.dev/v1alpha1\nkind: AppAPI\nmetadata: {name: %s}\nspec:\n  environment: demo\n  method: %s\n  path: %s\n"
	r, err := compileY(t, env, fmt.Sprintf(base, "x", "GET", "/x")+"  steps:\n  - name: a\n    http: {url: 'http://{{ request.query.host }}:"+port+"/v2/animals/1'}\n")
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), rt, &pipeline.Request{Query: map[string]any{"host": "127.0.0.1"}}, nil)
	show(res, err)
	callee, err := compileY(t, env, fmt.Sprintf(base, "callee", "POST", "/internal/{id}")+`  authentication: {mode: Token, allowedTokens: [other]}
  requestSchema: {type: object, required: [id]}
  query: [{name: page, type: integer, default: "1"}]
  steps:
  - name: s
    respond:
      status: 404
      headers: {X-A: b}
      body: "{'path': request.path, 'method': request.method, 'params': request.params, 'query': request.query, 'text': request.text, 'token': token, 'h': request.headers}"
`)
	if err != nil {
		t.Fatal(err)
	}
	rt.Routes = map[string]*pipeline.Route{"callee": callee}
	caller, err := compileY(t, env, fmt.Sprintf(base, "caller", "GET", "/c")+`  steps:
  - name: c
    call: {appAPI: callee, input: "{'id': 1}"}
`)
	if err != nil {
		t.Fatal(err)
	}
	res, err = caller.Run(context.Background(), rt, &pipeline.Request{Headers: map[string]string{"accept": "x"}}, map[string]any{"name": "tok", "id": "j"})
	show(res, err)
	res, err = caller.Run(context.Background(), rt, &pipeline.Request{}, nil)
	show(res, err)
	bad, _ := compileY(t, env, fmt.Sprintf(base, "caller2", "GET", "/c")+`  steps:
  - name: c
    call: {appAPI: callee, input: "{'x': 1}"}
`)
	res, err = bad.Run(context.Background(), rt, &pipeline.Request{}, nil)
	show(res, err)
	inner, _ := compileY(t, env, fmt.Sprintf(base, "inner", "POST", "/i")+"  steps:\n  - name: fetch\n    http: {url: 'http://127.0.0.1:1/'}\n")
	rt.Routes["inner"] = inner
	outer, _ := compileY(t, env, fmt.Sprintf(base, "outer", "GET", "/o")+"  steps:\n  - name: enrich\n    call: {appAPI: inner}\n")
	res, err = outer.Run(context.Background(), rt, &pipeline.Request{}, nil)
	show(res, err)
}
