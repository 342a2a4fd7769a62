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
// +kubebuilder:validation:XValidation:rule="[has(self.http), has(self.transform), has(self.respond), has(self.validate), has(self.jwt), has(self.call), has(self.wait), has(self.xmlToJson), has(self.store)].filter(x, x).size() == 1",message="each step must set exactly one operation: http, transform, respond, validate, jwt, call, wait, xmlToJson or store"
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

	// store reads or writes records of the Environment's datastore ("AirData Request").
	// +optional
	Store *StoreOperation `json:"store,omitempty"`
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

// StoreVerb is what a store step does to a collection.
// +kubebuilder:validation:Enum=insert;get;query;put;patch;delete
type StoreVerb string

const (
	// StoreInsert adds a record; a duplicate id fails with 409.
	StoreInsert StoreVerb = "insert"
	// StoreGet reads one record by id; a missing one fails with 404.
	StoreGet StoreVerb = "get"
	// StoreQuery reads a page of records that match a filter.
	StoreQuery StoreVerb = "query"
	// StorePut replaces a record's fields.
	StorePut StoreVerb = "put"
	// StorePatch applies a JSON merge patch (RFC 7386) to a record.
	StorePatch StoreVerb = "patch"
	// StoreDelete removes a record.
	StoreDelete StoreVerb = "delete"
)

// StoreOperation reads or writes records ("App Objects") of one collection of
// the Environment's datastore. A record is a JSON object; the store sets its
// id, version, createdAt and updatedAt. The fields other than collection,
// operation, filter[].field and orderBy are CEL expressions.
// +kubebuilder:validation:XValidation:rule="(self.operation in ['insert', 'put', 'patch']) == has(self.value)",message="store: value is required by insert, put and patch, and allowed only there"
// +kubebuilder:validation:XValidation:rule="(self.operation in ['get', 'put', 'patch', 'delete']) == has(self.id)",message="store: id is required by get, put, patch and delete, and allowed only there"
// +kubebuilder:validation:XValidation:rule="!has(self.ifMatch) || self.operation in ['put', 'patch', 'delete']",message="store: ifMatch is allowed only with put, patch and delete"
// +kubebuilder:validation:XValidation:rule="self.operation == 'query' || !(has(self.filter) || has(self.orderBy) || has(self.limit) || has(self.cursor))",message="store: filter, orderBy, limit and cursor are allowed only with query"
type StoreOperation struct {
	// collection names the set of records: letters, digits, _ and -.
	// Collections belong to the Environment; two Environments never see each
	// other's records, even when they share a PostgreSQL database.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]*$')",message="collection may hold only letters, digits, _ and -"
	Collection string `json:"collection"`

	// operation is insert, get, query, put, patch or delete.
	// +required
	Operation StoreVerb `json:"operation"`

	// id is a CEL expression for the record's id (get, put, patch, delete).
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	ID string `json:"id,omitempty"`

	// value is a CEL expression for a map: the new record (insert, put) or a
	// JSON merge patch (patch). An insert keeps the value's string id if it
	// has one, else the store generates a UUIDv7.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Value string `json:"value,omitempty"`

	// ifMatch is a CEL expression for the version the caller last read (put,
	// patch, delete); a different stored version fails the step with 412.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	IfMatch string `json:"ifMatch,omitempty"`

	// filter lists conditions a queried record must all meet.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Filter []StoreFilter `json:"filter,omitempty"`

	// orderBy sorts a query's records; the default is createdAt ascending,
	// and id always breaks ties.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4
	OrderBy []StoreOrder `json:"orderBy,omitempty"`

	// limit is a CEL expression for the most records a query returns: 50 by
	// default, at most 1000.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Limit string `json:"limit,omitempty"`

	// cursor is a CEL expression for the nextCursor of the previous page, or
	// null or "" for the first page.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Cursor string `json:"cursor,omitempty"`
}

// StoreFilterOp compares a record's field with a value.
// +kubebuilder:validation:Enum=eq;ne;lt;lte;gt;gte;in;prefix
type StoreFilterOp string

// StoreFilter is one condition of a query.
type StoreFilter struct {
	// field is a dotted path into the record, such as status or address.city.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[^.]+([.][^.]+)*$')",message="field must be a dotted path such as status or address.city: no empty name before, between or after the dots"
	Field string `json:"field"`

	// op is eq, ne, lt, lte, gt, gte, in (value is a list) or prefix (value
	// is a string the field starts with).
	// +required
	Op StoreFilterOp `json:"op"`

	// value is a CEL expression for the value the field is compared with.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}

// StoreDirection orders query results.
// +kubebuilder:validation:Enum=asc;desc
type StoreDirection string

// StoreOrder is one sort key of a query.
type StoreOrder struct {
	// field is a dotted path into the record.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[^.]+([.][^.]+)*$')",message="field must be a dotted path such as status or address.city: no empty name before, between or after the dots"
	Field string `json:"field"`

	// direction is asc or desc.
	// +optional
	// +kubebuilder:default=asc
	Direction StoreDirection `json:"direction,omitempty"`
}
