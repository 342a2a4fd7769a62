package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultMaxRequestBytes is the largest request body a gateway reads unless
// the Environment says otherwise: the product's 5 MB payload limit.
const DefaultMaxRequestBytes = 5242880

// EnvironmentSecretLabel must be "true" on a Secret before an Environment
// may read it: the Secret's owner consents, so that editing an Environment
// does not give access to every Secret of the namespace.
const EnvironmentSecretLabel = "appapi.dev/environment-secret"

// DefaultRequestTimeout bounds a request's pipeline unless the Environment says otherwise.
const DefaultRequestTimeout = 30 * time.Second

// EnvironmentSpec defines one isolated set of App APIs and tokens, served by
// its own gateway Deployment.
// +kubebuilder:validation:XValidation:rule="!has(self.secrets) || self.secrets.all(s, self.secrets.exists_one(t, t.name == s.name))",message="secrets: names must be unique"
type EnvironmentSpec struct {
	// gateway configures the Deployment that serves this Environment's App APIs.
	// +optional
	// +kubebuilder:default={}
	Gateway GatewaySpec `json:"gateway,omitempty"`

	// maxRequestBytes is the largest request body the gateway accepts; larger
	// requests get 413 without the gateway reading more than this plus one byte.
	// +optional
	// +kubebuilder:default=5242880
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1073741824
	MaxRequestBytes *int64 `json:"maxRequestBytes,omitempty"`

	// requestTimeout bounds the whole pipeline of one request, as a Go duration
	// such as "30s" or "1m30s"; the gateway answers 504 when it is exceeded.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) > duration('0s') && duration(self) <= duration('1h'))",message="must be more than 0s and at most 1h"
	RequestTimeout Duration `json:"requestTimeout,omitempty"`

	// variables are plain configuration values that expressions read as vars.<name>.
	// They are published in a ConfigMap: put credentials in secrets instead.
	// +optional
	// +kubebuilder:validation:MaxProperties=256
	Variables map[string]string `json:"variables,omitempty"`

	// secrets are values read from Secrets in this namespace, which expressions
	// read as secrets.<name> and jwt steps use as keys. Their values never
	// appear in a status, event, log line or ConfigMap. A Secret must carry
	// the label appapi.dev/environment-secret=true to be read.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Secrets []EnvironmentSecret `json:"secrets,omitempty"`

	// datastore keeps the records that store steps read and write. Without
	// one, an AppAPI with a store step is refused (reason NoDatastore).
	// +optional
	Datastore *DatastoreSpec `json:"datastore,omitempty"`
}

// DatastoreSpec chooses where an Environment keeps its records: exactly one
// of sqlite and postgres.
// +kubebuilder:validation:XValidation:rule="[has(self.sqlite), has(self.postgres)].filter(x, x).size() == 1",message="datastore: set exactly one of sqlite or postgres"
type DatastoreSpec struct {
	// sqlite keeps the records in a file on a PersistentVolumeClaim that the
	// controller creates; one gateway replica serves the Environment.
	// +optional
	SQLite *SQLiteDatastore `json:"sqlite,omitempty"`

	// postgres keeps the records in a PostgreSQL database that every gateway
	// replica shares.
	// +optional
	Postgres *PostgresDatastore `json:"postgres,omitempty"`
}

// SQLiteDatastore is an embedded SQLite file on a PersistentVolumeClaim owned
// by the Environment, mounted in the gateway at /var/lib/appapi.
type SQLiteDatastore struct {
	// storage is the size the claim requests. A larger value grows the
	// claim (when its storage class allows); a smaller one is reported and
	// not applied, since a claim never shrinks.
	// +optional
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="isQuantity(string(self)) && quantity(string(self)).isGreaterThan(quantity('0'))",message="storage must be a positive size such as 512Mi or 1Gi"
	Storage *resource.Quantity `json:"storage,omitempty"`

	// storageClassName is the claim's storage class; empty means the
	// cluster's default class.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// PostgresDatastore is a PostgreSQL (or PostgreSQL-compatible) database.
type PostgresDatastore struct {
	// secretKeyRef selects the key of a Secret holding the connection URL,
	// such as postgres://user:password@host:5432/db. The Secret must carry the
	// label appapi.dev/environment-secret=true.
	// +required
	SecretKeyRef SecretKeyReference `json:"secretKeyRef"`
}

// GatewaySpec configures the gateway Deployment.
type GatewaySpec struct {
	// replicas is the number of gateway Pods.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// image is the gateway container image; empty means the image the manager
	// was started with (its --gateway-image flag).
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the gateway container's compute requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// EnvironmentSecret names one value of a Secret in the Environment's namespace.
type EnvironmentSecret struct {
	// name is how expressions refer to the value: secrets.<name>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`

	// secretKeyRef selects the Secret and key that hold the value.
	// +required
	SecretKeyRef SecretKeyReference `json:"secretKeyRef"`
}

// SecretKeyReference selects one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// EnvironmentStatus is the observed state of an Environment.
type EnvironmentStatus struct {
	// observedGeneration is the generation the controller last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, and Stalled while only a person can fix what stops it.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// url is the in-cluster URL of the gateway Service.
	// +optional
	URL string `json:"url,omitempty"`

	// appAPIs is the number of AppAPIs the gateway serves.
	// +optional
	AppAPIs int32 `json:"appAPIs"`

	// tokens is the number of ApiTokens the gateway accepts.
	// +optional
	Tokens int32 `json:"tokens"`

	// snapshotGeneration counts the snapshots published for this Environment.
	// +optional
	SnapshotGeneration int64 `json:"snapshotGeneration,omitempty"`
}

// Environment is an isolated set of App APIs and tokens served by one gateway.
// Its name is a DNS-1123 label of at most 56 characters: the controller names
// the gateway Service "appapi-<name>", and a Service name is at most 63.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 56",message="metadata.name must be at most 56 characters: the gateway Service is named appapi-<name>, and a Service name is at most 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label: lowercase letters, digits and hyphens, starting and ending with a letter or digit"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=appenv;appenvs,categories=appapi-all
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="APIs",type=integer,JSONPath=`.status.appAPIs`
// +kubebuilder:printcolumn:name="Tokens",type=integer,JSONPath=`.status.tokens`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Environment struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the Environment.
	// +required
	Spec EnvironmentSpec `json:"spec"`

	// status is the observed state of the Environment.
	// +optional
	Status EnvironmentStatus `json:"status,omitzero"`
}

// EnvironmentList is a list of Environments.
// +kubebuilder:object:root=true
type EnvironmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Environment `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Environment{}, &EnvironmentList{})
}
