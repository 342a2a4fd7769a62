package docs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/appapi-dev/appapi/gateway/expr"
	"github.com/appapi-dev/appapi/gateway/pipeline"
	"github.com/appapi-dev/appapi/internal/demoupstream"
)

func TestScratch4(t *testing.T) {
	env, _ := expr.NewEnv()
	up := httptest.NewServer(demoupstream.Handler())
	defer up.Close()
	rt := &pipeline.Runtime{Vars: map[string]string{"petstoreURL": up.URL}, Secrets: map[string]string{"jwtKey": "0123456789abcdef0123456789abcdef"}, Routes: map[string]*pipeline.Route{}}
	for _, b := range yamlBlocks(readFile(t, "docs/operations.md")) {
		apps, _ := appAPIs(b.text)
		for i := range apps {
			r, err := pipeline.Compile(env, routeOf(&apps[i]))
			if err != nil {
				t.Fatal(err)
			}
			rt.Routes[apps[i].Name] = r
		}
	}
	tok := map[string]any{"name": "demo-client", "id": "abc"}
	run := func(name string, req *pipeline.Request) {
		res, err := rt.Routes[name].Run(context.Background(), rt, req, tok)
		var b []byte
		if res != nil {
			b, _ = json.Marshal(res)
		}
		fmt.Printf("%s: %s err=%v\n", name, b, err)
	}
	q := func(m map[string]any) *pipeline.Request { return &pipeline.Request{Query: m} }
	p := func(m map[string]string) *pipeline.Request { return &pipeline.Request{Params: m} }
	run("pet-search", q(map[string]any{"type": ""}))
	run("pet-search", q(map[string]any{"type": "dog"}))
	run("pet-search", q(map[string]any{"type": "fish"}))
	run("quote", &pipeline.Request{Body: map[string]any{"email": "Ada@Example.org", "items": []any{map[string]any{"sku": "a", "quantity": int64(2), "unitPrice": int64(3)}, map[string]any{"sku": "b", "quantity": int64(1), "unitPrice": 2.5}}}})
	run("adopt", p(map[string]string{"petId": "1"}))
	run("adopt", p(map[string]string{"petId": "2"}))
	run("adopt", p(map[string]string{"petId": "9"}))
	rt.Vars["maintenance"] = "on"
	run("adopt", p(map[string]string{"petId": "1"}))
	delete(rt.Vars, "maintenance")
	run("pet-inquiry", &pipeline.Request{Params: map[string]string{"petId": "1"}, Body: map[string]any{"email": "nope", "message": "", "x": 1}})
	run("pet-inquiry", &pipeline.Request{Params: map[string]string{"petId": "1"}, Body: map[string]any{"email": "a@b.org", "message": "hi"}})
	run("report-ticket", &pipeline.Request{})
	run("pet-card-page", p(map[string]string{"petId": "1"}))
	run("pet-card-page", p(map[string]string{"petId": "9"}))
	run("pet-card-page", p(map[string]string{"petId": "x"}))
	run("pet-lookup-retry", p(map[string]string{"petId": "1"}))
	run("order-import", &pipeline.Request{Text: `<order id="A-1001"><customer>Ada</customer>
  <item sku="cat-food"><quantity>2</quantity></item>
  <item sku="leash"><quantity>1</quantity></item></order>`})
	run("order-import", &pipeline.Request{Text: `<order id="A-1002"><customer>Bob</customer><item sku="x"><quantity>3</quantity></item></order>`})
	// functions table
	for _, src := range []string{`uuid()`, `sha256('abc')`, `hmacSha256('k', 'm')`, `urlEncode('a b&c')`, `urlDecode('a+b%26c')`, `toJson({'b': 1, 'a': [true]})`, `fromJson('{"n": 1}').n`,
		`'a,b'.split(',')`, `'Ab'.lowerAscii()`, `' x '.trim()`, `'%s-%d'.format(['a', 1])`, `['a', 'b'].join('-')`, `'abc'.substring(1)`, `'a.b'.replace('.', '/')`,
		`base64.encode(b'hi')`, `base64.decode('aGk=')`, `math.greatest(1, 2)`, `math.least([3, 1])`, `math.round(2.5)`, `math.ceil(1.2)`,
		`lists.range(3)`, `[3, 1].sort()`, `[[1], [2]].flatten()`, `[1, 2, 3].slice(0, 2)`, `sets.contains([1, 2], [1])`, `sets.intersects(['a'], ['a', 'b'])`,
		`cel.bind(a, {'name': 'x', 'type': 'y'}, a.name + ' ' + a.type)`, `request.query.?page.orValue('1')`, `request.headers[?'x-trace'].orValue('')`, `fromJson('{"n": 1}').n == 1`, `type(1) == int`} {
		prog, err := env.Compile(src)
		if err != nil {
			fmt.Println(src, "COMPILE", err)
			continue
		}
		v, err := prog.Eval(context.Background(), expr.Activation{Request: map[string]any{"query": map[string]any{}, "headers": map[string]string{}}})
		b, _ := json.Marshal(v)
		fmt.Printf("%s => %s %v\n", src, b, err)
	}
}
