package crdvalidation

import (
	"fmt"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

const (
	pathInvalid       = "path must be absolute"
	pathDotSegment    = "path segments cannot be . or .."
	stepsUnique       = "steps: each step name must be unique"
	queryUnique       = "query: each parameter name must be unique"
	exactlyOneOp      = "each step must set exactly one operation"
	requiredNoDefault = "a required parameter cannot have a default"
	urlScheme         = "url must start with http:// or https://"
	waitTooLong       = "must be at most 1h"
	unsupportedValue  = "Unsupported value"
)

// baseAppAPI is a valid AppAPI; each case changes it.
func baseAppAPI(ns, name string) *v1alpha1.AppAPI {
	return &v1alpha1.AppAPI{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.AppAPISpec{
			Environment: "prod",
			Method:      "GET",
			Path:        "/orders/{orderId}",
			Steps: []v1alpha1.Step{
				transformStep("order", `{"id": request.params.orderId}`),
			},
		},
	}
}

func transformStep(name, value string) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Transform: &v1alpha1.TransformOperation{Value: value}}
}

func httpStep(name string, h v1alpha1.HTTPOperation) v1alpha1.Step {
	return v1alpha1.Step{Name: name, HTTP: &h}
}

func waitStep(name string, d v1alpha1.Duration) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Wait: &v1alpha1.WaitOperation{Duration: d}}
}

func rawJSON(s string) apiextensionsv1.JSON { return apiextensionsv1.JSON{Raw: []byte(s)} }

// richAppAPISpec uses every operation once, and most optional fields.
func richAppAPISpec() v1alpha1.AppAPISpec {
	schema := rawJSON(`{"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 1}}}`)
	return v1alpha1.AppAPISpec{
		Environment: "prod",
		Method:      "POST",
		Path:        "/customers/{customerId}/orders/",
		Query: []v1alpha1.QueryParameter{
			{Name: "dryRun", Type: v1alpha1.QueryBoolean, Default: new("false")},
			{Name: "limit", Type: v1alpha1.QueryInteger, Required: true},
			{Name: "ratio", Type: v1alpha1.QueryNumber},
			{Name: "tag"},
		},
		Authentication: v1alpha1.Authentication{
			Mode:          v1alpha1.AuthenticationToken,
			AllowedTokens: []string{"mobile-app", "reporting"},
		},
		RequestSchema: &schema,
		Steps: []v1alpha1.Step{
			{
				Name: "check", OnError: v1alpha1.OnErrorContinue,
				Validate: &v1alpha1.ValidateOperation{Schema: schema, Value: "request.body"},
			},
			{
				Name: "early", When: "!steps.check.valid",
				Respond: &v1alpha1.RespondOperation{
					Status:  new(int32(400)),
					Headers: map[string]string{"X-Reason": "invalid {{ request.params.customerId }}"},
					Body:    "steps.check.errors",
				},
			},
			{
				Name: "customer",
				HTTP: &v1alpha1.HTTPOperation{
					Method:   "POST",
					URL:      "https://{{ vars.crmHost }}/customers/{{ request.params.customerId }}",
					Headers:  map[string]string{"Authorization": "Bearer {{ secrets.crm_api_key }}"},
					Query:    map[string]string{"expand": "orders"},
					BodyText: "id={{ request.params.customerId }}",
					Timeout:  "2.5s",
				},
			},
			{Name: "legacy", Transform: &v1alpha1.TransformOperation{Value: `"<order><id>1</id></order>"`}},
			{Name: "legacyJson", XMLToJSON: &v1alpha1.XMLToJSONOperation{Value: "steps.legacy"}},
			{
				Name: "token",
				JWT: &v1alpha1.JWTOperation{
					Algorithm: "EdDSA",
					Key:       "jwtKey",
					Claims:    `{"sub": request.params.customerId}`,
					ExpiresIn: "5m",
				},
			},
			{Name: "pause", Wait: &v1alpha1.WaitOperation{Duration: "250ms"}},
			{Name: "price", Call: &v1alpha1.CallOperation{AppAPI: "price-order", Input: "request.body"}},
		},
		Response: v1alpha1.Response{
			Status:  new(int32(201)),
			Headers: map[string]string{"Location": "/orders/{{ steps.price.id }}"},
			Body:    `{"customer": steps.customer.body, "token": steps.token.token, "price": steps.price}`,
		},
	}
}

