package v1alpha1

import (
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthenticationMode says whether callers must present an ApiToken.
// +kubebuilder:validation:Enum=Token;None
type AuthenticationMode string

const (
	// AuthenticationToken requires "Authorization: Bearer <token>" with a token of the Environment.
	AuthenticationToken AuthenticationMode = "Token"
	// AuthenticationNone lets anyone call the endpoint.
	AuthenticationNone AuthenticationMode = "None"
)

// Methods are the HTTP methods an AppAPI answers, as the enum marker of
// AppAPISpec.Method lists them; code that checks a method without the API
// server (local mode, the snapshot's Validate) uses this list.
var Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// IsMethod says whether an AppAPI may answer method.
func IsMethod(method string) bool { return slices.Contains(Methods, method) }

// QueryParameterType is the type a query parameter's value is parsed to.
// +kubebuilder:validation:Enum=string;integer;number;boolean
type QueryParameterType string

// Query parameter types.
const (
	QueryString  QueryParameterType = "string"
	QueryInteger QueryParameterType = "integer"
	QueryNumber  QueryParameterType = "number"
	QueryBoolean QueryParameterType = "boolean"
)

// AppAPISpec defines one endpoint: a method and path, and the pipeline of data
// operations that builds its response.
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.all(s, self.steps.exists_one(t, t.name == s.name))",message="steps: each step name must be unique"
// +kubebuilder:validation:XValidation:rule="!has(self.query) || self.query.all(q, self.query.exists_one(r, r.name == q.name))",message="query: each parameter name must be unique"
type AppAPISpec struct {
	// environment is the name of the Environment, in the same namespace, that serves this endpoint.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Environment string `json:"environment"`

	// method is the HTTP method the endpoint answers.
	// +required
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
	Method string `json:"method"`

	// path is the absolute request path. Segments written {name} are path
	// parameters, read as request.params.name; a literal segment wins over a
	// parameter at the same position. Example: /orders/{orderId}/items
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^(/([A-Za-z0-9._~!$&()*+,;=:@-]+|[{][A-Za-z_][A-Za-z0-9_]*[}]))+/?$') || self == '/'",message="path must be absolute, e.g. /orders/{orderId}: segments are literal text or {name} with name a letter or underscore followed by letters, digits or underscores"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="path segments cannot be . or .."
	Path string `json:"path"`

	// query declares query parameters; each is parsed to its type and put in
	// request.query. Undeclared parameters are still available as strings.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Query []QueryParameter `json:"query,omitempty"`

	// authentication says who may call the endpoint.
	// +optional
	// +kubebuilder:default={}
	Authentication Authentication `json:"authentication,omitempty"`

	// requestSchema is a JSON Schema (draft 2020-12 unless $schema says
	// otherwise) that a JSON request body must match; a mismatch gets 400 with
	// each violation and its JSON pointer.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	RequestSchema *apiextensionsv1.JSON `json:"requestSchema,omitempty"`

	// steps is the pipeline of data operations, run in order. Each step's
	// output is available to later steps as steps.<name>.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Steps []Step `json:"steps,omitempty"`

	// response builds the answer once every step has run.
	// +optional
	Response Response `json:"response,omitempty"`
}

// QueryParameter declares one query parameter.
// +kubebuilder:validation:XValidation:rule="!(has(self.required) && self.required && has(self.default))",message="a required parameter cannot have a default"
type QueryParameter struct {
	// name of the parameter, as it appears in the URL.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`

	// type the value is parsed to; a value that does not parse gets 400.
	// +optional
	// +kubebuilder:default=string
	Type QueryParameterType `json:"type,omitempty"`

	// required parameters must be present, or the request gets 400.
	// +optional
	Required bool `json:"required,omitempty"`

	// default is the value used when the parameter is absent, written as it would be in a URL.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Default *string `json:"default,omitempty"`
}

// Authentication says who may call an endpoint.
type Authentication struct {
	// mode is Token (callers present a bearer ApiToken of the Environment) or None.
	// +optional
	// +kubebuilder:default=Token
	Mode AuthenticationMode `json:"mode,omitempty"`

	// allowedTokens lists the ApiTokens, by name, that may call the endpoint
	// ("API key filtering"). Empty means every token of the Environment.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	AllowedTokens []string `json:"allowedTokens,omitempty"`
}

// Response builds the endpoint's answer after the last step.
// +kubebuilder:validation:XValidation:rule="!(has(self.redirect) && has(self.body))",message="response: set body or redirect, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.redirect) || !has(self.status) || self.status in [301, 302, 303, 307, 308]",message="response: a redirect status must be 301, 302, 303, 307 or 308"
type Response struct {
	// status is the HTTP status code: 200 by default, 302 for a redirect.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=599
	Status *int32 `json:"status,omitempty"`

	// headers are response headers; each value is a template ("text {{ expression }}").
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Headers map[string]string `json:"headers,omitempty"`

	// body is a CEL expression whose value is the response body, sent as JSON
	// unless it is a string and headers set a non-JSON Content-Type. Defaults
	// to the last step's output.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// redirect is a template for the Location of a redirect. Status defaults
	// to 302, which browsers do not cache, unlike 301.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Redirect string `json:"redirect,omitempty"`
}

// AppAPIStatus is the observed state of an AppAPI.
type AppAPIStatus struct {
	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Accepted (the current generation is valid), Ready (the
	// gateway serves the current generation), and Stalled while only an edit
	// can get the current generation accepted.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// url is the in-cluster URL of the endpoint, with path parameters left as {name}.
	// +optional
	URL string `json:"url,omitempty"`

	// servedGeneration is the generation the gateway serves: the newest
	// accepted one. It lags metadata.generation while a newer generation is refused.
	// +optional
	ServedGeneration int64 `json:"servedGeneration,omitempty"`
}

// AppAPI is one custom REST endpoint whose behaviour is a pipeline of data operations.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=appapi-all
// +kubebuilder:printcolumn:name="Environment",type=string,JSONPath=`.spec.environment`
// +kubebuilder:printcolumn:name="Method",type=string,JSONPath=`.spec.method`
// +kubebuilder:printcolumn:name="Path",type=string,JSONPath=`.spec.path`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].reason`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AppAPI struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the AppAPI.
	// +required
	Spec AppAPISpec `json:"spec"`

	// status is the observed state of the AppAPI.
	// +optional
	Status AppAPIStatus `json:"status,omitzero"`
}

// AppAPIList is a list of AppAPIs.
// +kubebuilder:object:root=true
type AppAPIList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []AppAPI `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AppAPI{}, &AppAPIList{})
}
