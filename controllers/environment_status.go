package controllers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/translate"
)

// environmentObservation is what a reconcile found, the input of environmentStatus.
type environmentObservation struct {
	URL            string
	SigningKeyErr  error
	MissingSecrets []string
	RefusedSecrets []string
	// DatastoreProblem is why the PostgreSQL datastore's URL cannot be used.
	DatastoreProblem *translate.Problem
	// RefusedReplicas is spec.gateway.replicas when an SQLite datastore
	// holds the gateway to one replica; 0 otherwise.
	RefusedReplicas int32
	// DataClaimNotes say what of spec.datastore.sqlite the claim does not
	// follow (a smaller size, another class, a growth the API server
	// refused); they do not make the Environment unready.
	DataClaimNotes     []string
	SnapshotErr        *snapshotError
	Deployment         *appsv1.Deployment
	AppAPIs, Tokens    int32
	SnapshotGeneration int64
	ReconcileErr       error
}

// environmentStatus computes an Environment's status. Ready is True only when
// the gateway is available and serves the current snapshot with every secret.
func environmentStatus(old v1alpha1.EnvironmentStatus, env *v1alpha1.Environment, o environmentObservation) v1alpha1.EnvironmentStatus {
	st := *old.DeepCopy()
	generation := env.Generation
	st.URL = o.URL
	if o.ReconcileErr != nil {
		// Keep the last counts and generation: nothing new was learned.
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonReconcileFailed,
			"reconcile failed, retrying: "+o.ReconcileErr.Error())
		return st
	}
	st.AppAPIs, st.Tokens, st.SnapshotGeneration = o.AppAPIs, o.Tokens, o.SnapshotGeneration
	ready, reason, message := environmentReadiness(o)
	for _, note := range o.DataClaimNotes {
		message += "; " + note
	}
	setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, ready, reason, message)
	setStalled(&st.Conditions, generation, v1alpha1.EnvironmentStalledReasons, reason, message)
	// Written only after a reconcile without errors, so that kstatus reads
	// it as the controller having acted on this generation.
	st.ObservedGeneration = generation
	return st
}

func environmentReadiness(o environmentObservation) (bool, v1alpha1.Reason, string) {
	switch {
	case o.SigningKeyErr != nil:
		return false, v1alpha1.ReasonSigningKeyInvalid, o.SigningKeyErr.Error()
	case o.SnapshotErr != nil:
		return false, o.SnapshotErr.reason, "the gateway keeps serving the last published snapshot: " + o.SnapshotErr.Error()
	case len(o.RefusedSecrets) > 0:
		return false, v1alpha1.ReasonSecretNotAllowed,
			"spec.secrets: " + strings.Join(o.RefusedSecrets, ", ") + " lack the label " + v1alpha1.EnvironmentSecretLabel +
				"=true, by which a Secret's owner lets Environments read it; expressions that read them fail"
	case len(o.MissingSecrets) > 0:
		return false, v1alpha1.ReasonSecretNotFound,
			"spec.secrets: missing " + strings.Join(o.MissingSecrets, ", ") + "; expressions that read them fail"
	case o.DatastoreProblem != nil:
		return false, o.DatastoreProblem.Reason, o.DatastoreProblem.Message
	case o.RefusedReplicas > 1:
		return false, v1alpha1.ReasonEmbeddedDatastoreSingleReplica, fmt.Sprintf(
			"spec.gateway.replicas is %d, but spec.datastore.sqlite keeps the records in a file that one gateway process opens: "+
				"set spec.gateway.replicas to 1, or use spec.datastore.postgres to run several replicas; the gateway runs 1 replica meanwhile",
			o.RefusedReplicas)
	case o.Deployment == nil:
		return false, v1alpha1.ReasonProgressing, "creating the gateway Deployment"
	}
	d := o.Deployment
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if want == 0 {
		return true, v1alpha1.ReasonGatewayAvailable, fmt.Sprintf("snapshot generation %d published; the gateway is scaled to zero", o.SnapshotGeneration)
	}
	if d.Status.ObservedGeneration < d.Generation {
		return false, v1alpha1.ReasonProgressing, "the gateway Deployment is rolling out"
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true, v1alpha1.ReasonGatewayAvailable, fmt.Sprintf("snapshot generation %d published; %d of %d gateway replicas available",
				o.SnapshotGeneration, d.Status.AvailableReplicas, want)
		}
	}
	return false, v1alpha1.ReasonGatewayUnavailable, fmt.Sprintf("%d of %d gateway replicas available", d.Status.AvailableReplicas, want)
}