func TestAppAPI(t *testing.T) {
	ns := newNamespace(t)

	cases := []struct {
		desc       string
		mutate     func(*v1alpha1.AppAPI)
		unset      []string
		wantErrors []string
	}{
		// Valid objects.
		{
			desc:   "minimal",
			mutate: func(*v1alpha1.AppAPI) {},
		},
		{
			desc:   "every operation once",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec = richAppAPISpec() },
		},
		{
			desc:   "no steps",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec.Steps = nil },
		},
		{
			desc: "redirect with the default status",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Response = v1alpha1.Response{Redirect: "https://example.com/{{ request.params.orderId }}"}
			},
		},
		{
			desc: "redirect with status 308",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Response = v1alpha1.Response{Redirect: "https://example.com/", Status: new(int32(308))}
			},
		},
		{
			desc: "authentication None",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Authentication.Mode = v1alpha1.AuthenticationNone
			},
		},

		// environment, method and path.
		{
			desc:       "missing environment",
			mutate:     func(*v1alpha1.AppAPI) {},
			unset:      []string{"spec.environment"},
			wantErrors: []string{"spec.environment: Required value"},
		},
		{
			desc:       "method not in the enum",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Method = "FETCH" },
			wantErrors: []string{"spec.method:", unsupportedValue, `"FETCH"`},
		},
		{
			desc:       "method in lowercase",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Method = "get" },
			wantErrors: []string{"spec.method:", unsupportedValue},
		},
		{
			desc:       "missing method",
			mutate:     func(*v1alpha1.AppAPI) {},
			unset:      []string{"spec.method"},
			wantErrors: []string{"spec.method: Required value"},
		},
		{
			desc:   "path /",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec.Path = "/" },
		},
		{
			desc:   "path with a trailing slash and several parameters",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec.Path = "/v1/customers/{customer_id}/orders/{_order2}/" },
		},
		{
			desc:   "path with a segment starting with a dot",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec.Path = "/.well-known/app.json" },
		},
		{
			desc:       "path not absolute",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "orders/{orderId}" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path parameter starting with a digit",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders/{1x}" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path parameter without its closing brace",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders/{id" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path parameter inside a segment",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders/id-{id}" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path with an empty segment",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders//items" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path with a query string",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders?limit=1" },
			wantErrors: []string{"spec.path:", pathInvalid},
		},
		{
			desc:       "path with a .. segment",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders/../admin" },
			wantErrors: []string{"spec.path:", pathDotSegment},
		},
		{
			desc:       "path ending with a . segment",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Path = "/orders/." },
			wantErrors: []string{"spec.path:", pathDotSegment},
		},

		// query.
		{
			desc: "duplicate query parameter names",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Query = []v1alpha1.QueryParameter{{Name: "limit"}, {Name: "offset"}, {Name: "limit", Type: v1alpha1.QueryInteger}}
			},
			wantErrors: []string{"spec:", queryUnique},
		},
		{
			desc: "required query parameter with a default",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Query = []v1alpha1.QueryParameter{{Name: "limit", Required: true, Default: new("10")}}
			},
			wantErrors: []string{"spec.query[0]:", requiredNoDefault},
		},
		{
			desc: "query parameter type not in the enum",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Query = []v1alpha1.QueryParameter{{Name: "since", Type: "date"}}
			},
			wantErrors: []string{"spec.query[0].type:", unsupportedValue},
		},

		// authentication.
		{
			desc:       "authentication mode not in the enum",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Authentication.Mode = "Basic" },
			wantErrors: []string{"spec.authentication.mode:", unsupportedValue},
		},
		{
			desc: "duplicate allowed tokens",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Authentication.AllowedTokens = []string{"mobile", "mobile"}
			},
			wantErrors: []string{"spec.authentication.allowedTokens[1]:", "Duplicate value"},
		},

		// steps.
		{
			desc: "duplicate step names",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{transformStep("a", "1"), transformStep("b", "2"), transformStep("a", "3")}
			},
			wantErrors: []string{"spec:", stepsUnique},
		},
		{
			desc: "step with no operation",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "nothing"}}
			},
			wantErrors: []string{"spec.steps[0]:", exactlyOneOp},
		},
		{
			desc: "step with two operations",
			mutate: func(a *v1alpha1.AppAPI) {
				s := transformStep("both", "1")
				s.Wait = &v1alpha1.WaitOperation{Duration: "1s"}
				a.Spec.Steps = []v1alpha1.Step{s}
			},
			wantErrors: []string{"spec.steps[0]:", exactlyOneOp},
		},
		{
			desc:       "step name with a dash",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{transformStep("get-order", "1")} },
			wantErrors: []string{"spec.steps[0].name:", identifierPattern},
		},
		{
			desc: "onError not in the enum",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps[0].OnError = "Retry"
			},
			wantErrors: []string{"spec.steps[0].onError:", unsupportedValue},
		},
		{
			desc: "65 steps",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = nil
				for i := range 65 {
					a.Spec.Steps = append(a.Spec.Steps, transformStep(fmt.Sprintf("s%d", i), "1"))
				}
			},
			wantErrors: []string{"spec.steps:", "must have at most 64 items"},
		},

		// http.
		{
			desc: "http with body and bodyText",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{
					Method: "POST", URL: "https://example.com/", Body: "request.body", BodyText: "raw",
				})}
			},
			wantErrors: []string{"spec.steps[0].http:", "http: set body or bodyText, not both"},
		},
		{
			desc: "http method not in the enum",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{Method: "CONNECT", URL: "https://example.com/"})}
			},
			wantErrors: []string{"spec.steps[0].http.method:", unsupportedValue},
		},
		{
			desc: "http url with another scheme",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "ftp://example.com/file"})}
			},
			wantErrors: []string{"spec.steps[0].http.url:", urlScheme},
		},
		{
			desc: "http url starting with an Environment variable for the base URL",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "{{ vars.crmBaseURL }}/customers"})}
			},
		},
		{
			desc: "http url whose host comes from the request",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "{{ request.query.target }}/customers"})}
			},
			wantErrors: []string{"spec.steps[0].http.url:", urlScheme},
		},
		{
			desc: "http url with an uppercase scheme",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "HTTPS://EXAMPLE.COM/"})}
			},
		},
		{
			desc: "http timeout 10 seconds",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "https://example.com/", Timeout: "10 seconds"})}
			},
			wantErrors: []string{"spec.steps[0].http.timeout:", durationFormat},
		},
		{
			desc: "http timeout 1d",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "https://example.com/", Timeout: "1d"})}
			},
			wantErrors: []string{"spec.steps[0].http.timeout:", durationFormat},
		},
		{
			desc: "http timeout 1m30s",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{httpStep("call", v1alpha1.HTTPOperation{URL: "https://example.com/", Timeout: "1m30s"})}
			},
		},

		// wait.
		{
			desc:   "wait 1h, the maximum",
			mutate: func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{waitStep("pause", "1h")} },
		},
		{
			desc:       "wait 10 seconds",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{waitStep("pause", "10 seconds")} },
			wantErrors: []string{"spec.steps[0].wait.duration:", durationFormat},
		},
		{
			desc:       "wait 1d",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{waitStep("pause", "1d")} },
			wantErrors: []string{"spec.steps[0].wait.duration:", durationFormat},
		},
		{
			desc:       "wait over 1h",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{waitStep("pause", "61m")} },
			wantErrors: []string{"spec.steps[0].wait.duration:", waitTooLong},
		},
		{
			desc:       "wait without a duration",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Steps = []v1alpha1.Step{waitStep("pause", "")} },
			wantErrors: []string{"spec.steps[0].wait.duration:", durationFormat},
		},

		// jwt.
		{
			desc: "jwt algorithm not in the enum",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "token", JWT: &v1alpha1.JWTOperation{Algorithm: "none", Key: "jwtKey", Claims: "{}"}}}
			},
			wantErrors: []string{"spec.steps[0].jwt.algorithm:", unsupportedValue},
		},
		{
			desc: "jwt key that cannot name an Environment secret",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "token", JWT: &v1alpha1.JWTOperation{Algorithm: "HS256", Key: "jwt-key", Claims: "{}"}}}
			},
			wantErrors: []string{"spec.steps[0].jwt.key:", identifierPattern},
		},
		{
			desc: "jwt expiresIn 1d",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "token", JWT: &v1alpha1.JWTOperation{Algorithm: "HS256", Key: "jwtKey", Claims: "{}", ExpiresIn: "1d"}}}
			},
			wantErrors: []string{"spec.steps[0].jwt.expiresIn:", durationFormat},
		},

		// respond and response.
		{
			desc: "respond with body and redirect",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "out", Respond: &v1alpha1.RespondOperation{Body: "{}", Redirect: "https://example.com/"}}}
			},
			wantErrors: []string{"spec.steps[0].respond:", "respond: set body or redirect, not both"},
		},
		{
			desc: "respond redirect with status 200",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Steps = []v1alpha1.Step{{Name: "out", Respond: &v1alpha1.RespondOperation{Redirect: "https://example.com/", Status: new(int32(200))}}}
			},
			wantErrors: []string{"spec.steps[0].respond:", "respond: a redirect status must be 301, 302, 303, 307 or 308"},
		},
		{
			desc: "response with body and redirect",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Response = v1alpha1.Response{Body: "steps.order", Redirect: "https://example.com/"}
			},
			wantErrors: []string{"spec.response:", "response: set body or redirect, not both"},
		},
		{
			desc: "response redirect with status 200",
			mutate: func(a *v1alpha1.AppAPI) {
				a.Spec.Response = v1alpha1.Response{Redirect: "https://example.com/", Status: new(int32(200))}
			},
			wantErrors: []string{"spec.response:", "response: a redirect status must be 301, 302, 303, 307 or 308"},
		},
		{
			desc:       "response status 600",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Response.Status = new(int32(600)) },
			wantErrors: []string{"spec.response.status:", "should be less than or equal to 599"},
		},
		{
			desc:       "response status 99",
			mutate:     func(a *v1alpha1.AppAPI) { a.Spec.Response.Status = new(int32(99)) },
			wantErrors: []string{"spec.response.status:", "should be greater than or equal to 100"},
		},
	}

	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			a := baseAppAPI(ns, caseName(i))
			tc.mutate(a)
			checkErrors(t, create(t.Context(), a, tc.unset), tc.wantErrors)
		})
	}
}

