package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
