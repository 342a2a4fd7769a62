//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apptoken "github.com/appapi-dev/appapi/internal/token"
)

const environments = `
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  requestTimeout: 2s
  maxRequestBytes: 5242880
---
apiVersion: appapi.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  requestTimeout: 2s
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: dev-client}
spec: {environment: dev}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: prod-partner}
spec: {environment: prod}
---
apiVersion: appapi.dev/v1alpha1
kind: ApiToken
metadata: {name: prod-internal}
spec: {environment: prod}
`

// helloAppAPI answers {"greeting": <greeting> + ' ' + name} to the one token
// allowed; greeting is a CEL expression.
func helloAppAPI(allowed, greeting string) string {
	return fmt.Sprintf(`
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: hello}
spec:
  environment: prod
  method: GET
  path: /hello/{name}
  authentication: {allowedTokens: [%s]}
  steps:
  - name: greet
    transform: {value: "{'greeting': %s + ' ' + request.params.name}"}
  response: {body: steps.greet}
`, allowed, greeting)
}

// TestTokensAndEdits follows tokens and an AppAPI through kubectl.
func TestTokensAndEdits(t *testing.T) {
	ns := newNamespace(t, "lifecycle")
	apply(t, ns, environments)
	apply(t, ns, helloAppAPI("prod-partner", "'hello'"))
	prod := gatewayURL(t, ns, "prod")
	url := prod + "/hello/ada"
	partner := token(t, ns, "prod-partner")
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "appapi/hello")
	waitFor(t, "the AppAPI answers the partner", expect("GET", url, partner, 200, `"greeting":"hello ada"`))

	t.Run("a token of another environment gets 401", func(t *testing.T) {
		dev := token(t, ns, "dev-client")
		waitFor(t, "401", expect("GET", url, dev, 401, "not valid for this environment"))
	})
	t.Run("a token outside allowedTokens gets 403", func(t *testing.T) {
		internal := token(t, ns, "prod-internal")
		waitFor(t, "403", expect("GET", url, internal, 403, "may not call"))
	})
	t.Run("a token is refused before it exists, accepted once Ready, refused after delete", func(t *testing.T) {
		// A token signed with the Environment's own key, for an ApiToken
		// that does not exist yet: the gateway trusts published hashes,
		// never signatures, so it is refused.
		keyPEM := decode(kubectl(t, "get", "secret", "-n", ns, "appapi-prod-signing-key", "-o", `jsonpath={.data.ed25519\.key}`))
		key, err := apptoken.ParseSigningKey(map[string][]byte{apptoken.PrivateKeyKey: []byte(keyPEM)})
		if err != nil {
			t.Fatal(err)
		}
		forged, err := apptoken.Mint(key, apptoken.Subject{Namespace: ns, Environment: "prod", Name: "late"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		forgedB64 := base64.StdEncoding.EncodeToString([]byte(forged.Text))
		if err := expect("GET", url, forgedB64, 401, "not valid")(); err != nil {
			t.Fatal(err)
		}

		apply(t, ns, "apiVersion: appapi.dev/v1alpha1\nkind: ApiToken\nmetadata: {name: late}\nspec: {environment: prod}\n")
		apply(t, ns, strings.Replace(helloAppAPI("prod-partner", "'hello'"), "[prod-partner]", "[prod-partner, late]", 1))
		late := token(t, ns, "late")
		took := waitFor(t, "the new token is accepted", expect("GET", url, late, 200, "hello ada"))
		t.Logf("new token accepted %s after its ApiToken was Ready", took)
		kubectl(t, "delete", "-n", ns, "apitoken", "late")
		took = waitFor(t, "the deleted token is refused", expect("GET", url, late, 401, "not valid"))
		t.Logf("deleted token refused %s after kubectl delete returned", took)
	})
	t.Run("kubectl apply of an edit changes the answer", func(t *testing.T) {
		start := time.Now()
		apply(t, ns, helloAppAPI("prod-partner", "'bonjour'"))
		waitFor(t, "the edit is served", expect("GET", url, partner, 200, "bonjour ada"))
		t.Logf("edit served %s after kubectl apply started", time.Since(start))
	})
	t.Run("a broken expression is refused and the last good version keeps answering", func(t *testing.T) {
		apply(t, ns, helloAppAPI("prod-partner", "'broken' +"))
		waitFor(t, "Accepted is False", func() error {
			out := kubectl(t, "get", "-n", ns, "appapi", "hello")
			if !strings.Contains(out, "False") {
				return fmt.Errorf("kubectl get appapi hello:\n%s", out)
			}
			return nil
		})
		out := kubectl(t, "get", "-n", ns, "appapi", "hello", "-o", "wide")
		if !strings.Contains(out, "InvalidExpression") {
			t.Errorf("kubectl get -o wide does not show the reason:\n%s", out)
		}
		msg := kubectl(t, "get", "-n", ns, "appapi", "hello", "-o", `jsonpath={.status.conditions[?(@.type=="Accepted")].message}`)
		if !strings.Contains(msg, "spec.steps[0].transform.value") {
			t.Errorf("Accepted message does not say where: %s", msg)
		}
		for range 5 {
			if err := expect("GET", url, partner, 200, "bonjour ada")(); err != nil {
				t.Fatalf("the last good version stopped answering: %v", err)
			}
		}
	})
}

// TestLimitsAndUpstreams covers 413, redirects, and upstreams that are down or hang.
func TestLimitsAndUpstreams(t *testing.T) {
	ns := newNamespace(t, "limits")
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	apply(t, ns, environments+fmt.Sprintf(`
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: upload}
spec:
  environment: dev
  method: POST
  path: /upload
  authentication: {mode: None}
  response: {body: "{'received': size(request.text)}"}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: go}
spec:
  environment: dev
  method: GET
  path: /go/{slug}
  authentication: {mode: None}
  response: {redirect: "https://example.org/docs/{{ request.params.slug }}"}
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: down}
spec:
  environment: dev
  method: GET
  path: /down
  authentication: {mode: None}
  steps: [{name: call, http: {url: "%s/x"}}]
---
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata: {name: hangs}
spec:
  environment: dev
  method: GET
  path: /hangs
  authentication: {mode: None}
  steps: [{name: call, http: {url: "%s/x", timeout: 30s}}]
`, downURL, slow.URL))
	dev := gatewayURL(t, ns, "dev")
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "appapi", "--all")

	t.Run("6 MB gets 413", func(t *testing.T) {
		r, err := call("POST", dev+"/upload", "", "application/octet-stream", strings.NewReader(strings.Repeat("x", 6<<20)))
		if err != nil || r.status != 413 || !strings.Contains(r.body, "5242880") {
			t.Fatalf("6 MB upload: %v %d %s", err, r.status, r.body)
		}
		r, err = call("POST", dev+"/upload", "", "text/plain", strings.NewReader("small"))
		if err != nil || r.status != 200 || !strings.Contains(r.body, `"received":5`) {
			t.Fatalf("small upload: %v %d %s", err, r.status, r.body)
		}
	})
	t.Run("a redirect answers 302 with its Location", func(t *testing.T) {
		r, err := call("GET", dev+"/go/install", "", "", nil)
		if err != nil || r.status != 302 || r.header.Get("Location") != "https://example.org/docs/install" {
			t.Fatalf("redirect: %v %d %v", err, r.status, r.header)
		}
	})
	t.Run("an upstream that is down gives 502", func(t *testing.T) {
		r, err := call("GET", dev+"/down", "", "", nil)
		if err != nil || r.status != 502 || strings.Contains(r.body, "127.0.0.1") {
			t.Fatalf("down upstream: %v %d %s", err, r.status, r.body)
		}
	})
	t.Run("an upstream that hangs gives 504", func(t *testing.T) {
		r, err := call("GET", dev+"/hangs", "", "", nil)
		if err != nil || r.status != 504 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("hanging upstream: %v %d %s", err, r.status, r.body)
		}
	})
}

// TestDeletingAnEnvironmentRemovesWhatItOwned uses kubectl delete.
func TestDeletingAnEnvironmentRemovesWhatItOwned(t *testing.T) {
	ns := newNamespace(t, "teardown")
	apply(t, ns, environments)
	gatewayURL(t, ns, "dev")
	kubectl(t, "delete", "-n", ns, "environment", "dev", "--timeout=60s")
	waitFor(t, "everything the Environment owned is gone", func() error {
		out := kubectl(t, "get", "-n", ns, "deployments,services,serviceaccounts,roles,rolebindings,configmaps,secrets",
			"-l", "appapi.dev/environment=dev,appapi.dev/component notin (token,token-record)", "-o", "name")
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("left behind:\n%s", out)
		}
		return nil
	})
	waitFor(t, "the gateway process stopped", func() error {
		if _, ok := h.Gateway(ns, "dev"); ok {
			return fmt.Errorf("still running")
		}
		return nil
	})
}
