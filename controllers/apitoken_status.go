package controllers

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/token"
)

// tokenObservation is what a reconcile found, the input of apiTokenStatus.
type tokenObservation struct {
	Now                time.Time
	EnvironmentMissing bool
	SigningKeyPending  bool
	SecretConflict     string
	// SecretNameReserved says spec.secretName is a name the controllers keep.
	SecretNameReserved bool
	// Record is the token record, when there is one.
	Record *token.Record
	// Published says the Environment's credentials hold the current token.
	Published bool
	// NextGraceEnd is when the next rotated token stops working.
	NextGraceEnd time.Time
	ReconcileErr error
}

// apiTokenStatus computes an ApiToken's status. It never holds the token or its hash.
func apiTokenStatus(old v1alpha1.ApiTokenStatus, tok *v1alpha1.ApiToken, o tokenObservation) v1alpha1.ApiTokenStatus {
	st := *old.DeepCopy()
	gen := tok.Generation
	st.SecretName = tok.TokenSecretName()
	st.ExpiresAt = tok.Spec.ExpiresAt
	if o.Record != nil {
		st.TokenID = o.Record.Current.ID
		issued := metav1.NewTime(o.Record.Current.IssuedAt)
		st.IssuedAt = &issued
	}
	ready, reason, message := apiTokenReadiness(tok, o)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, ready, reason, message)
	setStalled(&st.Conditions, gen, v1alpha1.ApiTokenStalledReasons, reason, message)
	if o.ReconcileErr == nil {
		st.ObservedGeneration = gen
	}
	return st
}

func apiTokenReadiness(tok *v1alpha1.ApiToken, o tokenObservation) (bool, v1alpha1.Reason, string) {
	env := tok.Spec.Environment
	switch {
	case o.ReconcileErr != nil:
		return false, v1alpha1.ReasonReconcileFailed, "reconcile failed, retrying: " + o.ReconcileErr.Error()
	case o.EnvironmentMissing:
		return false, v1alpha1.ReasonEnvironmentNotFound,
			fmt.Sprintf("no Environment %q in namespace %q: create it or fix spec.environment; no token was minted", env, tok.Namespace)
	case o.SigningKeyPending:
		return false, v1alpha1.ReasonSigningKeyPending, fmt.Sprintf("waiting for Environment %q to create its signing key", env)
	case o.SecretNameReserved:
		return false, v1alpha1.ReasonSecretNameReserved,
			fmt.Sprintf("spec.secretName %q is reserved for the controllers' own Secrets (appapi-token.*, appapi-*-signing-key, appapi-*-credentials); recreate the ApiToken with another secretName; no token was minted", tok.TokenSecretName())
	case o.SecretConflict != "":
		return false, v1alpha1.ReasonSecretConflict, o.SecretConflict
	case tok.Spec.ExpiresAt != nil && !o.Now.Before(tok.Spec.ExpiresAt.Time):
		return false, v1alpha1.ReasonExpired,
			fmt.Sprintf("expired at %s; the gateway refuses it. Set a later spec.expiresAt and rotate, or create a new ApiToken",
				tok.Spec.ExpiresAt.UTC().Format(time.RFC3339))
	case o.Record == nil:
		return false, v1alpha1.ReasonProgressing, "minting the token"
	case !o.Published:
		return false, v1alpha1.ReasonPublishing, fmt.Sprintf("token %s is minted; waiting for Environment %q to publish it", o.Record.Current.ID, env)
	}
	return true, v1alpha1.ReasonTokenActive,
		fmt.Sprintf("token %s is accepted by Environment %q; its text is in Secret %q under key %q",
			o.Record.Current.ID, env, tok.TokenSecretName(), v1alpha1.TokenSecretKey)
}
