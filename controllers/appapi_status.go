package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/appapi-dev/appapi/api/v1alpha1"
	"github.com/appapi-dev/appapi/internal/translate"
)

// appAPIObservation is what the EnvironmentReconciler found for one
// AppAPI, the input of appAPIStatus.
type appAPIObservation struct {
	// Verdict is the translator's on the AppAPI's current generation.
	Verdict translate.Verdict
	// Served is the generation the published snapshot serves, 0 for none.
	Served int64
	URL    string
}

// appAPIStatus computes an AppAPI's status from the translator's verdict on
// its current generation and the generation the published snapshot serves.
func appAPIStatus(old v1alpha1.AppAPIStatus, app *v1alpha1.AppAPI, o appAPIObservation) v1alpha1.AppAPIStatus {
	st := *old.DeepCopy()
	generation, verdict, served := app.Generation, o.Verdict, o.Served
	st.ObservedGeneration = generation
	st.ServedGeneration = served
	st.URL = o.URL
	setCondition(&st.Conditions, generation, v1alpha1.ConditionAccepted, verdict.Accepted, verdict.Reason, verdict.Message)
	setStalled(&st.Conditions, generation, v1alpha1.AppAPIStalledReasons, verdict.Reason, verdict.Message)
	switch {
	case served == generation && !verdict.Accepted:
		// Accepted earlier, refused now for something outside it (a token
		// in allowedTokens deleted since, say): still served, as it was.
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, true, v1alpha1.ReasonServed,
			fmt.Sprintf("the gateway's snapshot serves generation %d as accepted earlier; it would be refused now (%s)", served, verdict.Reason))
	case served == generation:
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, true, v1alpha1.ReasonServed,
			fmt.Sprintf("the gateway's snapshot serves generation %d", served))
	case served > 0:
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonServingPreviousGeneration,
			fmt.Sprintf("serving generation %d; generation %d is not accepted (%s)", served, generation, verdict.Reason))
	case verdict.Accepted:
		// Accepted but not published: the Environment's condition says why.
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonNotServed,
			"accepted, but the Environment has not published a snapshot with it; see the Environment's Ready condition")
	default:
		setCondition(&st.Conditions, generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonNotServed,
			fmt.Sprintf("no generation is served: %s", verdict.Reason))
	}
	return st
}

// updateAppAPIStatus writes an AppAPI's status when it changed, and records
// an event when a generation is refused.
func (r *EnvironmentReconciler) updateAppAPIStatus(ctx context.Context, app *v1alpha1.AppAPI, o appAPIObservation) error {
	next := appAPIStatus(app.Status, app, o)
	verdict := o.Verdict
	if sameAppAPIStatus(app.Status, next) {
		return nil
	}
	// app belongs to the informer cache (see snapshotInput): write a copy.
	app = app.DeepCopy()
	wasRefused := meta.IsStatusConditionFalse(app.Status.Conditions, v1alpha1.ConditionAccepted)
	oldReason := ""
	if c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionAccepted); c != nil {
		oldReason = c.Reason
	}
	patch := client.MergeFrom(app.DeepCopy())
	app.Status = next
	if err := r.Status().Patch(ctx, app, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !verdict.Accepted && (!wasRefused || oldReason != verdict.Reason) {
		r.Recorder.Eventf(app, nil, corev1.EventTypeWarning, verdict.Reason, "Reject", "generation %d refused: %s", app.Generation, verdict.Message)
	}
	return nil
}

// sameAppAPIStatus is equality.Semantic.DeepEqual for AppAPIStatus, written
// out: the Environment reconciler compares the status of each of its
// AppAPIs on every pass, and at 10,000 AppAPIs reflection made that a tenth
// of the manager's work. A test fails when either type gains a field.
func sameAppAPIStatus(a, b v1alpha1.AppAPIStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.URL == b.URL && a.ServedGeneration == b.ServedGeneration &&
		slices.EqualFunc(a.Conditions, b.Conditions, sameCondition)
}

func sameCondition(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.ObservedGeneration == b.ObservedGeneration &&
		a.LastTransitionTime.Equal(&b.LastTransitionTime) && a.Reason == b.Reason && a.Message == b.Message
}
