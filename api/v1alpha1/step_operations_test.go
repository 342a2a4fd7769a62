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
	// Every operation field of Step is in the list, by its JSON name: a new
	// operation must be added there too.
	all := &Step{}
	v := reflect.ValueOf(all).Elem()
	var want []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type.Kind() == reflect.Pointer {
			v.Field(i).Set(reflect.New(f.Type.Elem()))
			want = append(want, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	if got := all.Operations(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Operations() = %v, want every operation field %v", got, want)
	}
}