func TestAppAPIDefaults(t *testing.T) {
	ns := newNamespace(t)
	u := applyYAML(t, ns, `
apiVersion: appapi.dev/v1alpha1
kind: AppAPI
metadata:
  name: minimal
spec:
  environment: prod
  method: GET
  path: /customers/{id}
  query:
  - name: fields
  steps:
  - name: customer
    http:
      url: https://crm.example.com/customers/{{ request.params.id }}
`)

	var got v1alpha1.AppAPI
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatalf("reading the AppAPI back: %v", err)
	}
	if m := got.Spec.Authentication.Mode; m != v1alpha1.AuthenticationToken {
		t.Errorf("spec.authentication.mode = %q, want %q", m, v1alpha1.AuthenticationToken)
	}
	if len(got.Spec.Query) != 1 || got.Spec.Query[0].Type != v1alpha1.QueryString {
		t.Errorf("spec.query = %+v, want one parameter of type %q", got.Spec.Query, v1alpha1.QueryString)
	}
	if len(got.Spec.Steps) != 1 || got.Spec.Steps[0].HTTP == nil {
		t.Fatalf("spec.steps = %+v, want the one http step", got.Spec.Steps)
	}
	step := got.Spec.Steps[0]
	if step.OnError != v1alpha1.OnErrorFail {
		t.Errorf("spec.steps[0].onError = %q, want %q", step.OnError, v1alpha1.OnErrorFail)
	}
	if step.HTTP.Method != "GET" {
		t.Errorf("spec.steps[0].http.method = %q, want GET", step.HTTP.Method)
	}
	if step.HTTP.Timeout != "" {
		t.Errorf("spec.steps[0].http.timeout = %q, want it left unset (the gateway applies 10s)", step.HTTP.Timeout)
	}
	if got.Spec.Response.Status != nil {
		t.Errorf("spec.response.status = %d, want it left unset", *got.Spec.Response.Status)
	}
}
