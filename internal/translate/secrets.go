package translate

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
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

// Secrets is what became of an Environment's spec.secrets.
type Secrets struct {
	// Values are by spec.secrets name, for Input.SecretValues.
	Values map[string]string
	// Missing are the entries whose Secret or key does not exist, and
	// Refused those whose Secret does not consent, each as
	// `name (key "k" of Secret "s")` or `name (Secret "s")`: for a status
	// or a warning, never with a value.
	Missing, Refused []string
}

// ResolveSecrets reads the values of env's spec.secrets. The controller
// gets the Secrets from the API server, the gateway's local mode from its
// directory; both apply this one rule. A Secret gives values only with the
// label appapi.dev/environment-secret=true, its owner's consent: whoever
// edits an Environment must not thereby read every Secret of the namespace
// (database passwords, other ApiTokens' text), and the manager's own
// Secrets never give any.
func ResolveSecrets(env *v1alpha1.Environment, get SecretGetter) (Secrets, error) {
	out := Secrets{Values: map[string]string{}}
	for _, ref := range env.Spec.Secrets {
		secret, err := get(ref.SecretKeyRef.Name)
		if err != nil {
			return Secrets{}, err
		}
		var value []byte
		var ok bool
		if secret != nil {
			value, ok = secret.Data[ref.SecretKeyRef.Key]
		}
		switch {
		case !ok:
			out.Missing = append(out.Missing, fmt.Sprintf("%s (key %q of Secret %q)", ref.Name, ref.SecretKeyRef.Key, ref.SecretKeyRef.Name))
		case !mayExpose(secret):
			out.Refused = append(out.Refused, fmt.Sprintf("%s (Secret %q)", ref.Name, ref.SecretKeyRef.Name))
		default:
			out.Values[ref.Name] = string(value)
		}
	}
	return out, nil
}

func mayExpose(secret *corev1.Secret) bool {
	return secret.Labels[v1alpha1.EnvironmentSecretLabel] == "true" && secret.Labels[managedByLabel] != managedByValue
}
