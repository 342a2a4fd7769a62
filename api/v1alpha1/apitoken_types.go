package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RotateAnnotation mints a new token for an ApiToken whenever its value
// changes; the previous token stays valid for spec.rotationGracePeriod.
// Any value works; a timestamp records when the rotation was asked for.
const RotateAnnotation = "appapi.dev/rotate"

// TokenSecretKey is the key of the token's Secret that holds the plaintext token.
const TokenSecretKey = "token"

// The secretName rule below compares presence instead of defaulting to an
// empty string literal: gofmt rewrites two adjacent single quotes in a doc
// comment into a typographic quote, which is not valid CEL.

// ApiTokenSpec defines a bearer token that callers of one Environment's App APIs present.
// +kubebuilder:validation:XValidation:rule="has(self.secretName) == has(oldSelf.secretName) && (!has(self.secretName) || self.secretName == oldSelf.secretName)",message="secretName is immutable: the plaintext token was written once to the original Secret"
type ApiTokenSpec struct {
	// environment is the name of the Environment, in the same namespace, whose
	// App APIs accept this token. A token never works in another Environment.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="environment is immutable: create a new ApiToken for another environment"
	Environment string `json:"environment"`

	// description says who the token is for; it is shown in kubectl get.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`

	// expiresAt is the RFC 3339 time after which the gateway refuses the token.
	// Unset means the token does not expire.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// secretName is the Secret, created by the controller and owned by this
	// ApiToken, that receives the plaintext token once under the key "token".
	// Defaults to "<name>-token". Names the controllers keep for their own
	// Secrets are refused: "appapi-token.*", "appapi-*-signing-key" and
	// "appapi-*-credentials".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('appapi-token.') && !self.matches('^appapi-.+-(signing-key|credentials)$')",message="secretName is reserved: appapi-token.*, appapi-*-signing-key and appapi-*-credentials are the controllers' own Secrets"
	SecretName string `json:"secretName,omitempty"`

	// rotationGracePeriod is how long the previous token stays valid after a
	// rotation (see the appapi.dev/rotate annotation). Defaults to 0: the
	// previous token stops working as soon as the new one is published.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) <= duration('8760h')",message="must be at most 8760h (one year)"
	RotationGracePeriod Duration `json:"rotationGracePeriod,omitempty"`
}

// ApiTokenStatus is the observed state of an ApiToken. It never holds the
// token or its hash.
type ApiTokenStatus struct {
	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, and Stalled while only an edit can make it Ready (expired, Secret conflict).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// tokenID is the jti claim of the current token: safe to log and to show,
	// and the way to tell which token a caller holds.
	// +optional
	TokenID string `json:"tokenID,omitempty"`

	// issuedAt is when the current token was minted.
	// +optional
	IssuedAt *metav1.Time `json:"issuedAt,omitempty"`

	// expiresAt is when the current token expires, if it does.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// secretName is the Secret that received the plaintext token.
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// ApiToken is a bearer token (a JWT) for the App APIs of one Environment. The
// plaintext is written once to a Secret; the gateway keeps only its SHA-256 hash.
// Its name is a DNS-1123 label of at most 63 characters, so that it can be
// used as a label value on the objects the controller creates for it.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label: lowercase letters, digits and hyphens, starting and ending with a letter or digit"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=apitok,categories=appapi-all
// +kubebuilder:printcolumn:name="Environment",type=string,JSONPath=`.spec.environment`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=10
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApiToken struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the ApiToken.
	// +required
	Spec ApiTokenSpec `json:"spec"`

	// status is the observed state of the ApiToken.
	// +optional
	Status ApiTokenStatus `json:"status,omitzero"`
}

// TokenSecretName is the name of the Secret that receives the plaintext token.
func (t *ApiToken) TokenSecretName() string {
	if t.Spec.SecretName != "" {
		return t.Spec.SecretName
	}
	return t.Name + "-token"
}

// Expiry is spec.expiresAt in UTC, or nil when the token does not expire.
func (t *ApiToken) Expiry() *time.Time {
	if t.Spec.ExpiresAt == nil {
		return nil
	}
	e := t.Spec.ExpiresAt.Time.UTC()
	return &e
}

// RotationRequested says whether the rotate annotation asks for a token
// other than the one minted for handled, the annotation value handled last.
func (t *ApiToken) RotationRequested(handled string) bool {
	v := t.Annotations[RotateAnnotation]
	return v != "" && v != handled
}

// ApiTokenList is a list of ApiTokens.
// +kubebuilder:object:root=true
type ApiTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ApiToken `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ApiToken{}, &ApiTokenList{})
}
