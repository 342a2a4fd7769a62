package v1alpha1

import (
	"reflect"
	"strings"
	"testing"
)

func TestStepOperations(t *testing.T) {
	if ops := (&Step{}).Operations(); len(ops) != 0 || (&Step{}).Operation() != "" {
		t.Fatalf("an empty step has operations %v", ops)
	}
	two := &Step{HTTP: &HTTPOperation{}, Wait: &WaitOperation{}}
	if ops := two.Operations(); strings.Join(ops, ",") != "http,wait" || two.Operation() != "http" {
		t.Fatalf("Operations() = %v, Operation() = %q", ops, two.Operation())
	}
	one := &Step{XMLToJSON: &XMLToJSONOperation{}}
	if one.Operation() != "xmlToJson" {
		t.Fatalf("Operation() = %q, want the JSON field name xmlToJson", one.Operation())
	}
}

// TestStepPointerFieldsAreOperations: StepOperations counts every pointer
// field of Step as an operation, so a pointer field that is not one (an
// optional setting, say) would wrongly make every step that sets it invalid.
func TestStepPointerFieldsAreOperations(t *testing.T) {
	for f := range reflect.TypeFor[Step]().Fields() {
		if f.Type.Kind() == reflect.Pointer && !strings.HasSuffix(f.Type.Elem().Name(), "Operation") {
			t.Errorf("Step.%s is a pointer to %s, which is not an operation: make it a value field, or rename the type",
				f.Name, f.Type.Elem().Name())
		}
	}
}
