package v1alpha1

import (
	"reflect"
	"strings"
)

// stepOperationFields are the operation fields of Step: every pointer field,
// in declaration order. They are read off the type, so that a new operation
// cannot be missed here; tests check the CRD rule, the gateway and the docs
// against the same list.
var stepOperationFields = func() []reflect.StructField {
	var fields []reflect.StructField
	for f := range reflect.TypeFor[Step]().Fields() {
		if f.Type.Kind() == reflect.Pointer {
			fields = append(fields, f)
		}
	}
	return fields
}()

// StepOperations names every operation a step can set, by field name:
// http, transform, respond, ...
func StepOperations() []string {
	names := make([]string, len(stepOperationFields))
	for i, f := range stepOperationFields {
		names[i] = jsonName(f)
	}
	return names
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// Operations names the operations s sets, by field name; a valid step sets
// exactly one.
func (s *Step) Operations() []string {
	v := reflect.ValueOf(s).Elem()
	var ops []string
	for _, f := range stepOperationFields {
		if !v.FieldByIndex(f.Index).IsNil() {
			ops = append(ops, jsonName(f))
		}
	}
	return ops
}

// Operation is the name of the step's operation, or "" when it sets none.
func (s *Step) Operation() string {
	if ops := s.Operations(); len(ops) > 0 {
		return ops[0]
	}
	return ""
}
