package controllers

import (
	"maps"
	"strings"

	"github.com/appapi-dev/appapi/internal/snapshot"
)

// Labels and names of the objects the controllers create. Every object
// carries LabelManagedBy, which is also how the manager restricts its Secret
// and ConfigMap caches to its own objects.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedByValue   = "appapi"
	LabelName        = "app.kubernetes.io/name"
	LabelComponent   = "appapi.dev/component"
	LabelEnvironment = snapshot.LabelEnvironment
	LabelToken       = "appapi.dev/token"

	GatewayAppName = "appapi-gateway"

	ComponentGateway     = "gateway"
	ComponentSigningKey  = "signing-key"
	ComponentSnapshot    = "snapshot"
	ComponentCredentials = "credentials"
	ComponentTokenRecord = "token-record"
	ComponentToken       = "token"
	ComponentData        = "data"

	// Finalizer lets the controllers clean up before an Environment or
	// ApiToken goes: revoke a token, delete a gateway.
	Finalizer = "appapi.dev/finalizer"

	// FieldOwner is the server-side apply field manager of the controllers.
	FieldOwner = "appapi-controller"
)

// gatewayName names an Environment's Deployment, Service, ServiceAccount,
// Role and RoleBinding. The API server keeps Environment names to 56
// characters so that it fits a Service name.
func gatewayName(environment string) string { return "appapi-" + environment }

func signingKeyName(environment string) string { return "appapi-" + environment + "-signing-key" }

// dataClaimName names the PersistentVolumeClaim of an Environment's SQLite
// datastore.
func dataClaimName(environment string) string { return "appapi-" + environment + "-data" }

// tokenRecordName has a dot, which no Environment name has, so that no
// ApiToken's record can take the name of an Environment's object
// (ApiToken "shop-credentials" and Environment "token-shop" would
// otherwise both want appapi-token-shop-credentials).
func tokenRecordName(token string) string { return "appapi-token." + token }

// reservedSecretName says whether name is, or could become, the name of a
// Secret the controllers keep: a token record or an Environment's signing
// key or credentials. A token's Secret under such a name would let an
// ApiToken editor take over (or be mistaken for) those Secrets. The
// patterns cover Environments that do not exist yet, and match the CEL rule
// on spec.secretName, which objects stored before it do not pass.
func reservedSecretName(name string) bool {
	if strings.HasPrefix(name, tokenRecordName("")) {
		return true
	}
	inner, ok := strings.CutPrefix(name, "appapi-")
	return ok && (strings.HasSuffix(inner, "-signing-key") && len(inner) > len("-signing-key") ||
		strings.HasSuffix(inner, "-credentials") && len(inner) > len("-credentials"))
}

// gatewaySelector selects an Environment's gateway Pods. It avoids
// app.kubernetes.io/instance, which Argo CD uses to track the objects it
// applied: objects the controller makes must not look like Argo CD's.
func gatewaySelector(environment string) map[string]string {
	return map[string]string{LabelName: GatewayAppName, LabelEnvironment: environment}
}

// environmentLabels are the labels of an object that belongs to an Environment.
func environmentLabels(environment, component string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelEnvironment: environment, LabelComponent: component}
}

func gatewayLabels(environment string) map[string]string {
	l := environmentLabels(environment, ComponentGateway)
	maps.Copy(l, gatewaySelector(environment))
	return l
}
