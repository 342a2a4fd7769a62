package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// OnError says what a failing step does to the pipeline.
// +kubebuilder:validation:Enum=Fail;Continue
type OnError string

const (
	// OnErrorFail stops the pipeline and answers with the step's error status.
	OnErrorFail OnError = "Fail"
	// OnErrorContinue records {"error": "<message>"} as the step's output and goes on.
	OnErrorContinue OnError = "Continue"
)

// Step is one data operation of a pipeline. Exactly one operation field is set.
// +kubebuilder:validation:XValidation:rule="[has(self.http), has(self.transform), has(self.respond), has(self.validate), has(self.jwt), has(self.call), has(self.wait), has(self.xmlToJson)].filter(x, x).size() == 1",message="each step must set exactly one operation: http, transform, respond, validate, jwt, call, wait or xmlToJson"
type Step struct {
	// name identifies the step; later steps read its output as steps.<name>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`

	// when is a CEL expression; the step runs only when it is true.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	When string `json:"when,omitempty"`

	// onError is Fail (stop and answer with an error) or Continue (record
	// {"error": message} as the output and go on).
	// +optional
	// +kubebuilder:default=Fail
	OnError OnError `json:"onError,omitempty"`

	// http sends an HTTP request to another service ("HTTP Request").
	// +optional
	HTTP *HTTPOperation `json:"http,omitempty"`

	// transform computes a value from earlier data ("Transform").
	// +optional
	Transform *TransformOperation `json:"transform,omitempty"`

	// respond ends the pipeline with an answer or a redirect ("Early Return").
	// +optional
	Respond *RespondOperation `json:"respond,omitempty"`

	// validate checks a value against a JSON Schema ("Swagger Schema Validation").
	// +optional
	Validate *ValidateOperation `json:"validate,omitempty"`

	// jwt signs a JSON Web Token ("JWT Generation").
	// +optional
	JWT *JWTOperation `json:"jwt,omitempty"`

	// call runs another AppAPI of the same Environment ("Run Data Flow").
	// +optional
	Call *CallOperation `json:"call,omitempty"`

	// wait pauses the pipeline ("Wait").
	// +optional
	Wait *WaitOperation `json:"wait,omitempty"`

	// xmlToJson converts an XML document to JSON ("XML to JSON").
	// +optional
	XMLToJSON *XMLToJSONOperation `json:"xmlToJson,omitempty"`
}

// HTTPOperation sends one HTTP request. Its output is {status, headers, body},
// with body parsed when the response is JSON.
// +kubebuilder:validation:XValidation:rule="!(has(self.body) && has(self.bodyText))",message="http: set body or bodyText, not both"
type HTTPOperation struct {
	// method of the request.
	// +optional
	// +kubebuilder:default=GET
	// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS
	Method string `json:"method,omitempty"`

	// url is a template for the absolute http or https URL; each inserted
	// value is percent-escaped, so a parameter cannot change the URL's path.
	// It may start with {{ vars.<name> }}, an Environment variable holding a
	// base URL (such as http://orders.shop.svc), which is inserted as is.
	// Only literal text and {{ vars.<name> }} may build the scheme and host:
	// the request decides nothing about where the request goes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.matches('(?i)^https?://') || self.matches('^[{][{] *vars[.][A-Za-z_][A-Za-z0-9_]* *[}][}]')",message="url must start with http:// or https://, or with {{ vars.<name> }} holding a base URL"
	URL string `json:"url"`

	// headers are request headers; each value is a template.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Headers map[string]string `json:"headers,omitempty"`

	// query parameters added to the URL; each value is a template.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Query map[string]string `json:"query,omitempty"`

	// body is a CEL expression whose value is sent as JSON.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// bodyText is a template sent as the body as is.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	BodyText string `json:"bodyText,omitempty"`

	// timeout of the request; defaults to 10s and never exceeds the
	// Environment's requestTimeout.
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
}

// TransformOperation computes a value.
type TransformOperation struct {
	// value is a CEL expression; its result is the step's output.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Value string `json:"value"`
}

// RespondOperation ends the pipeline early with a response or a redirect.
// +kubebuilder:validation:XValidation:rule="!(has(self.redirect) && has(self.body))",message="respond: set body or redirect, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.redirect) || !has(self.status) || self.status in [301, 302, 303, 307, 308]",message="respond: a redirect status must be 301, 302, 303, 307 or 308"
type RespondOperation struct {
	// status is the HTTP status code: 200 by default, 302 for a redirect.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	Status *int32 `json:"status,omitempty"`

	// headers are response headers; each value is a template.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Headers map[string]string `json:"headers,omitempty"`

	// body is a CEL expression whose value is the response body.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// redirect is a template for the Location header.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Redirect string `json:"redirect,omitempty"`
}

// ValidateOperation checks a value against a JSON Schema. On failure the
// request gets 400 listing each violation, or with onError Continue the
// output is {valid, errors}.
type ValidateOperation struct {
	// schema is a JSON Schema (draft 2020-12 unless $schema says otherwise).
	// +required
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Schema apiextensionsv1.JSON `json:"schema"`

	// value is a CEL expression for the value to check; defaults to request.body.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Value string `json:"value,omitempty"`
}

// JWTAlgorithm is a JSON Web Signature algorithm.
// +kubebuilder:validation:Enum=HS256;RS256;ES256;EdDSA
type JWTAlgorithm string

// JWTOperation signs a JSON Web Token. Its output is {token}.
type JWTOperation struct {
	// algorithm signs the token: HS256 with a shared secret, RS256, ES256 or
	// EdDSA with a PEM private key.
	// +required
	Algorithm JWTAlgorithm `json:"algorithm"`

	// key is the name of an Environment secret (spec.secrets[].name) that holds the key.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Key string `json:"key"`

	// claims is a CEL expression that evaluates to a map of claims.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Claims string `json:"claims"`

	// expiresIn sets the exp claim this long after now; unset means no exp claim
	// unless claims sets one.
	// +optional
	ExpiresIn Duration `json:"expiresIn,omitempty"`
}

// CallOperation runs another AppAPI's pipeline. Its output is that pipeline's response body.
type CallOperation struct {
	// appAPI is the name of an AppAPI of the same Environment.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	AppAPI string `json:"appAPI"`

	// input is a CEL expression whose value the called pipeline sees as request.body.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Input string `json:"input,omitempty"`
}

// WaitOperation pauses the pipeline, never past the request's deadline.
type WaitOperation struct {
	// duration of the pause.
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('1h')",message="must be at most 1h"
	Duration Duration `json:"duration"`
}

// XMLToJSONOperation converts an XML document to its JSON form.
type XMLToJSONOperation struct {
	// value is a CEL expression that evaluates to the XML text.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Value string `json:"value"`
}
