package testutil

import "github.com/appapi-dev/appapi/api/v1alpha1"

// TransformStep is a step named name whose output is the CEL expression value.
func TransformStep(name, value string) v1alpha1.Step {
	return v1alpha1.Step{Name: name, Transform: &v1alpha1.TransformOperation{Value: value}}
}

// HTTPStep is a step named name that sends the request op describes.
func HTTPStep(name string, op v1alpha1.HTTPOperation) v1alpha1.Step {
	return v1alpha1.Step{Name: name, HTTP: &op}
}
