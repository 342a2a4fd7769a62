package v1alpha1

// Condition types. Every kind reports Ready; AppAPI also reports Accepted.
// Both have positive polarity: True is the healthy state.
const (
	// ConditionReady says the resource does what its spec asks: for an
	// Environment, its gateway is available and its snapshot published; for an
	// ApiToken, the token is minted, published and not expired; for an AppAPI,
	// the gateway serves its current generation.
	ConditionReady = "Ready"

	// ConditionAccepted says whether the AppAPI's current generation passed
	// validation. When it is False the gateway keeps serving the last accepted
	// generation, named by status.servedGeneration.
	ConditionAccepted = "Accepted"

	// ConditionStalled, present and True only when that is so, says the
	// resource cannot become Ready until someone changes it (a refused
	// expression, an expired token): waiting will not help. It has negative
	// polarity, as in kstatus, which reports such a resource as Failed at once
	// rather than InProgress until a timeout.
	ConditionStalled = "Stalled"
)

// Reason is the machine-readable cause of a condition. Every value is
// documented in docs/troubleshooting.md under its own name.
type Reason = string

// Reasons shared by several kinds.
const (
	// ReasonEnvironmentNotFound: spec.environment names no Environment in the namespace.
	ReasonEnvironmentNotFound Reason = "EnvironmentNotFound"
	// ReasonReconcileFailed: a request to the API server failed; the controller retries with backoff.
	ReasonReconcileFailed Reason = "ReconcileFailed"
	// ReasonProgressing: the controller is working towards the desired state.
	ReasonProgressing Reason = "Progressing"
)

// Environment reasons.
const (
	// ReasonGatewayAvailable: the gateway Deployment is available and the snapshot is published.
	ReasonGatewayAvailable Reason = "GatewayAvailable"
	// ReasonGatewayUnavailable: the gateway Deployment has no available replicas yet.
	ReasonGatewayUnavailable Reason = "GatewayUnavailable"
	// ReasonSecretNotFound: a spec.secrets entry, or
	// spec.datastore.postgres.secretKeyRef, names a Secret or key that does not exist.
	ReasonSecretNotFound Reason = "SecretNotFound"
	// ReasonSecretNotAllowed: a spec.secrets entry, or
	// spec.datastore.postgres.secretKeyRef, names a Secret without the label
	// appapi.dev/environment-secret=true.
	ReasonSecretNotAllowed Reason = "SecretNotAllowed"
	// ReasonSigningKeyInvalid: the signing key Secret exists but does not hold an Ed25519 key.
	ReasonSigningKeyInvalid Reason = "SigningKeyInvalid"
	// ReasonSnapshotInvalid: the built snapshot failed validation and was not published.
	ReasonSnapshotInvalid Reason = "SnapshotInvalid"
	// ReasonSnapshotTooLarge: the snapshot does not fit in the objects it is published in.
	ReasonSnapshotTooLarge Reason = "SnapshotTooLarge"
	// ReasonEmbeddedDatastoreSingleReplica: spec.datastore.sqlite is set and
	// spec.gateway.replicas is above 1; an SQLite file serves one process.
	ReasonEmbeddedDatastoreSingleReplica Reason = "EmbeddedDatastoreSingleReplica"
	// ReasonDatastoreURLInvalid: the key spec.datastore.postgres.secretKeyRef
	// selects does not hold a postgres:// or postgresql:// URL.
	ReasonDatastoreURLInvalid Reason = "DatastoreURLInvalid"
)

// EnvironmentStalledReasons are the Environment Ready reasons that wait for
// a person (a new signing key, fewer or smaller AppAPIs, a Secret's
// consent or value, fewer replicas): an Environment not Ready for one of
// them is also Stalled.
var EnvironmentStalledReasons = []Reason{ReasonSigningKeyInvalid, ReasonSnapshotTooLarge, ReasonSecretNotAllowed,
	ReasonEmbeddedDatastoreSingleReplica, ReasonDatastoreURLInvalid}

