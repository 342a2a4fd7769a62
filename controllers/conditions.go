package controllers

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// maxConditionMessage keeps messages readable in kubectl and well inside
// the API's 32 KiB limit; compiler errors can be long.
const maxConditionMessage = 2048

// setCondition sets one condition for generation, keeping its transition
// time when its status does not change.
func setCondition(conditions *[]metav1.Condition, generation int64, typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	if len(message) > maxConditionMessage {
		message = message[:maxConditionMessage-3] + "..."
	}
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type: typ, Status: status, ObservedGeneration: generation, Reason: reason, Message: message,
	})
}

// setStalled adds the Stalled condition when reason is one of the kind's
// stalledReasons, and removes it otherwise: it is present only while True,
// as kstatus expects of abnormal-true conditions.
func setStalled(conditions *[]metav1.Condition, generation int64, stalledReasons []v1alpha1.Reason, reason, message string) {
	if !slices.Contains(stalledReasons, reason) {
		meta.RemoveStatusCondition(conditions, v1alpha1.ConditionStalled)
		return
	}
	setCondition(conditions, generation, v1alpha1.ConditionStalled, true, reason, message)
}
