package translate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/snapshot"
)

// The label of the objects the manager creates (controllers.LabelManagedBy
// and ManagedByValue; a test keeps them equal). Their Secrets hold tokens
// and signing keys, and never give values to an Environment.
const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "appapi"
)

// SecretGetter returns the Secret of the Environment's namespace with this
// name, or nil when there is none. An error stops the resolution.
type SecretGetter func(name string) (*corev1.Secret, error)

// Secrets is what became of an Environment's spec.secrets and of the
// Secret its PostgreSQL datastore names.
type Secrets struct {
	// Values are by spec.secrets name, for Input.SecretValues.
	Values map[string]string
	// Missing are the entries whose Secret or key does not exist, and
	// Refused those whose Secret does not consent, each as
	// `name (key "k" of Secret "s")` or `name (Secret "s")`: for a status
	// or a warning, never with a value.
	Missing, Refused []string
	// DatastoreURL is the URL spec.datastore.postgres.secretKeyRef selects,
	// for Input.DatastoreURL; "" when the Environment names no PostgreSQL
	// datastore, or when DatastoreProblem says why the URL cannot be used.
	DatastoreURL string
	// DatastoreProblem is why the datastore's URL cannot be used: the
	// Environment's Ready reason and message, never with the value.
	DatastoreProblem *Problem
}

// Problem is a reason and message for an Environment's Ready condition.
type Problem struct {
	Reason  v1alpha1.Reason
	Message string
}

// datastoreURLField is where an Environment names its PostgreSQL URL.
const datastoreURLField = "spec.datastore.postgres.secretKeyRef"

// ResolveSecrets reads the values of env's spec.secrets and the URL of its
// PostgreSQL datastore. The controller gets the Secrets from the API
// server, the gateway's local mode from its directory; both apply this one
// rule. A Secret gives values only with the label
// appapi.dev/environment-secret=true, its owner's consent: whoever edits an
// Environment must not thereby read every Secret of the namespace (database
// passwords, other ApiTokens' text), and the manager's own Secrets never
// give any.
func ResolveSecrets(env *v1alpha1.Environment, get SecretGetter) (Secrets, error) {
	out := Secrets{Values: map[string]string{}}
	for _, ref := range env.Spec.Secrets {
		value, found, allowed, err := read(ref.SecretKeyRef, get)
		if err != nil {
			return Secrets{}, err
		}
		switch {
		case !found:
			out.Missing = append(out.Missing, fmt.Sprintf("%s (key %q of Secret %q)", ref.Name, ref.SecretKeyRef.Key, ref.SecretKeyRef.Name))
		case !allowed:
			out.Refused = append(out.Refused, fmt.Sprintf("%s (Secret %q)", ref.Name, ref.SecretKeyRef.Name))
		default:
			out.Values[ref.Name] = value
		}
	}
	if ds := env.Spec.Datastore; ds != nil && ds.Postgres != nil {
		ref := ds.Postgres.SecretKeyRef
		value, found, allowed, err := read(ref, get)
		if err != nil {
			return Secrets{}, err
		}
		switch {
		case !found:
			out.DatastoreProblem = &Problem{Reason: v1alpha1.ReasonSecretNotFound, Message: fmt.Sprintf(
				"%s: key %q of Secret %q does not exist; store steps are refused (NoDatastore) until it does", datastoreURLField, ref.Key, ref.Name)}
		case !allowed:
			out.DatastoreProblem = &Problem{Reason: v1alpha1.ReasonSecretNotAllowed, Message: fmt.Sprintf(
				"%s: Secret %q lacks the label %s=true, by which a Secret's owner lets Environments read it; store steps are refused (NoDatastore) until it has it",
				datastoreURLField, ref.Name, v1alpha1.EnvironmentSecretLabel)}
		default:
			if err := snapshot.CheckDatastoreURL(value); err != nil {
				out.DatastoreProblem = &Problem{Reason: v1alpha1.ReasonDatastoreURLInvalid, Message: fmt.Sprintf(
					"%s: key %q of Secret %q %v; store steps are refused (NoDatastore) until it is one", datastoreURLField, ref.Key, ref.Name, err)}
			} else {
				out.DatastoreURL = value
			}
		}
	}
	return out, nil
}

// read returns the value ref selects, whether it exists, and whether its
// Secret consents to being read; the value only when both hold.
func read(ref v1alpha1.SecretKeyReference, get SecretGetter) (value string, found, allowed bool, err error) {
	secret, err := get(ref.Name)
	if err != nil || secret == nil {
		return "", false, false, err
	}
	data, found := secret.Data[ref.Key]
	if !found || !mayExpose(secret) {
		return "", found, false, nil
	}
	return string(data), true, true, nil
}

func mayExpose(secret *corev1.Secret) bool {
	return secret.Labels[v1alpha1.EnvironmentSecretLabel] == "true" && secret.Labels[managedByLabel] != managedByValue
}