// ApiToken reasons.
const (
	// ReasonTokenActive: the token is minted and its hash is published.
	ReasonTokenActive Reason = "TokenActive"
	// ReasonExpired: spec.expiresAt has passed; the gateway refuses the token.
	ReasonExpired Reason = "Expired"
	// ReasonSigningKeyPending: the Environment has not created its signing key yet.
	ReasonSigningKeyPending Reason = "SigningKeyPending"
	// ReasonSecretConflict: spec.secretName names a Secret that this ApiToken does not own.
	ReasonSecretConflict Reason = "SecretConflict"
	// ReasonSecretNameReserved: spec.secretName is the name of a Secret the
	// controllers keep for an Environment (signing key, credentials) or a
	// token record.
	ReasonSecretNameReserved Reason = "SecretNameReserved"
	// ReasonPublishing: the token is minted and waits for its Environment to publish it.
	ReasonPublishing Reason = "Publishing"
)

// ApiTokenStalledReasons are the ApiToken Ready reasons that wait for an
// edit of the ApiToken: an ApiToken not Ready for one of them is also Stalled.
var ApiTokenStalledReasons = []Reason{ReasonExpired, ReasonSecretConflict, ReasonSecretNameReserved}

// AppAPI reasons.
const (
	// ReasonAccepted: the current generation is valid.
	ReasonAccepted Reason = "Accepted"
	// ReasonInvalidExpression: a CEL expression or template does not compile.
	ReasonInvalidExpression Reason = "InvalidExpression"
	// ReasonInvalidStepReference: an expression reads a step that does not run earlier.
	ReasonInvalidStepReference Reason = "InvalidStepReference"
	// ReasonInvalidSchema: requestSchema or a validate step's schema is not a valid JSON Schema.
	ReasonInvalidSchema Reason = "InvalidSchema"
	// ReasonInvalidSpec: a field is invalid in a way the API server cannot check.
	ReasonInvalidSpec Reason = "InvalidSpec"
	// ReasonTokenNotFound: authentication.allowedTokens names an ApiToken that does not exist.
	ReasonTokenNotFound Reason = "TokenNotFound"
	// ReasonSecretRefNotFound: a jwt step's key names no secret of the Environment.
	ReasonSecretRefNotFound Reason = "SecretRefNotFound"
	// ReasonCallNotFound: a call step names an AppAPI that is not served in the Environment.
	ReasonCallNotFound Reason = "CallNotFound"
	// ReasonCallNotAllowed: a call step runs an AppAPI whose authentication
	// is stricter than the caller's, which would let more callers in.
	ReasonCallNotAllowed Reason = "CallNotAllowed"
	// ReasonCallCycle: call steps form a cycle.
	ReasonCallCycle Reason = "CallCycle"
	// ReasonNoDatastore: a store step runs in an Environment without spec.datastore.
	ReasonNoDatastore Reason = "NoDatastore"
	// ReasonPathConflict: an older AppAPI in the Environment already serves this method and path.
	ReasonPathConflict Reason = "PathConflict"
	// ReasonServed: the gateway's snapshot holds the current generation.
	ReasonServed Reason = "Served"
	// ReasonServingPreviousGeneration: the current generation was refused; an older accepted one is served.
	ReasonServingPreviousGeneration Reason = "ServingPreviousGeneration"
	// ReasonNotServed: no generation of this AppAPI is served.
	ReasonNotServed Reason = "NotServed"
)

// AppAPIStalledReasons are the refusals (Accepted reasons) that only an edit
// of the AppAPI, or of the AppAPI holding its path, resolves: an AppAPI
// refused for one of them is also Stalled. The other refusals resolve when
// what the AppAPI names appears, which GitOps tools may apply in the same
// sync.
var AppAPIStalledReasons = []Reason{
	ReasonInvalidExpression, ReasonInvalidStepReference, ReasonInvalidSchema, ReasonInvalidSpec,
	ReasonCallCycle, ReasonCallNotAllowed, ReasonPathConflict,
}
