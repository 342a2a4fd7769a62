package controllers

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/appapi-dev/appapi/api/v1alpha1"
)

// TestSameAppAPIStatusIsSemanticEquality: the written-out comparison agrees
// with equality.Semantic.DeepEqual when any one field differs, and treats
// times the way the API server's round trip leaves them (same instant,
// another location) as equal. It names the fields it compares, so a new
// field of either type fails here until the comparison covers it.
func TestSameAppAPIStatusIsSemanticEquality(t *testing.T) {
	if n := reflect.TypeFor[v1alpha1.AppAPIStatus]().NumField(); n != 4 {
		t.Fatalf("AppAPIStatus has %d fields; sameAppAPIStatus compares 4: compare the new one", n)
	}
	if n := reflect.TypeFor[metav1.Condition]().NumField(); n != 6 {
		t.Fatalf("metav1.Condition has %d fields; sameCondition compares 6: compare the new one", n)
	}
	at := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	base := func() v1alpha1.AppAPIStatus {
		return v1alpha1.AppAPIStatus{ObservedGeneration: 3, URL: "http://appapi-prod.shop.svc/orders", ServedGeneration: 2,
			Conditions: []metav1.Condition{
				{Type: "Accepted", Status: metav1.ConditionTrue, ObservedGeneration: 3, LastTransitionTime: metav1.NewTime(at), Reason: "Accepted", Message: "ok"},
				{Type: "Ready", Status: metav1.ConditionFalse, ObservedGeneration: 3, LastTransitionTime: metav1.NewTime(at), Reason: "NotServed", Message: "no"},
			}}
	}
	edits := map[string]func(*v1alpha1.AppAPIStatus){
		"nothing":            func(*v1alpha1.AppAPIStatus) {},
		"observedGeneration": func(s *v1alpha1.AppAPIStatus) { s.ObservedGeneration++ },
		"url":                func(s *v1alpha1.AppAPIStatus) { s.URL += "/" },
		"servedGeneration":   func(s *v1alpha1.AppAPIStatus) { s.ServedGeneration++ },
		"one condition less": func(s *v1alpha1.AppAPIStatus) { s.Conditions = s.Conditions[:1] },
		"no conditions":      func(s *v1alpha1.AppAPIStatus) { s.Conditions = nil },
		"condition type":     func(s *v1alpha1.AppAPIStatus) { s.Conditions[1].Type = "Stalled" },
		"condition status":   func(s *v1alpha1.AppAPIStatus) { s.Conditions[1].Status = metav1.ConditionTrue },
		"condition observedGeneration": func(s *v1alpha1.AppAPIStatus) {
			s.Conditions[0].ObservedGeneration = 2
		},
		"condition time": func(s *v1alpha1.AppAPIStatus) {
			s.Conditions[0].LastTransitionTime = metav1.NewTime(at.Add(time.Second))
		},
		"condition time in another location": func(s *v1alpha1.AppAPIStatus) {
			s.Conditions[0].LastTransitionTime = metav1.NewTime(at.In(time.FixedZone("CET", 3600)))
		},
		"condition reason":  func(s *v1alpha1.AppAPIStatus) { s.Conditions[0].Reason = "InvalidSpec" },
		"condition message": func(s *v1alpha1.AppAPIStatus) { s.Conditions[0].Message = "not ok" },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			a, b := base(), base()
			edit(&b)
			want := equality.Semantic.DeepEqual(a, b)
			if got := sameAppAPIStatus(a, b); got != want {
				t.Errorf("sameAppAPIStatus = %v, equality.Semantic.DeepEqual = %v", got, want)
			}
			if name != "nothing" && name != "condition time in another location" && want {
				t.Errorf("the edit %q changed nothing the comparison can see", name)
			}
		})
	}
}
